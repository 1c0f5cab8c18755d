package olmflow

import (
	"context"
	"fmt"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	operatorsv2 "github.com/operator-framework/api/pkg/operators/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// diagnostics is what an operator author looks at when an install or
// upgrade fails: a summary of each OLM object (phases, conditions, step
// states; not the manifests, which would bury the rest) and the logs.
func (f *flow) diagnostics(ctx context.Context) string {
	if f.c == nil {
		return ""
	}
	var (
		subs  operatorsv1alpha1.SubscriptionList
		plans operatorsv1alpha1.InstallPlanList
		csvs  operatorsv1alpha1.ClusterServiceVersionList
		conds operatorsv2.OperatorConditionList
	)
	var b strings.Builder
	b.WriteString("\n=== OLM state ===\n")
	for _, section := range []struct {
		title   string
		list    client.ObjectList
		summary func() []string
	}{
		{"Subscriptions", &subs, func() (lines []string) {
			for _, s := range subs.Items {
				var conditions []string
				for _, c := range s.Status.Conditions {
					conditions = append(conditions, conditionText(string(c.Type), string(c.Status), c.Reason, c.Message))
				}
				lines = append(lines, fmt.Sprintf("%s: state %q installedCSV %q currentCSV %q%s", s.Name, s.Status.State, s.Status.InstalledCSV,
					s.Status.CurrentCSV, strings.Join(conditions, "")))
			}
			return lines
		}},
		{"InstallPlans", &plans, func() (lines []string) {
			for _, p := range plans.Items {
				lines = append(lines, p.Name+": "+installPlanSummary(&p))
			}
			return lines
		}},
		{"ClusterServiceVersions", &csvs, func() (lines []string) {
			for _, c := range csvs.Items {
				lines = append(lines, fmt.Sprintf("%s: phase %q reason %q: %s", c.Name, c.Status.Phase, c.Status.Reason, c.Status.Message))
			}
			return lines
		}},
		{"OperatorConditions", &conds, func() (lines []string) {
			for _, oc := range conds.Items {
				lines = append(lines, oc.Name+": "+metaConditionsText(oc.Spec.Conditions))
			}
			return lines
		}},
	} {
		fmt.Fprintf(&b, "--- %s\n", section.title)
		if err := f.c.List(ctx, section.list, client.InNamespace(installNamespace)); err != nil {
			fmt.Fprintf(&b, "  (%v)\n", err)
			continue
		}
		for _, line := range section.summary() {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	if f.cfg.RealNode != nil {
		b.WriteString(f.podsText(ctx))
	}
	if f.olm != nil {
		b.WriteString(f.olm.Logs(40))
	}
	if f.operator != nil {
		path := f.operator.LogFile()
		fmt.Fprintf(&b, "--- operator v%s (last 30 lines of %s)\n%s\n", f.operatorVersion, path, testbed.Tail(path, 30))
	}
	return b.String()
}

func installPlanSummary(p *operatorsv1alpha1.InstallPlan) string {
	counts := map[operatorsv1alpha1.StepStatus]int{}
	for _, s := range p.Status.Plan {
		counts[s.Status]++
	}
	var conditions []string
	for _, c := range p.Status.Conditions {
		conditions = append(conditions, conditionText(string(c.Type), string(c.Status), string(c.Reason), c.Message))
	}
	return fmt.Sprintf("csvs %v approved %t phase %q steps %v bundleLookups %d%s", p.Spec.ClusterServiceVersionNames, p.Spec.Approved,
		p.Status.Phase, counts, len(p.Status.BundleLookups), strings.Join(conditions, ""))
}

func metaConditionsText(conds []metav1.Condition) string {
	var b strings.Builder
	for _, c := range conds {
		b.WriteString(conditionText(c.Type, string(c.Status), c.Reason, c.Message))
	}
	return b.String()
}

// conditionText renders a condition on a line of its own.
func conditionText(conditionType, status, reason, message string) string {
	return fmt.Sprintf("\n      %s=%s %s: %s", conditionType, status, reason, message)
}

// podsText lists the pods of every namespace on a real node: the registry,
// unpack, operator and memcached pods, each on one line.
func (f *flow) podsText(ctx context.Context) string {
	pods := &corev1.PodList{}
	if err := f.c.List(ctx, pods); err != nil {
		return fmt.Sprintf("--- Pods\n  (%v)\n", err)
	}
	var b strings.Builder
	b.WriteString("--- Pods\n")
	for i := range pods.Items {
		fmt.Fprintf(&b, "  %s/%s\n", pods.Items[i].Namespace, podState(&pods.Items[i]))
	}
	return b.String()
}
