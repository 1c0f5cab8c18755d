package envtest_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

// foreignDeployment is a Deployment named name that the operator did not
// create, running image with the given labels.
func foreignDeployment(namespace, name string, labels map[string]string) *appsv1.Deployment {
	selector := map[string]string{"app": "someone-else"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](7),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "app",
					Image: "registry.example.com/someone/else:1",
				}}},
			},
		},
	}
}

// TestForeignDeployment puts a Deployment with the Memcached's name that the
// Memcached does not own in its way: the operator must report it and leave
// the Deployment alone, whether its cache sees it (it has the managed-by
// label) or not.
func TestForeignDeployment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		// owner, when set, is the Memcached that controls the Deployment.
		owner       string
		wantMessage string
	}{
		{
			name: "labelled as the operator's, no owner",
			labels: map[string]string{
				controller.NameLabel:      controller.AppName,
				controller.InstanceLabel:  "cache",
				controller.ManagedByLabel: controller.ManagerName,
			},
			wantMessage: "is not controlled by memcached cache",
		},
		{
			name:        "someone else's labels",
			labels:      map[string]string{"app": "someone-else"},
			wantMessage: "exists and is not controlled by memcached cache",
		},
		{
			name: "controlled by another Memcached",
			labels: map[string]string{
				controller.NameLabel:      controller.AppName,
				controller.InstanceLabel:  "other",
				controller.ManagedByLabel: controller.ManagerName,
			},
			owner:       "other",
			wantMessage: "is not controlled by memcached cache",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			foreign := foreignDeployment(ns, "cache", tc.labels)
			if tc.owner != "" {
				owner := newMemcached(t, ns, tc.owner, 1, "")
				foreign.OwnerReferences = []metav1.OwnerReference{{
					APIVersion: cachev1.GroupVersion.String(), Kind: "Memcached",
					Name: owner.Name, UID: owner.UID, Controller: ptr.To(true),
				}}
			}
			if err := k8sClient.Create(t.Context(), foreign); err != nil {
				t.Fatal(err)
			}
			before := foreign.DeepCopy()

			startOperator(t, []string{ns}, defaultOperand())
			m := newMemcached(t, ns, "cache", 3, "")
			waitForMemcached(t, keyOf(m), "Degraded", func(m *cachev1.Memcached) error {
				if err := checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionTrue, cachev1.ReasonReconcileFailed}); err != nil {
					return err
				}
				if c := findCondition(m, cachev1.ConditionDegraded); !strings.Contains(c.Message, tc.wantMessage) {
					return fmt.Errorf("Degraded message %q, want it to contain %q", c.Message, tc.wantMessage)
				}
				return nil
			})
			waitForEvent(t, m, corev1.EventTypeWarning, "DeploymentNotOwned", "")

			after := &appsv1.Deployment{}
			if err := k8sClient.Get(t.Context(), keyOf(foreign), after); err != nil {
				t.Fatal(err)
			}
			if after.ResourceVersion != before.ResourceVersion || after.Generation != before.Generation {
				t.Errorf("foreign deployment was written: resourceVersion %s→%s, generation %d→%d",
					before.ResourceVersion, after.ResourceVersion, before.Generation, after.Generation)
			}
			if !maps.Equal(after.Labels, before.Labels) || len(after.OwnerReferences) != len(before.OwnerReferences) ||
				ptr.Deref(after.Spec.Replicas, 0) != 7 || after.Spec.Template.Spec.Containers[0].Image != before.Spec.Template.Spec.Containers[0].Image {
				t.Errorf("foreign deployment changed: %+v", after)
			}
		})
	}
}

func findCondition(m *cachev1.Memcached, conditionType string) metav1.Condition {
	for _, c := range m.Status.Conditions {
		if c.Type == conditionType {
			return c
		}
	}
	return metav1.Condition{}
}
