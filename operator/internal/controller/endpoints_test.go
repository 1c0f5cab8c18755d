package controller

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func servingPod(name, ip string, phase corev1.PodPhase, ready, terminating bool) corev1.Pod {
	p := pod(name, phase, terminating)
	p.Status.PodIP = ip
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	return p
}

func TestPodEndpoints(t *testing.T) {
	tests := []struct {
		name string
		pods []corev1.Pod
		want []string
	}{
		{name: "no pods", want: nil},
		{name: "ready pods, sorted by address", pods: []corev1.Pod{
			servingPod("c", "10.0.0.3", corev1.PodRunning, true, false),
			servingPod("a", "10.0.0.12", corev1.PodRunning, true, false),
			servingPod("b", "10.0.0.2", corev1.PodRunning, true, false),
		}, want: []string{"10.0.0.12:11211", "10.0.0.2:11211", "10.0.0.3:11211"}},
		{name: "not ready, no IP yet, terminating, finished: left out", pods: []corev1.Pod{
			servingPod("ready", "10.0.0.1", corev1.PodRunning, true, false),
			servingPod("not-ready", "10.0.0.2", corev1.PodRunning, false, false),
			servingPod("no-ip", "", corev1.PodRunning, true, false),
			servingPod("pending", "10.0.0.3", corev1.PodPending, false, false),
			servingPod("terminating", "10.0.0.4", corev1.PodRunning, true, true),
			servingPod("failed", "10.0.0.5", corev1.PodFailed, false, false),
			pod("no-conditions", corev1.PodRunning, false),
		}, want: []string{"10.0.0.1:11211"}},
		{name: "IPv6 in brackets", pods: []corev1.Pod{
			servingPod("v6", "fd00::a", corev1.PodRunning, true, false),
		}, want: []string{"[fd00::a]:11211"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podEndpoints(tt.pods); !slices.Equal(got, tt.want) {
				t.Errorf("podEndpoints = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestComputeStatusEndpoints(t *testing.T) {
	m := memcached(2, "")
	obs := observed{
		deployment: deploymentStatus(2, 2, 2, 2, 1, 1),
		pods: []corev1.Pod{
			servingPod("memcached-sample-a", "10.0.0.7", corev1.PodRunning, true, false),
			servingPod("memcached-sample-b", "10.0.0.8", corev1.PodRunning, false, false),
		},
	}
	status := computeStatus(m, obs, metav1.NewTime(time.Unix(100, 0)))
	if !slices.Equal(status.Endpoints, []string{"10.0.0.7:11211"}) {
		t.Errorf("status.endpoints = %v, want the ready pod only", status.Endpoints)
	}
	if !slices.Equal(status.Nodes, []string{"memcached-sample-a", "memcached-sample-b"}) {
		t.Errorf("status.nodes = %v, want both pods", status.Nodes)
	}
}
