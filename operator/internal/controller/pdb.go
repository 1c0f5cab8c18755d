package controller

import (
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// minPodDisruptionBudgetSize is the smallest size that gets a
// PodDisruptionBudget: with one pod, a budget allowing no disruption would
// block every node drain.
const minPodDisruptionBudgetSize = 2

// PodDisruptionBudgetName is the name of m's PodDisruptionBudget.
func PodDisruptionBudgetName(m *cachev1.Memcached) string { return m.Name }

// DesiredPodDisruptionBudget lets voluntary disruptions (node drains) take
// one of m's pods at a time, so at most one share of the cache is lost at
// once. It is nil when m has fewer than two pods: then m must have none.
func DesiredPodDisruptionBudget(m *cachev1.Memcached) *policyv1.PodDisruptionBudget {
	if m.Spec.Size < minPodDisruptionBudgetSize {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: PodDisruptionBudgetName(m), Namespace: m.Namespace, Labels: objectLabels(m.Name)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(m.Name)},
		},
	}
}

// PodDisruptionBudgetUpToDate reports whether actual has what desired sets.
func PodDisruptionBudgetUpToDate(desired, actual *policyv1.PodDisruptionBudget) bool {
	return equality.Semantic.DeepDerivative(desired.Labels, actual.Labels) &&
		equality.Semantic.DeepEqual(desired.Spec.Selector, actual.Spec.Selector) &&
		equality.Semantic.DeepEqual(desired.Spec.MaxUnavailable, actual.Spec.MaxUnavailable) &&
		equality.Semantic.DeepEqual(desired.Spec.MinAvailable, actual.Spec.MinAvailable)
}

func mergePodDisruptionBudget(desired, actual *policyv1.PodDisruptionBudget) *policyv1.PodDisruptionBudget {
	merged := actual.DeepCopy()
	merged.Labels = mergeLabels(desired.Labels, actual.Labels)
	merged.Spec.Selector = desired.Spec.Selector
	merged.Spec.MaxUnavailable = desired.Spec.MaxUnavailable
	merged.Spec.MinAvailable = desired.Spec.MinAvailable
	return merged
}
