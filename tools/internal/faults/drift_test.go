//go:build e2e

package faults_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestDriftRestored edits the operator's objects by hand, one way after
// another: the Deployment scaled, its container changed, a container added,
// a label its pods need removed from the template, the Deployment deleted; a
// Service's port changed; the Services and the PodDisruptionBudget deleted.
// Each time the operator restores what the Memcached asks for.
func TestDriftRestored(t *testing.T) {
	ns := newNamespace(t, "drift")
	startOperator(t, identity(t, testbed.OperatorServiceAccount), ns)
	tr := tracker(t, ns)
	const name = "drift"
	want := bench.Want{name: 3}
	createMemcacheds(t, ns, want)
	waitConverged(t, tr, want, "created")
	original := getDeployment(t, ns, name)

	sameTemplate := func(ctx context.Context) error {
		d, err := env.Admin.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(d.Spec.Template.Spec.Containers, original.Spec.Template.Spec.Containers) {
			return fmt.Errorf("containers %+v", d.Spec.Template.Spec.Containers)
		}
		if !equality.Semantic.DeepEqual(d.Spec.Template.Labels, original.Spec.Template.Labels) {
			return fmt.Errorf("template labels %v", d.Spec.Template.Labels)
		}
		if *d.Spec.Replicas != 3 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		return nil
	}

	for _, drift := range []struct {
		name string
		edit func(*appsv1.Deployment)
	}{
		{"scaled down", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](1) }},
		{"scaled up", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](7) }},
		{"container edited", func(d *appsv1.Deployment) {
			c := &d.Spec.Template.Spec.Containers[0]
			c.Image = "registry.example.com/someone/else:1"
			c.Args = []string{"-m", "1"}
			c.Env = append(c.Env, corev1.EnvVar{Name: "INJECTED", Value: "by hand"})
		}},
		{"container added", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{
				Name: "sidecar", Image: "registry.example.com/sidecar:1",
			})
		}},
		{"managed-by label dropped from the pod template", func(d *appsv1.Deployment) {
			delete(d.Spec.Template.Labels, testbed.ManagedByLabel)
		}},
	} {
		t.Logf("drift: %s", drift.name)
		updateDeployment(t, ns, name, drift.edit)
		waitFor(t, "Deployment restored after it was "+drift.name, shortTimeout, sameTemplate)
		waitConverged(t, tr, want, "after it was "+drift.name)
	}

	t.Log("drift: deleted")
	if err := env.Admin.AppsV1().Deployments(ns).Delete(t.Context(), name, metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationBackground),
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Deployment recreated", shortTimeout, func(ctx context.Context) error {
		d, err := env.Admin.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.UID == original.UID {
			return fmt.Errorf("still the deleted one")
		}
		return nil
	})
	waitFor(t, "recreated Deployment as before", shortTimeout, sameTemplate)
	waitConverged(t, tr, want, "after it was deleted")

	// Its Services and PodDisruptionBudget are restored the same way.
	svc, err := env.Admin.CoreV1().Services(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("drift: Service port changed, then the Services and the PodDisruptionBudget deleted")
	origPort := svc.Spec.Ports[0].Port
	svc.Spec.Ports[0].Port = origPort + 1
	if _, err := env.Admin.CoreV1().Services(ns).Update(t.Context(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Service port restored", shortTimeout, func(ctx context.Context) error {
		s, err := env.Admin.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Spec.Ports[0].Port != origPort {
			return fmt.Errorf("port %d, want %d", s.Spec.Ports[0].Port, origPort)
		}
		return nil
	})
	pdb, err := env.Admin.PolicyV1().PodDisruptionBudgets(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	services, err := env.Admin.CoreV1().Services(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldUIDs := map[string]string{"PodDisruptionBudget/" + pdb.Name: string(pdb.UID)}
	for _, s := range services.Items {
		oldUIDs["Service/"+s.Name] = string(s.UID)
		if err := env.Admin.CoreV1().Services(ns).Delete(t.Context(), s.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Admin.PolicyV1().PodDisruptionBudgets(ns).Delete(t.Context(), pdb.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Services and PodDisruptionBudget recreated", shortTimeout, func(ctx context.Context) error {
		for key, oldUID := range oldUIDs {
			kind, objName, _ := strings.Cut(key, "/")
			var uid string
			var err error
			if kind == "Service" {
				var s *corev1.Service
				if s, err = env.Admin.CoreV1().Services(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
					uid = string(s.UID)
				}
			} else {
				var p *policyv1.PodDisruptionBudget
				if p, err = env.Admin.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, objName, metav1.GetOptions{}); err == nil {
					uid = string(p.UID)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if uid == oldUID {
				return fmt.Errorf("%s: still the deleted one", key)
			}
		}
		return nil
	})
	waitConverged(t, tr, want, "after its Services and PodDisruptionBudget were deleted")
	requireOwnership(t, ns)
}
