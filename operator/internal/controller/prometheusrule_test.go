package controller

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func TestDesiredPrometheusRule(t *testing.T) {
	m := memcached(3, "")
	if pr := DesiredPrometheusRule(m); pr != nil {
		t.Errorf("no monitoring: PrometheusRule %v, want none", pr)
	}
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	pr := DesiredPrometheusRule(m)
	if pr == nil {
		t.Fatal("monitoring enabled: no PrometheusRule")
	}
	if pr.GroupVersionKind() != PrometheusRuleGVK || pr.GetName() != m.Name || pr.GetNamespace() != m.Namespace {
		t.Errorf("got %s %s/%s", pr.GroupVersionKind(), pr.GetNamespace(), pr.GetName())
	}
	if !ManagedSelector().Matches(labelsOf(pr.GetLabels())) {
		t.Errorf("labels %v not selected by the cache's selector", pr.GetLabels())
	}
	groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
	if len(groups) != 1 {
		t.Fatalf("groups %v", groups)
	}
	rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
	selector := `namespace="` + m.Namespace + `",service="` + ServiceName(m) + `"`
	seen := map[string]bool{}
	for _, r := range rules {
		rule := r.(map[string]any)
		name, _ := rule["alert"].(string)
		seen[name] = true
		expr, _ := rule["expr"].(string)
		// Every series in the expression is m's: as many selectors as
		// metric names.
		if n := strings.Count(expr, "{"); n == 0 || strings.Count(expr, "{"+selector+"}") != n {
			t.Errorf("%s: expr %q selects other series than {%s}", name, expr, selector)
		}
		labels, _ := rule["labels"].(map[string]any)
		if sev := labels["severity"]; sev != "warning" && sev != "critical" {
			t.Errorf("%s: severity %v", name, sev)
		}
		annotations, _ := rule["annotations"].(map[string]any)
		if s, _ := annotations["summary"].(string); !strings.Contains(s, m.Namespace+"/"+m.Name) {
			t.Errorf("%s: summary %q does not name the Memcached", name, s)
		}
		if _, ok := rule["for"].(string); !ok {
			t.Errorf("%s: no for", name)
		}
	}
	for _, want := range []string{AlertMemcachedDown, AlertMemcachedTargetDown, AlertMemcachedConnectionsNearLimit, AlertMemcachedEvicting} {
		if !seen[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}

func TestPrometheusRuleUpToDate(t *testing.T) {
	m := memcached(3, "")
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	desired := DesiredPrometheusRule(m)
	actual := desired.DeepCopy()
	actual.SetResourceVersion("7")
	actual.SetAnnotations(map[string]string{"someone": "else"})
	if !PrometheusRuleUpToDate(desired, actual) {
		t.Error("a stored copy with metadata added is not up to date")
	}
	edited := actual.DeepCopy()
	groups, _, _ := unstructured.NestedSlice(edited.Object, "spec", "groups")
	rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
	_ = unstructured.SetNestedSlice(groups[0].(map[string]any), rules[:1], "rules")
	_ = unstructured.SetNestedSlice(edited.Object, groups, "spec", "groups")
	if PrometheusRuleUpToDate(desired, edited) {
		t.Error("alerts removed by hand: still up to date")
	}
	merged := mergeLabelsAndSpec(desired, edited)
	if !PrometheusRuleUpToDate(desired, merged) || merged.GetResourceVersion() != "7" || merged.GetAnnotations()["someone"] != "else" {
		t.Errorf("merged: %v", merged.Object)
	}
	other := memcached(3, "")
	other.Name = "other"
	other.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	if PrometheusRuleUpToDate(desired, DesiredPrometheusRule(other)) {
		t.Error("another Memcached's alerts are up to date")
	}
}
