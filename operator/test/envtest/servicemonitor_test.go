package envtest_test

import (
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
	"github.com/example-inc/memcached-operator/operator/internal/platform"
)

// serviceMonitorCRD is a minimal CustomResourceDefinition of the Prometheus
// Operator's ServiceMonitor: enough for the API server to serve the kind,
// with no schema beyond an object.
func serviceMonitorCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"scope": "Namespaced",
			"names": map[string]any{
				"kind":     "ServiceMonitor",
				"listKind": "ServiceMonitorList",
				"plural":   "servicemonitors",
				"singular": "servicemonitor",
			},
			"versions": []any{map[string]any{
				"name":    "v1",
				"served":  true,
				"storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type":                                 "object",
					"x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
}

func newServiceMonitor() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(controller.ServiceMonitorGVK)
	return u
}

// hasServiceMonitors asks the API server, as cmd/main.go does at start.
func hasServiceMonitors(t *testing.T) bool {
	t.Helper()
	has, err := platform.HasServiceMonitors(discovery.NewDiscoveryClientForConfigOrDie(restConfig))
	if err != nil {
		t.Fatalf("discovering ServiceMonitors: %v", err)
	}
	return has
}

func exporterContainer(d *appsv1.Deployment) *corev1.Container {
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "exporter" {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// scrapesMetrics checks a ServiceMonitor's endpoint and selector.
func scrapesMetrics(memcachedName string) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		endpoints, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
		if len(endpoints) != 1 {
			return fmt.Errorf("endpoints %v, want one", endpoints)
		}
		if ep, _ := endpoints[0].(map[string]any); ep["port"] != "metrics" {
			return fmt.Errorf("endpoint %v, want port metrics", endpoints[0])
		}
		selector, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
		if selector[controller.InstanceLabel] != memcachedName || selector[controller.NameLabel] != controller.AppName {
			return fmt.Errorf("selector %v, want the Services of %s", selector, memcachedName)
		}
		return nil
	}
}

// TestServiceMonitor runs a Memcached with monitoring on a cluster without
// the ServiceMonitor API and then, once its CRD is installed, on one with
// it. The steps share the CRD and run in order.
func TestServiceMonitor(t *testing.T) {
	t.Parallel()
	if hasServiceMonitors(t) {
		t.Fatal("the test API server already serves ServiceMonitors: this test installs and removes their CRD itself")
	}

	t.Run("API absent", func(t *testing.T) {
		ns := newNamespace(t)
		op := startOperatorWith(t, []string{ns}, defaultOperand(), hasServiceMonitors(t))
		m := newMemcached(t, ns, "cache", 2, "")
		updateMemcached(t, keyOf(m), func(m *cachev1.Memcached) {
			m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true, ExporterImage: "mirror.example.com/exporter:1"}
		})
		d := waitForDeployment(t, keyOf(m), "exporter sidecar", func(d *appsv1.Deployment) error {
			if e := exporterContainer(d); e == nil || e.Image != "mirror.example.com/exporter:1" {
				return fmt.Errorf("containers %v, want an exporter running mirror.example.com/exporter:1", d.Spec.Template.Spec.Containers)
			}
			return nil
		})
		waitForObject(t, keyOf(m), newService, "metrics port", servicePorts("memcached", "metrics"))
		waitForMemcached(t, keyOf(m), "not degraded", func(got *cachev1.Memcached) error {
			if got.Generation < 2 {
				return fmt.Errorf("generation %d, want the monitoring update", got.Generation)
			}
			return checkConditions(got, wantCondition{cachev1.ConditionDegraded, "False", cachev1.ReasonAsExpected})
		})
		// The pods of the template with the exporter pass the namespace's
		// restricted Pod Security Standard.
		if err := k8sClient.Create(t.Context(), podFromTemplate(d, "pss-check"), client.DryRunAll); err != nil {
			t.Errorf("a pod with the exporter is refused: %v", err)
		}
		waitForQuiet(t, op)
		for _, c := range op.calls.snapshot() {
			if c.kind == "Unstructured" || c.kind == "UnstructuredList" {
				t.Errorf("the operator called %s without the ServiceMonitor API", c)
			}
			if c.err != nil && !apierrors.IsNotFound(c.err) {
				t.Errorf("the operator's call %s failed", c)
			}
		}
	})

	// Install the CRD; remove it when the test ends, after the operator
	// that watches ServiceMonitors stopped (cleanups run last first).
	crd := serviceMonitorCRD()
	if err := k8sClient.Create(t.Context(), crd); err != nil {
		t.Fatalf("creating the ServiceMonitor CRD: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := k8sClient.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting the ServiceMonitor CRD: %v", err)
		}
	})
	eventually(t, "the ServiceMonitor API to be served", func() error {
		if !hasServiceMonitors(t) {
			return fmt.Errorf("not discovered yet")
		}
		return nil
	})

	t.Run("API present", func(t *testing.T) {
		ns := newNamespace(t)
		op := startOperatorWith(t, []string{ns}, defaultOperand(), hasServiceMonitors(t))
		plain := newMemcached(t, ns, "plain", 2, "")
		m := newMemcached(t, ns, "cache", 2, "")
		m = updateMemcached(t, keyOf(m), func(m *cachev1.Memcached) { m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true} })
		key := keyOf(m)

		sm := waitForObject(t, key, newServiceMonitor, "created", scrapesMetrics("cache"))
		if err := checkControlledBy(sm, m); err != nil {
			t.Error(err)
		}
		if sm.GetLabels()[controller.ManagedByLabel] != controller.ManagerName {
			t.Errorf("labels %v, want %s=%s", sm.GetLabels(), controller.ManagedByLabel, controller.ManagerName)
		}
		waitForEvent(t, m, corev1.EventTypeNormal, controller.EventServiceMonitorCreated, "Created ServiceMonitor cache")
		waitForQuiet(t, op) // no update loop over what the API server stored
		if err := k8sClient.Get(t.Context(), keyOf(plain), newServiceMonitor()); !apierrors.IsNotFound(err) {
			t.Errorf("a Memcached without monitoring: got %v, want no ServiceMonitor", err)
		}

		t.Run("deleted", func(t *testing.T) {
			old := waitForObject(t, key, newServiceMonitor, "exists", nil)
			if err := k8sClient.Delete(t.Context(), old); err != nil {
				t.Fatal(err)
			}
			waitForObject(t, key, newServiceMonitor, "recreated", func(u *unstructured.Unstructured) error {
				if u.GetUID() == old.GetUID() {
					return fmt.Errorf("still the deleted one")
				}
				return scrapesMetrics("cache")(u)
			})
		})

		t.Run("edited", func(t *testing.T) {
			old := waitForObject(t, key, newServiceMonitor, "exists", nil)
			edited := old.DeepCopy()
			if err := unstructured.SetNestedSlice(edited.Object, []any{map[string]any{"port": "memcached"}}, "spec", "endpoints"); err != nil {
				t.Fatal(err)
			}
			if err := k8sClient.Update(t.Context(), edited); err != nil {
				t.Fatal(err)
			}
			waitForObject(t, key, newServiceMonitor, "restored", func(u *unstructured.Unstructured) error {
				if u.GetUID() != old.GetUID() {
					return fmt.Errorf("replaced, want it updated in place")
				}
				return scrapesMetrics("cache")(u)
			})
		})

		t.Run("monitoring disabled", func(t *testing.T) {
			updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Monitoring.Enabled = false })
			waitForGone(t, key, newServiceMonitor(), "deleted")
			waitForDeployment(t, key, "exporter removed", func(d *appsv1.Deployment) error {
				if names := containerNames(d.Spec.Template.Spec.Containers); !slices.Equal(names, []string{"memcached"}) {
					return fmt.Errorf("containers %v", names)
				}
				return nil
			})
			waitForObject(t, key, newService, "metrics port removed", servicePorts("memcached"))
		})

		t.Run("monitoring enabled again", func(t *testing.T) {
			updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Monitoring.Enabled = true })
			waitForObject(t, key, newServiceMonitor, "created again", scrapesMetrics("cache"))
		})
	})

	// Keep the cluster as other runs of this test expect it.
	if err := k8sClient.Delete(t.Context(), crd); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	eventually(t, "the ServiceMonitor CRD to be gone", func() error {
		err := k8sClient.Get(t.Context(), types.NamespacedName{Name: crd.GetName()}, serviceMonitorCRD())
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}
