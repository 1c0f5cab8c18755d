package envtest_test

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// replicaGauges reads memcached_operator_desired_replicas and
// memcached_operator_ready_replicas of key from controller-runtime's
// registry, which the manager serves on its metrics endpoint; absent
// gauges read -1.
func replicaGauges(key types.NamespacedName) (desired, ready float64, err error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0, 0, err
	}
	desired, ready = -1, -1
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var ns, name string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "namespace":
					ns = l.GetValue()
				case "name":
					name = l.GetValue()
				}
			}
			if ns != key.Namespace || name != key.Name {
				continue
			}
			switch f.GetName() {
			case "memcached_operator_desired_replicas":
				desired = m.GetGauge().GetValue()
			case "memcached_operator_ready_replicas":
				ready = m.GetGauge().GetValue()
			}
		}
	}
	return desired, ready, nil
}

func wantGauges(key types.NamespacedName, desired, ready float64) func() error {
	return func() error {
		d, r, err := replicaGauges(key)
		if err != nil {
			return err
		}
		if d != desired || r != ready {
			return fmt.Errorf("desired %v, ready %v; want %v and %v", d, r, desired, ready)
		}
		return nil
	}
}

// TestReplicaMetrics follows a Memcached's per-CR gauges from creation to
// deletion.
func TestReplicaMetrics(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	waitForDeployment(t, key, "created", nil)
	eventually(t, "gauges of a new Memcached", wantGauges(key, 3, 0))

	updateDeployment(t, key, true, func(d *appsv1.Deployment) { d.Status = readyStatus(d, 3) })
	eventually(t, "gauges of a ready Memcached", wantGauges(key, 3, 3))

	updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = 5 })
	eventually(t, "gauges after a resize", wantGauges(key, 5, 3))

	if err := k8sClient.Delete(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gauges gone with the Memcached", wantGauges(key, -1, -1))
}
