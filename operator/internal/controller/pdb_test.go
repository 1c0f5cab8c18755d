package controller

import (
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestDesiredPodDisruptionBudget(t *testing.T) {
	for _, tt := range []struct {
		size int32
		want bool
	}{{0, false}, {1, false}, {2, true}, {3, true}, {1000, true}} {
		m := memcached(tt.size, "")
		pdb := DesiredPodDisruptionBudget(m)
		if (pdb != nil) != tt.want {
			t.Errorf("size %d: PodDisruptionBudget %v, want one: %v", tt.size, pdb, tt.want)
			continue
		}
		if pdb == nil {
			continue
		}
		if pdb.Name != m.Name || pdb.Namespace != m.Namespace {
			t.Errorf("size %d: named %s/%s", tt.size, pdb.Namespace, pdb.Name)
		}
		if pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) || pdb.Spec.MinAvailable != nil {
			t.Errorf("size %d: maxUnavailable %v minAvailable %v, want 1 and unset", tt.size, pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		d := DesiredDeployment(m, OperandOptions{})
		if !sel.Matches(labelsOf(d.Spec.Template.Labels)) || !equality.Semantic.DeepEqual(pdb.Spec.Selector, d.Spec.Selector) {
			t.Errorf("size %d: selector %v, want the Deployment's %v", tt.size, pdb.Spec.Selector, d.Spec.Selector)
		}
		if !ManagedSelector().Matches(labelsOf(pdb.Labels)) {
			t.Errorf("size %d: labels %v not selected by the cache's selector", tt.size, pdb.Labels)
		}
	}
}

func TestPodDisruptionBudgetUpToDate(t *testing.T) {
	desired := DesiredPodDisruptionBudget(memcached(3, ""))
	tests := []struct {
		name   string
		mutate func(*policyv1.PodDisruptionBudget)
		want   bool
	}{
		{"as created", func(*policyv1.PodDisruptionBudget) {}, true},
		{"eviction policy defaulted by someone", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.IfHealthyBudget)
		}, true},
		{"someone else's label", func(p *policyv1.PodDisruptionBudget) { p.Labels["team"] = "a" }, true},
		{"maxUnavailable raised", func(p *policyv1.PodDisruptionBudget) { p.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(2)) }, false},
		{"minAvailable instead", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.MaxUnavailable, p.Spec.MinAvailable = nil, ptr.To(intstr.FromInt32(2))
		}, false},
		{"selector changed", func(p *policyv1.PodDisruptionBudget) { p.Spec.Selector.MatchLabels[InstanceLabel] = "other" }, false},
		{"managed-by label removed", func(p *policyv1.PodDisruptionBudget) { delete(p.Labels, ManagedByLabel) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actual := desired.DeepCopy()
			actual.ResourceVersion = "3"
			tt.mutate(actual)
			if got := PodDisruptionBudgetUpToDate(desired, actual); got != tt.want {
				t.Errorf("PodDisruptionBudgetUpToDate = %v, want %v", got, tt.want)
			}
			merged := mergePodDisruptionBudget(desired, actual)
			if !PodDisruptionBudgetUpToDate(desired, merged) || merged.ResourceVersion != "3" {
				t.Error("the merged budget is not up to date or lost its resourceVersion")
			}
		})
	}
}
