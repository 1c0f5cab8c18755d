package controller

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// gauge returns the value of the metric name with the labels of key in
// controller-runtime's registry, and whether it exists.
func gauge(t *testing.T, name string, key types.NamespacedName) (float64, bool) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelValue(m, "namespace") == key.Namespace && labelValue(m, "name") == key.Name {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestReplicaGauges(t *testing.T) {
	key := types.NamespacedName{Namespace: "metrics-test", Name: "cache"}
	other := types.NamespacedName{Namespace: "metrics-test", Name: "other"}
	recordReplicas(key, 3, 2)
	recordReplicas(other, 1, 1)
	for name, want := range map[string]float64{
		"memcached_operator_desired_replicas": 3,
		"memcached_operator_ready_replicas":   2,
	} {
		if got, ok := gauge(t, name, key); !ok || got != want {
			t.Errorf("%s{%s} = %v (present %v), want %v", name, key, got, ok, want)
		}
	}
	recordReplicas(key, 5, 3)
	if got, _ := gauge(t, "memcached_operator_desired_replicas", key); got != 5 {
		t.Errorf("desired replicas = %v after a resize, want 5", got)
	}

	forgetReplicas(key)
	for _, name := range []string{"memcached_operator_desired_replicas", "memcached_operator_ready_replicas"} {
		if _, ok := gauge(t, name, key); ok {
			t.Errorf("%s{%s} still reported after the Memcached was deleted", name, key)
		}
		if _, ok := gauge(t, name, other); !ok {
			t.Errorf("%s{%s} of another Memcached was deleted too", name, other)
		}
	}
	forgetReplicas(other)
}
