package controller

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// PrometheusRuleGVK is the Prometheus Operator's PrometheusRule, handled as
// unstructured like ServiceMonitorGVK.
var PrometheusRuleGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}

// newPrometheusRule is an empty PrometheusRule, to read one into.
func newPrometheusRule() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(PrometheusRuleGVK)
	return u
}

// PrometheusRuleName is the name of m's PrometheusRule.
func PrometheusRuleName(m *cachev1.Memcached) string { return m.Name }

// Alert names of a Memcached's PrometheusRule.
const (
	AlertMemcachedDown                 = "MemcachedDown"
	AlertMemcachedTargetDown           = "MemcachedMetricsTargetDown"
	AlertMemcachedConnectionsNearLimit = "MemcachedConnectionsNearLimit"
	AlertMemcachedEvicting             = "MemcachedEvictingWhenFull"
)

// DesiredPrometheusRule alerts on what the exporter of each of m's pods
// reports: memcached down, its metrics not scraped, connections near the
// limit, and a full cache evicting items. The expressions select m's series
// by namespace and by the Service its ServiceMonitor scrapes through, which
// Prometheus records as the service label. It is nil when monitoring is off.
func DesiredPrometheusRule(m *cachev1.Memcached) *unstructured.Unstructured {
	if !monitoringEnabled(m) {
		return nil
	}
	sel := fmt.Sprintf(`namespace=%q,service=%q`, m.Namespace, ServiceName(m))
	of := fmt.Sprintf("Memcached %s/%s", m.Namespace, m.Name)
	alert := func(name, expr, forDuration, severity, summary, description string) any {
		return map[string]any{
			"alert":  name,
			"expr":   expr,
			"for":    forDuration,
			"labels": map[string]any{"severity": severity},
			"annotations": map[string]any{
				"summary":     summary,
				"description": description,
			},
		}
	}
	u := newPrometheusRule()
	u.SetName(PrometheusRuleName(m))
	u.SetNamespace(m.Namespace)
	u.SetLabels(objectLabels(m.Name))
	u.Object["spec"] = map[string]any{
		"groups": []any{map[string]any{
			"name": "memcached-" + m.Name,
			"rules": []any{
				alert(AlertMemcachedDown, fmt.Sprintf("memcached_up{%s} == 0", sel), "5m", "critical",
					of+": memcached is down in a pod",
					"The exporter in pod {{ $labels.pod }} cannot reach memcached: the pod's share of the cache is gone."),
				alert(AlertMemcachedTargetDown, fmt.Sprintf("up{%s} == 0", sel), "10m", "warning",
					of+": the metrics of a pod cannot be scraped",
					"Prometheus cannot scrape the exporter of pod {{ $labels.pod }}: the other alerts are blind to it."),
				alert(AlertMemcachedConnectionsNearLimit,
					fmt.Sprintf("memcached_current_connections{%s} / memcached_max_connections{%s} > 0.9", sel, sel), "10m", "warning",
					of+": connections near the limit",
					"Pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its connections: raise spec.maxConnections or spec.size."),
				alert(AlertMemcachedEvicting,
					fmt.Sprintf("rate(memcached_items_evicted_total{%s}[5m]) > 0 and memcached_current_bytes{%s} / memcached_limit_bytes{%s} > 0.9", sel, sel, sel),
					"15m", "warning",
					of+": the cache is full and evicting",
					"Pod {{ $labels.pod }} evicts items while its memory is full: raise spec.memoryMB or spec.size if the hit rate matters."),
			},
		}},
	}
	return u
}

// PrometheusRuleUpToDate reports whether actual has desired's labels and
// groups.
func PrometheusRuleUpToDate(desired, actual *unstructured.Unstructured) bool {
	if !equality.Semantic.DeepDerivative(desired.GetLabels(), actual.GetLabels()) {
		return false
	}
	// Rules are lists matched as a whole: an alert added, dropped or edited
	// by hand is a difference.
	dGroups, _, _ := unstructured.NestedFieldNoCopy(desired.Object, "spec", "groups")
	aGroups, _, _ := unstructured.NestedFieldNoCopy(actual.Object, "spec", "groups")
	return equality.Semantic.DeepEqual(dGroups, aGroups)
}
