package controller

import (
	"errors"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func pod(name string, phase corev1.PodPhase, terminating bool) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase}}
	if terminating {
		p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	}
	return p
}

func deploymentStatus(generation, observed int64, replicas, updated, ready, available int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "memcached-sample", Generation: generation},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed,
			Replicas:           replicas,
			UpdatedReplicas:    updated,
			ReadyReplicas:      ready,
			AvailableReplicas:  available,
		},
	}
}

func TestPodNames(t *testing.T) {
	pods := []corev1.Pod{
		pod("c", corev1.PodRunning, false),
		pod("a", corev1.PodPending, false),
		pod("b", corev1.PodRunning, true),
		pod("d", corev1.PodFailed, false),
		pod("e", corev1.PodSucceeded, false),
		pod("f", corev1.PodRunning, false),
	}
	if got, want := podNames(pods), []string{"a", "c", "f"}; !slices.Equal(got, want) {
		t.Errorf("podNames = %v, want %v", got, want)
	}
	if got := podNames(nil); got != nil {
		t.Errorf("podNames(nil) = %v, want nil", got)
	}
}

type wantCondition struct {
	status metav1.ConditionStatus
	reason string
}

func TestComputeStatusConditions(t *testing.T) {
	stalled := deploymentStatus(2, 2, 3, 1, 1, 1)
	stalled.Status.Conditions = []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
	}}
	tests := []struct {
		name                             string
		size                             int32
		obs                              observed
		available, progressing, degraded wantCondition
		ready                            int32
	}{
		{
			name:        "deployment not created yet",
			size:        3,
			obs:         observed{},
			available:   wantCondition{metav1.ConditionFalse, cachev1.ReasonDeploymentMissing},
			progressing: wantCondition{metav1.ConditionTrue, cachev1.ReasonRollingOut},
			degraded:    wantCondition{metav1.ConditionFalse, cachev1.ReasonAsExpected},
		},
		{
			name:        "creating failed",
			size:        3,
			obs:         observed{failures: []failure{{verb: "create", kind: "Deployment", name: "memcached-sample", err: errors.New("forbidden")}}},
			available:   wantCondition{metav1.ConditionFalse, cachev1.ReasonDeploymentMissing},
			progressing: wantCondition{metav1.ConditionTrue, cachev1.ReasonRollingOut},
			degraded:    wantCondition{metav1.ConditionTrue, cachev1.ReasonReconcileFailed},
		},
		{
			name: "deployment not owned",
			size: 3,
			obs: observed{notOwned: []objectRef{{kind: "Deployment", object: &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "memcached-sample"},
			}}}},
			available:   wantCondition{metav1.ConditionFalse, cachev1.ReasonDeploymentNotOwned},
			progressing: wantCondition{metav1.ConditionTrue, cachev1.ReasonRollingOut},
			degraded:    wantCondition{metav1.ConditionTrue, cachev1.ReasonReconcileFailed},
		},
		{
			name:        "scaling up",
			size:        5,
			obs:         observed{deployment: deploymentStatus(3, 3, 5, 5, 3, 3)},
			available:   wantCondition{metav1.ConditionFalse, cachev1.ReasonReplicasNotReady},
			progressing: wantCondition{metav1.ConditionTrue, cachev1.ReasonRollingOut},
			degraded:    wantCondition{metav1.ConditionFalse, cachev1.ReasonAsExpected},
			ready:       3,
		},
		{
			name:        "new spec not yet seen by the deployment controller",
			size:        3,
			obs:         observed{deployment: deploymentStatus(4, 3, 3, 3, 3, 3)},
			available:   wantCondition{metav1.ConditionTrue, cachev1.ReasonAllReplicasReady},
			progressing: wantCondition{metav1.ConditionTrue, cachev1.ReasonRollingOut},
			degraded:    wantCondition{metav1.ConditionFalse, cachev1.ReasonAsExpected},
			ready:       3,
		},
		{
			name:        "all ready",
			size:        3,
			obs:         observed{deployment: deploymentStatus(2, 2, 3, 3, 3, 3)},
			available:   wantCondition{metav1.ConditionTrue, cachev1.ReasonAllReplicasReady},
			progressing: wantCondition{metav1.ConditionFalse, cachev1.ReasonRolloutComplete},
			degraded:    wantCondition{metav1.ConditionFalse, cachev1.ReasonAsExpected},
			ready:       3,
		},
		{
			name:        "scaled to zero",
			size:        0,
			obs:         observed{deployment: deploymentStatus(2, 2, 0, 0, 0, 0)},
			available:   wantCondition{metav1.ConditionTrue, cachev1.ReasonScaledToZero},
			progressing: wantCondition{metav1.ConditionFalse, cachev1.ReasonRolloutComplete},
			degraded:    wantCondition{metav1.ConditionFalse, cachev1.ReasonAsExpected},
		},
		{
			name:        "progress deadline exceeded",
			size:        3,
			obs:         observed{deployment: stalled},
			available:   wantCondition{metav1.ConditionFalse, cachev1.ReasonReplicasNotReady},
			progressing: wantCondition{metav1.ConditionFalse, cachev1.ReasonProgressDeadlineExceeded},
			degraded:    wantCondition{metav1.ConditionTrue, cachev1.ReasonProgressDeadlineExceeded},
			ready:       1,
		},
	}
	now := metav1.NewTime(time.Unix(1000, 0))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memcached(tt.size, "")
			status := computeStatus(m, tt.obs, now)
			for condType, want := range map[string]wantCondition{
				cachev1.ConditionAvailable:   tt.available,
				cachev1.ConditionProgressing: tt.progressing,
				cachev1.ConditionDegraded:    tt.degraded,
			} {
				c := meta.FindStatusCondition(status.Conditions, condType)
				if c == nil {
					t.Fatalf("no %s condition", condType)
				}
				if c.Status != want.status || c.Reason != want.reason {
					t.Errorf("%s = %s/%s, want %s/%s (%s)", condType, c.Status, c.Reason, want.status, want.reason, c.Message)
				}
				if c.ObservedGeneration != m.Generation {
					t.Errorf("%s observedGeneration = %d, want %d", condType, c.ObservedGeneration, m.Generation)
				}
			}
			if status.ReadyReplicas != tt.ready {
				t.Errorf("readyReplicas = %d, want %d", status.ReadyReplicas, tt.ready)
			}
			if status.ObservedGeneration != m.Generation {
				t.Errorf("observedGeneration = %d, want %d", status.ObservedGeneration, m.Generation)
			}
		})
	}
}

// An unchanged world must produce an unchanged status, or every reconcile
// would write one.
func TestComputeStatusIsStable(t *testing.T) {
	m := memcached(3, "")
	obs := observed{
		deployment: deploymentStatus(2, 2, 3, 3, 3, 3),
		pods:       []corev1.Pod{pod("b", corev1.PodRunning, false), pod("a", corev1.PodRunning, false)},
	}
	m.Status = computeStatus(m, obs, metav1.NewTime(time.Unix(1000, 0)))
	again := computeStatus(m, obs, metav1.NewTime(time.Unix(2000, 0)))
	if !equality.Semantic.DeepEqual(m.Status, again) {
		t.Errorf("status changed although nothing did:\n%+v\n%+v", m.Status, again)
	}
	if !slices.Equal(again.Nodes, []string{"a", "b"}) {
		t.Errorf("nodes = %v, want [a b]", again.Nodes)
	}
}

func TestComputeStatusKeepsTransitionTimeUntilStatusChanges(t *testing.T) {
	m := memcached(3, "")
	t1, t2 := metav1.NewTime(time.Unix(1000, 0)), metav1.NewTime(time.Unix(2000, 0))
	m.Status = computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 2, 2)}, t1)
	m.Status = computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 2, 2)}, t2)
	if c := meta.FindStatusCondition(m.Status.Conditions, cachev1.ConditionAvailable); !c.LastTransitionTime.Equal(&t1) {
		t.Errorf("Available moved its transition time without a transition: %v", c.LastTransitionTime)
	}
	m.Status = computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 3, 3)}, t2)
	if c := meta.FindStatusCondition(m.Status.Conditions, cachev1.ConditionAvailable); c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Equal(&t2) {
		t.Errorf("Available = %s at %v, want True at %v", c.Status, c.LastTransitionTime, t2)
	}
}
