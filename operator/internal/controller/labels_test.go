package controller

import (
	"context"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func labelsOf(m map[string]string) labels.Set { return labels.Set(m) }

func TestPodToMemcached(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"memcached pod", objectLabels("cache-a"), "cache-a"},
		{"no instance", map[string]string{NameLabel: AppName, ManagedByLabel: ManagerName}, ""},
		{"another app", map[string]string{NameLabel: "redis", InstanceLabel: "x", ManagedByLabel: ManagerName}, ""},
		{"not managed", map[string]string{NameLabel: AppName, InstanceLabel: "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: tt.labels}}
			reqs := podToMemcached(context.Background(), pod)
			switch {
			case tt.want == "" && len(reqs) != 0:
				t.Errorf("got %v, want no request", reqs)
			case tt.want != "" && (len(reqs) != 1 || reqs[0].Name != tt.want || reqs[0].Namespace != "ns"):
				t.Errorf("got %v, want ns/%s", reqs, tt.want)
			}
		})
	}
}

// kindOf is the kind of a typed or unstructured object.
func kindOf(o client.Object) string {
	if u, ok := o.(*unstructured.Unstructured); ok {
		return u.GetKind()
	}
	return reflect.TypeOf(o).Elem().Name()
}

func TestCachedObjects(t *testing.T) {
	kinds := func(serviceMonitors, prometheusRules bool) []string {
		var out []string
		for _, o := range CachedObjects(serviceMonitors, prometheusRules) {
			out = append(out, kindOf(o))
		}
		return out
	}
	want := []string{"Deployment", "Pod", "Service", "PodDisruptionBudget"}
	if got := kinds(false, false); !slices.Equal(got, want) {
		t.Errorf("without the monitoring APIs: %v, want %v", got, want)
	}
	if got := kinds(true, false); !slices.Equal(got, append(slices.Clone(want), "ServiceMonitor")) {
		t.Errorf("with ServiceMonitors: %v, want %v and ServiceMonitor", got, want)
	}
	if got := kinds(true, true); !slices.Equal(got, append(slices.Clone(want), "ServiceMonitor", "PrometheusRule")) {
		t.Errorf("with both: %v, want %v, ServiceMonitor and PrometheusRule", got, want)
	}
}
