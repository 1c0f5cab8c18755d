package envtest_test

// The tests in this file pin down controller bugs found by this suite and
// fixed since: each failed against the controller as it was.

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

// TestManagedByLabelRemoved removes the managed-by label from the operator's
// own Deployment (and scales it): the Deployment leaves the operator's
// label-selected cache, so the reconcile takes it for missing, its create
// fails with AlreadyExists and the operator reports a Deployment it owns as
// someone else's, for ever, without restoring anything.
func TestManagedByLabelRemoved(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	waitForDeployment(t, key, "created", replicas(3))

	updateDeployment(t, key, false, func(d *appsv1.Deployment) {
		delete(d.Labels, controller.ManagedByLabel)
		d.Spec.Replicas = ptr.To[int32](1)
	})
	waitForDeployment(t, key, "label and replicas restored", func(d *appsv1.Deployment) error {
		if d.Labels[controller.ManagedByLabel] != controller.ManagerName {
			return fmt.Errorf("labels %v", d.Labels)
		}
		return replicas(3)(d)
	})
	waitForMemcached(t, key, "not degraded", func(m *cachev1.Memcached) error {
		return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
	})
}

// TestForeignDeploymentNotAvailable puts a ready Deployment that the
// Memcached does not own, but that carries the operator's labels, in its
// way: the Memcached must not report that Deployment's pods as its own.
func TestForeignDeploymentNotAvailable(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	foreign := foreignDeployment(ns, "cache", map[string]string{
		controller.NameLabel:      controller.AppName,
		controller.InstanceLabel:  "cache",
		controller.ManagedByLabel: controller.ManagerName,
	})
	foreign.Spec.Replicas = ptr.To[int32](3)
	if err := k8sClient.Create(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	updateDeployment(t, keyOf(foreign), true, func(d *appsv1.Deployment) { d.Status = readyStatus(d, 3) })

	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	m = waitForMemcached(t, keyOf(m), "Degraded", func(m *cachev1.Memcached) error {
		return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionTrue, cachev1.ReasonReconcileFailed})
	})
	if meta.IsStatusConditionTrue(m.Status.Conditions, cachev1.ConditionAvailable) || m.Status.ReadyReplicas != 0 {
		t.Errorf("the Memcached reports the foreign Deployment's pods as its own: readyReplicas %d, conditions %+v",
			m.Status.ReadyReplicas, m.Status.Conditions)
	}
}

// TestUpdateConflictNotDegraded has the Deployment's status written right
// after each change of its spec, as the Deployment controller does. An
// update from the operator's cache would then often conflict; the operator
// restores the spec with merge patches, which carry no resourceVersion: each
// of the 20 edits is restored by a patch, none of them is refused, and
// nothing is reported as Degraded nor as a Warning event.
func TestUpdateConflictNotDegraded(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	op := startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	waitForDeployment(t, key, "created", replicas(3))

	for i := range 20 {
		d := updateDeployment(t, key, false, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](1) })
		for replicas := range int32(3) {
			d.Status.ObservedGeneration, d.Status.Replicas = d.Generation, replicas
			if err := k8sClient.Status().Update(t.Context(), d); err != nil {
				break // the operator already restored the spec
			}
		}
		waitForDeployment(t, key, fmt.Sprintf("restored (round %d)", i), replicas(3))
	}
	var degraded *metav1.Condition
	writes, refused := 0, 0
	for _, c := range op.calls.snapshot() {
		// What the controller sends for a Deployment it keeps: patch (an
		// update or apply would be counted too, should it come back).
		if c.kind == "Deployment" && c.subresource == "" && (c.verb == "patch" || c.verb == "update" || c.verb == "apply") {
			writes++
			if c.err != nil {
				refused++
				t.Logf("refused: %s", c)
			}
		}
		if m, ok := c.object.(*cachev1.Memcached); ok && c.subresource == "status" && degraded == nil &&
			meta.IsStatusConditionTrue(m.Status.Conditions, cachev1.ConditionDegraded) {
			degraded = meta.FindStatusCondition(m.Status.Conditions, cachev1.ConditionDegraded)
		}
	}
	t.Logf("the operator wrote the Deployment %d times, %d refused", writes, refused)
	if writes < 20 || refused > 0 {
		t.Errorf("the operator wrote the Deployment %d times, %d refused; want at least one write per edit (20), none refused", writes, refused)
	}
	if degraded != nil {
		t.Errorf("status written with Degraded=True: %s: %s", degraded.Reason, degraded.Message)
	}
	events, err := eventsRegarding(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning {
			t.Errorf("warning event %s: %s", e.Reason, e.Note)
			break
		}
	}
}
