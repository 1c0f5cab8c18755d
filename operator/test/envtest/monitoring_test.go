package envtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// monitoringCRD is a minimal CustomResourceDefinition of one of the
// Prometheus Operator's kinds: enough for the API server to serve it, with
// no schema beyond an object.
func monitoringCRD(kind, plural string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + ".monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"scope": "Namespaced",
			"names": map[string]any{
				"kind":     kind,
				"listKind": kind + "List",
				"plural":   plural,
				"singular": strings.ToLower(kind),
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

func monitoringCRDs() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{monitoringCRD("ServiceMonitor", "servicemonitors"), monitoringCRD("PrometheusRule", "prometheusrules")}
}

func newServiceMonitor() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(controller.ServiceMonitorGVK)
	return u
}

func newPrometheusRule() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(controller.PrometheusRuleGVK)
	return u
}

// discoverMonitoring asks the API server, as cmd/main.go does at start.
func discoverMonitoring(t *testing.T) platform.MonitoringAPIs {
	t.Helper()
	apis, err := platform.DiscoverMonitoring(discovery.NewDiscoveryClientForConfigOrDie(restConfig))
	if err != nil {
		t.Fatalf("discovering the monitoring APIs: %v", err)
	}
	return apis
}

// alertsOf checks a PrometheusRule's alerts: every one the operator
// defines, each selecting the series of memcachedName's Service.
func alertsOf(namespace, memcachedName string) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		groups, _, _ := unstructured.NestedSlice(u.Object, "spec", "groups")
		if len(groups) != 1 {
			return fmt.Errorf("groups %v, want one", groups)
		}
		rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
		var alerts []string
		for _, r := range rules {
			rule := r.(map[string]any)
			alerts = append(alerts, fmt.Sprint(rule["alert"]))
			if want := fmt.Sprintf(`namespace=%q,service=%q`, namespace, memcachedName); !strings.Contains(fmt.Sprint(rule["expr"]), want) {
				return fmt.Errorf("alert %v: expr %q does not select %s", rule["alert"], rule["expr"], want)
			}
		}
		want := []string{controller.AlertMemcachedDown, controller.AlertMemcachedTargetDown, controller.AlertMemcachedConnectionsNearLimit, controller.AlertMemcachedEvicting}
		if !slices.Equal(alerts, want) {
			return fmt.Errorf("alerts %v, want %v", alerts, want)
		}
		return nil
	}
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

// TestMonitoring runs a Memcached with monitoring on a cluster without the
// Prometheus Operator's APIs and then, once their CRDs are installed, on one
// with them: a ServiceMonitor and a PrometheusRule. The steps share the CRDs
// and run in order.
func TestMonitoring(t *testing.T) {
	t.Parallel()
	absent := discoverMonitoring(t)
	if absent.ServiceMonitors || absent.PrometheusRules {
		t.Fatal("the test API server already serves the monitoring APIs: this test installs and removes their CRDs itself")
	}

	t.Run("API absent", func(t *testing.T) {
		ns := newNamespace(t)
		op := startOperatorWith(t, []string{ns}, defaultOperand(), discoverMonitoring(t))
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
				t.Errorf("the operator called %s without the monitoring APIs", c)
			}
			if c.err != nil && !apierrors.IsNotFound(c.err) {
				t.Errorf("the operator's call %s failed", c)
			}
		}
	})

	// The operator started without the APIs asks again every minute (here
	// every 100 ms) and ends its manager when they appear.
	watchCtx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	watchDone := make(chan error, 1)
	go func() {
		w := &platform.MonitoringWatch{Discovery: discovery.NewDiscoveryClientForConfigOrDie(restConfig), Started: absent, Interval: 100 * time.Millisecond}
		watchDone <- w.Start(watchCtx)
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-watchDone:
		t.Fatalf("the watch ended while nothing changed: %v", err)
	default:
	}

	// Install the CRDs; remove them when the test ends, after the operator
	// that watches their kinds stopped (cleanups run last first).
	for _, crd := range monitoringCRDs() {
		if err := k8sClient.Create(t.Context(), crd); err != nil {
			t.Fatalf("creating the CRD %s: %v", crd.GetName(), err)
		}
		t.Cleanup(func() {
			ctx, cancel := cleanupContext()
			defer cancel()
			if err := k8sClient.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting the CRD %s: %v", crd.GetName(), err)
			}
		})
	}
	eventually(t, "the monitoring APIs to be served", func() error {
		if apis := discoverMonitoring(t); !apis.ServiceMonitors || !apis.PrometheusRules {
			return fmt.Errorf("not discovered yet: %+v", apis)
		}
		return nil
	})

	select {
	case err := <-watchDone:
		if !errors.Is(err, platform.ErrMonitoringAPIsChanged) {
			t.Errorf("the watch ended with %v, want ErrMonitoringAPIsChanged", err)
		}
	case <-time.After(time.Minute):
		t.Error("the watch did not notice the monitoring APIs appear")
	}

	t.Run("API present", func(t *testing.T) {
		ns := newNamespace(t)
		op := startOperatorWith(t, []string{ns}, defaultOperand(), discoverMonitoring(t))
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
		pr := waitForObject(t, key, newPrometheusRule, "created", alertsOf(ns, "cache"))
		if err := checkControlledBy(pr, m); err != nil {
			t.Error(err)
		}
		waitForEvent(t, m, corev1.EventTypeNormal, "PrometheusRuleCreated", "Created PrometheusRule cache")
		waitForQuiet(t, op) // no update loop over what the API server stored
		if err := k8sClient.Get(t.Context(), keyOf(plain), newServiceMonitor()); !apierrors.IsNotFound(err) {
			t.Errorf("a Memcached without monitoring: got %v, want no ServiceMonitor", err)
		}
		if err := k8sClient.Get(t.Context(), keyOf(plain), newPrometheusRule()); !apierrors.IsNotFound(err) {
			t.Errorf("a Memcached without monitoring: got %v, want no PrometheusRule", err)
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

		t.Run("alert edited", func(t *testing.T) {
			old := waitForObject(t, key, newPrometheusRule, "exists", nil)
			edited := old.DeepCopy()
			groups, _, _ := unstructured.NestedSlice(edited.Object, "spec", "groups")
			rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
			if err := unstructured.SetNestedSlice(groups[0].(map[string]any), rules[1:], "rules"); err != nil {
				t.Fatal(err)
			}
			if err := unstructured.SetNestedSlice(edited.Object, groups, "spec", "groups"); err != nil {
				t.Fatal(err)
			}
			if err := k8sClient.Update(t.Context(), edited); err != nil {
				t.Fatal(err)
			}
			waitForObject(t, key, newPrometheusRule, "restored", func(u *unstructured.Unstructured) error {
				if u.GetUID() != old.GetUID() {
					return fmt.Errorf("replaced, want it updated in place")
				}
				return alertsOf(ns, "cache")(u)
			})
		})

		t.Run("monitoring disabled", func(t *testing.T) {
			updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Monitoring.Enabled = false })
			waitForGone(t, key, newServiceMonitor(), "deleted")
			waitForGone(t, key, newPrometheusRule(), "deleted")
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
			waitForObject(t, key, newPrometheusRule, "created again", alertsOf(ns, "cache"))
		})
	})

	// Keep the cluster as other runs of this test expect it.
	for _, crd := range monitoringCRDs() {
		if err := k8sClient.Delete(t.Context(), crd); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
		eventually(t, "the CRD "+crd.GetName()+" to be gone", func() error {
			err := k8sClient.Get(t.Context(), types.NamespacedName{Name: crd.GetName()}, monitoringCRD("x", "x"))
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("still there (%v)", err)
		})
	}
}
