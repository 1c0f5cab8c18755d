package envtest_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

func newPodDisruptionBudget() *policyv1.PodDisruptionBudget { return &policyv1.PodDisruptionBudget{} }

func maxUnavailableOne(p *policyv1.PodDisruptionBudget) error {
	if p.Spec.MaxUnavailable == nil || *p.Spec.MaxUnavailable != intstr.FromInt32(1) || p.Spec.MinAvailable != nil {
		return fmt.Errorf("maxUnavailable %v, minAvailable %v; want 1 and unset", p.Spec.MaxUnavailable, p.Spec.MinAvailable)
	}
	return nil
}

// TestPodDisruptionBudget resizes a Memcached across 2 and checks that its
// PodDisruptionBudget exists exactly while it has two pods or more.
func TestPodDisruptionBudget(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 1, "")
	key := keyOf(m)

	// Size 1: the operator reconciled (status written) and made no budget.
	waitForMemcached(t, key, "reconciled", func(m *cachev1.Memcached) error { return checkConditions(m) })
	waitForObject(t, key, newService, "service created", nil)
	if err := k8sClient.Get(t.Context(), key, &policyv1.PodDisruptionBudget{}); err == nil {
		t.Fatal("a Memcached of size 1 got a PodDisruptionBudget")
	}

	var uid string
	t.Run("grown to 3", func(t *testing.T) {
		m := updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = 3 })
		pdb := waitForObject(t, key, newPodDisruptionBudget, "created", maxUnavailableOne)
		if err := checkControlledBy(pdb, m); err != nil {
			t.Error(err)
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		d := currentDeployment(t, key)
		if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("selector %s does not select the memcached pods (%v)", sel, d.Spec.Template.Labels)
		}
		uid = string(pdb.UID)
		waitForEvent(t, m, corev1.EventTypeNormal, controller.EventPodDisruptionBudgetCreated, "Created PodDisruptionBudget cache")
	})

	t.Run("edited", func(t *testing.T) {
		pdb := waitForObject(t, key, newPodDisruptionBudget, "exists", nil)
		pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(3))
		if err := k8sClient.Update(t.Context(), pdb); err != nil {
			t.Fatal(err)
		}
		waitForObject(t, key, newPodDisruptionBudget, "restored", func(p *policyv1.PodDisruptionBudget) error {
			if string(p.UID) != uid {
				return fmt.Errorf("replaced, want it updated in place")
			}
			return maxUnavailableOne(p)
		})
	})

	t.Run("shrunk to 1", func(t *testing.T) {
		m := updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = 1 })
		waitForGone(t, key, newPodDisruptionBudget(), "deleted")
		waitForEvent(t, m, corev1.EventTypeNormal, controller.EventPodDisruptionBudgetDeleted, "Deleted PodDisruptionBudget cache")
		waitForMemcached(t, key, "not degraded", func(m *cachev1.Memcached) error {
			return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
		})
	})

	t.Run("grown to 2", func(t *testing.T) {
		updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = 2 })
		waitForObject(t, key, newPodDisruptionBudget, "created again", func(p *policyv1.PodDisruptionBudget) error {
			if string(p.UID) == uid {
				return fmt.Errorf("still the deleted budget")
			}
			return maxUnavailableOne(p)
		})
	})

	t.Run("scaled to 0", func(t *testing.T) {
		updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = 0 })
		waitForGone(t, key, newPodDisruptionBudget(), "deleted")
	})
}

// TestPodDisruptionBudgetNotOwned puts a budget the Memcached does not own
// where its own would go: the operator reports it and neither changes nor
// deletes it.
func TestPodDisruptionBudgetNotOwned(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	foreign := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cache", Labels: map[string]string{
			controller.ManagedByLabel: controller.ManagerName,
		}},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(5)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "someone-else"}},
		},
	}
	if err := k8sClient.Create(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	waitForMemcached(t, keyOf(m), "Degraded", func(m *cachev1.Memcached) error {
		return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionTrue, cachev1.ReasonReconcileFailed})
	})
	waitForEvent(t, m, corev1.EventTypeWarning, controller.EventPodDisruptionBudgetNotOwned, "is not controlled by this Memcached")

	// Shrinking below 2 must not delete someone else's budget either.
	updateMemcached(t, keyOf(m), func(m *cachev1.Memcached) { m.Spec.Size = 1 })
	waitForMemcached(t, keyOf(m), "no longer degraded", func(m *cachev1.Memcached) error {
		return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
	})
	after := waitForObject(t, keyOf(foreign), newPodDisruptionBudget, "kept", nil)
	if after.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("foreign budget was written: resourceVersion %s, was %s", after.ResourceVersion, foreign.ResourceVersion)
	}
}
