package envtest_test

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

func newService() *corev1.Service { return &corev1.Service{} }

// servicePorts checks that a Service has exactly the named ports, each
// targeting the container port of the same name.
func servicePorts(names ...string) func(*corev1.Service) error {
	return func(s *corev1.Service) error {
		var got []string
		for _, p := range s.Spec.Ports {
			got = append(got, p.Name)
			if p.TargetPort != intstr.FromString(p.Name) || p.Protocol != corev1.ProtocolTCP {
				return fmt.Errorf("port %s targets %s/%s, want the container port %s over TCP", p.Name, p.TargetPort.String(), p.Protocol, p.Name)
			}
		}
		if !slices.Equal(got, names) {
			return fmt.Errorf("ports %v, want %v", got, names)
		}
		return nil
	}
}

// TestServices checks the ClusterIP and headless Services of a Memcached,
// that they follow spec.monitoring, and that the operator restores them
// when they are deleted or edited.
func TestServices(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	clusterIPKey := types.NamespacedName{Namespace: ns, Name: "cache"}
	headlessKey := types.NamespacedName{Namespace: ns, Name: "cache-headless"}

	clusterIP := waitForObject(t, clusterIPKey, newService, "created", servicePorts("memcached"))
	headless := waitForObject(t, headlessKey, newService, "created", servicePorts("memcached"))
	wantSelector := map[string]string{controller.NameLabel: controller.AppName, controller.InstanceLabel: "cache"}
	for _, s := range []*corev1.Service{clusterIP, headless} {
		if err := checkControlledBy(s, m); err != nil {
			t.Errorf("service %s: %v", s.Name, err)
		}
		if s.Labels[controller.ManagedByLabel] != controller.ManagerName {
			t.Errorf("service %s labels %v, want %s=%s", s.Name, s.Labels, controller.ManagedByLabel, controller.ManagerName)
		}
		if !slices.Equal(sortedKeys(s.Spec.Selector), sortedKeys(wantSelector)) || s.Spec.Selector[controller.InstanceLabel] != "cache" {
			t.Errorf("service %s selector %v, want %v", s.Name, s.Spec.Selector, wantSelector)
		}
		if s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("service %s type %s, want ClusterIP", s.Name, s.Spec.Type)
		}
	}
	if clusterIP.Spec.ClusterIP == "" || clusterIP.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("service cache has clusterIP %q, want an allocated address", clusterIP.Spec.ClusterIP)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("service cache-headless has clusterIP %q, want None", headless.Spec.ClusterIP)
	}
	waitForEvent(t, m, corev1.EventTypeNormal, controller.EventServiceCreated, "Created Service cache-headless")

	t.Run("metrics port follows monitoring", func(t *testing.T) {
		updateMemcached(t, keyOf(m), func(m *cachev1.Memcached) { m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true} })
		waitForObject(t, clusterIPKey, newService, "metrics port added", servicePorts("memcached", "metrics"))
		updateMemcached(t, keyOf(m), func(m *cachev1.Memcached) { m.Spec.Monitoring.Enabled = false })
		waitForObject(t, clusterIPKey, newService, "metrics port removed", servicePorts("memcached"))
		if err := servicePorts("memcached")(currentService(t, headlessKey)); err != nil {
			t.Errorf("headless service: %v", err)
		}
	})

	for _, key := range []types.NamespacedName{clusterIPKey, headlessKey} {
		t.Run("deleted "+key.Name, func(t *testing.T) {
			old := currentService(t, key)
			if err := k8sClient.Delete(t.Context(), old); err != nil {
				t.Fatal(err)
			}
			s := waitForObject(t, key, newService, "recreated", func(s *corev1.Service) error {
				if s.UID == old.UID {
					return fmt.Errorf("still the deleted service %s", s.UID)
				}
				return servicePorts("memcached")(s)
			})
			if err := checkControlledBy(s, m); err != nil {
				t.Error(err)
			}
		})

		t.Run("edited "+key.Name, func(t *testing.T) {
			old := currentService(t, key)
			edited := old.DeepCopy()
			edited.Spec.Ports[0].Port = 11299
			edited.Spec.Selector = map[string]string{"app": "someone-else"}
			if err := k8sClient.Update(t.Context(), edited); err != nil {
				t.Fatal(err)
			}
			waitForObject(t, key, newService, "restored", func(s *corev1.Service) error {
				if s.UID != old.UID {
					return fmt.Errorf("replaced (uid %s, was %s), want it updated in place", s.UID, old.UID)
				}
				if s.Spec.Ports[0].Port != 11211 || s.Spec.Selector[controller.InstanceLabel] != "cache" {
					return fmt.Errorf("port %d, selector %v", s.Spec.Ports[0].Port, s.Spec.Selector)
				}
				return nil
			})
		})
	}
}

func currentService(t *testing.T, key types.NamespacedName) *corev1.Service {
	t.Helper()
	s := &corev1.Service{}
	if err := k8sClient.Get(t.Context(), key, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
