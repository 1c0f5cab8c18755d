package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func TestDesiredServiceMonitor(t *testing.T) {
	m := memcached(3, "")
	if sm := DesiredServiceMonitor(m); sm != nil {
		t.Errorf("no monitoring: ServiceMonitor %v, want none", sm)
	}
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: false}
	if sm := DesiredServiceMonitor(m); sm != nil {
		t.Errorf("monitoring disabled: ServiceMonitor %v, want none", sm)
	}
	m.Spec.Monitoring.Enabled = true
	sm := DesiredServiceMonitor(m)
	if sm == nil {
		t.Fatal("monitoring enabled: no ServiceMonitor")
	}
	if sm.GroupVersionKind() != ServiceMonitorGVK || sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetKind() != "ServiceMonitor" {
		t.Errorf("kind %s %s", sm.GetAPIVersion(), sm.GetKind())
	}
	if sm.GetName() != m.Name || sm.GetNamespace() != m.Namespace {
		t.Errorf("named %s/%s", sm.GetNamespace(), sm.GetName())
	}
	if !ManagedSelector().Matches(labelsOf(sm.GetLabels())) {
		t.Errorf("labels %v not selected by the cache's selector", sm.GetLabels())
	}
	// The selector picks m's Services, and the endpoint the metrics port
	// that the ClusterIP Service has.
	matchLabels, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for _, svc := range DesiredServices(m) {
		if !labelsOf(matchLabels).AsSelector().Matches(labelsOf(svc.Labels)) {
			t.Errorf("selector %v does not select service %s (labels %v)", matchLabels, svc.Name, svc.Labels)
		}
	}
	other := memcached(3, "")
	other.Name = "other"
	if labelsOf(matchLabels).AsSelector().Matches(labelsOf(DesiredServices(other)[0].Labels)) {
		t.Error("the selector also selects another Memcached's Service")
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("endpoints %v, want one", endpoints)
	}
	ep := endpoints[0].(map[string]any)
	if ep["port"] != "metrics" || ep["path"] != "/metrics" {
		t.Errorf("endpoint %v, want port metrics, path /metrics", ep)
	}
	if !containsServicePort(DesiredServices(m)[0], "metrics") {
		t.Error("the ClusterIP Service has no metrics port to scrape")
	}
	// The object is valid JSON data: it survives a deep copy.
	if c := sm.DeepCopy(); !equality.Semantic.DeepEqual(c.Object, sm.Object) {
		t.Error("ServiceMonitor does not deep-copy")
	}
}

func containsServicePort(svc *corev1.Service, name string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func TestServiceMonitorUpToDate(t *testing.T) {
	m := memcached(3, "")
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	desired := DesiredServiceMonitor(m)
	tests := []struct {
		name   string
		mutate func(*unstructured.Unstructured)
		want   bool
	}{
		{"as created", func(*unstructured.Unstructured) {}, true},
		{"fields others added", func(u *unstructured.Unstructured) {
			eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
			eps[0].(map[string]any)["interval"] = "30s"
			_ = unstructured.SetNestedSlice(u.Object, eps, "spec", "endpoints")
			_ = unstructured.SetNestedField(u.Object, "job", "spec", "jobLabel")
			u.SetResourceVersion("5")
		}, true},
		{"someone else's label", func(u *unstructured.Unstructured) {
			l := u.GetLabels()
			l["team"] = "a"
			u.SetLabels(l)
		}, true},
		{"port changed", func(u *unstructured.Unstructured) {
			eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
			eps[0].(map[string]any)["port"] = "memcached"
			_ = unstructured.SetNestedSlice(u.Object, eps, "spec", "endpoints")
		}, false},
		{"endpoint added", func(u *unstructured.Unstructured) {
			eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
			_ = unstructured.SetNestedSlice(u.Object, append(eps, map[string]any{"port": "x"}), "spec", "endpoints")
		}, false},
		{"selector widened", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "selector", "matchLabels", InstanceLabel)
		}, false},
		{"selector narrowed", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "x", "spec", "selector", "matchLabels", "extra")
		}, false},
		{"spec removed", func(u *unstructured.Unstructured) { delete(u.Object, "spec") }, false},
		{"managed-by label removed", func(u *unstructured.Unstructured) {
			l := u.GetLabels()
			delete(l, ManagedByLabel)
			u.SetLabels(l)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actual := desired.DeepCopy()
			tt.mutate(actual)
			if got := ServiceMonitorUpToDate(desired, actual); got != tt.want {
				t.Errorf("ServiceMonitorUpToDate = %v, want %v", got, tt.want)
			}
			merged := mergeLabelsAndSpec(desired, actual)
			if !ServiceMonitorUpToDate(desired, merged) {
				t.Error("the merged ServiceMonitor is still not up to date")
			}
			if merged.GetResourceVersion() != actual.GetResourceVersion() {
				t.Error("merge lost the resourceVersion")
			}
			// The merge must not share the desired object's data.
			_ = unstructured.SetNestedField(merged.Object, "changed", "spec", "selector", "matchLabels", NameLabel)
			if v, _, _ := unstructured.NestedString(desired.Object, "spec", "selector", "matchLabels", NameLabel); v != AppName {
				t.Error("mergeLabelsAndSpec aliases the desired object")
			}
		})
	}
}
