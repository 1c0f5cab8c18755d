package controller

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// ServiceMonitorGVK is the Prometheus Operator's ServiceMonitor. The operator
// handles it as unstructured, so it needs no Go dependency on the Prometheus
// Operator and works wherever the CRD is installed.
var ServiceMonitorGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// newServiceMonitor is an empty ServiceMonitor, to read one into.
func newServiceMonitor() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ServiceMonitorGVK)
	return u
}

// ServiceMonitorName is the name of m's ServiceMonitor.
func ServiceMonitorName(m *cachev1.Memcached) string { return m.Name }

// DesiredServiceMonitor has Prometheus scrape the exporter of each of m's
// pods through the metrics port of m's Service. It is nil when monitoring is
// off: then m must have none.
func DesiredServiceMonitor(m *cachev1.Memcached) *unstructured.Unstructured {
	if !monitoringEnabled(m) {
		return nil
	}
	u := newServiceMonitor()
	u.SetName(ServiceMonitorName(m))
	u.SetNamespace(m.Namespace)
	u.SetLabels(objectLabels(m.Name))
	matchLabels := map[string]any{}
	for k, v := range selectorLabels(m.Name) {
		matchLabels[k] = v
	}
	u.Object["spec"] = map[string]any{
		"selector": map[string]any{"matchLabels": matchLabels},
		"endpoints": []any{
			map[string]any{"port": ExporterPortName, "path": "/metrics"},
		},
	}
	return u
}

// ServiceMonitorUpToDate reports whether actual has what desired sets,
// ignoring what the API server or others added.
func ServiceMonitorUpToDate(desired, actual *unstructured.Unstructured) bool {
	if !equality.Semantic.DeepDerivative(desired.GetLabels(), actual.GetLabels()) {
		return false
	}
	dEndpoints, _, _ := unstructured.NestedSlice(desired.Object, "spec", "endpoints")
	aEndpoints, _, _ := unstructured.NestedSlice(actual.Object, "spec", "endpoints")
	if len(dEndpoints) != len(aEndpoints) {
		return false
	}
	dSelector, _, _ := unstructured.NestedFieldNoCopy(desired.Object, "spec", "selector")
	aSelector, _, _ := unstructured.NestedFieldNoCopy(actual.Object, "spec", "selector")
	if !equality.Semantic.DeepEqual(dSelector, aSelector) {
		return false
	}
	return equality.Semantic.DeepDerivative(desired.Object["spec"], actual.Object["spec"])
}

// mergeLabelsAndSpec returns actual with desired's labels and spec: how the
// operator restores its ServiceMonitors and PrometheusRules.
func mergeLabelsAndSpec(desired, actual *unstructured.Unstructured) *unstructured.Unstructured {
	merged := actual.DeepCopy()
	merged.SetLabels(mergeLabels(desired.GetLabels(), actual.GetLabels()))
	merged.Object["spec"] = runtime.DeepCopyJSONValue(desired.Object["spec"])
	return merged
}
