//go:build e2e

package faults_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

var (
	crdGVR            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	serviceMonitorGVR = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}
)

// TestMonitoringAPIsAppear: the Prometheus Operator is installed after the
// operator started. The manager binary notices (here within a second), exits
// with status 0 for its Deployment to restart it, and the restarted operator
// creates the ServiceMonitor of a monitored Memcached. The CRD is removed
// again at the end: the other tests run without it.
func TestMonitoringAPIsAppear(t *testing.T) {
	ns := newNamespace(t, "monitoring")
	id := identity(t, testbed.OperatorServiceAccount)
	first := startOperator(t, id, ns, "--monitoring-recheck-interval=1s")
	m := testbed.NewMemcached(ns, "watched", 1)
	m.Spec.Monitoring = &testbed.MemcachedMonitoring{Enabled: true}
	if err := env.Memcacheds(ns).Create(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, tracker(t, ns), bench.Want{"watched": 1}, "a monitored Memcached without the ServiceMonitor API")
	select {
	case <-first.Exited():
		t.Fatalf("the operator exited while nothing changed: %v", first.ExitErr())
	default:
	}

	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"scope": "Namespaced",
			"names": map[string]any{"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors", "singular": "servicemonitor"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	if _, err := env.Dynamic.Resource(crdGVR).Create(t.Context(), crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("installing the ServiceMonitor CRD: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := env.Dynamic.Resource(crdGVR).Delete(ctx, crd.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("removing the ServiceMonitor CRD: %v", err)
			return
		}
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := env.Dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}); err != nil {
			t.Errorf("the ServiceMonitor CRD is still there: %v", err)
		}
	})

	select {
	case <-first.Exited():
	case <-time.After(2 * time.Minute):
		t.Fatal("the operator did not exit after the ServiceMonitor API appeared")
	}
	if err := first.ExitErr(); err != nil {
		t.Errorf("the operator exited with %v, want status 0", err)
	}
	if log, _ := os.ReadFile(first.LogFile()); !strings.Contains(string(log), "Exiting to restart with the monitoring APIs the cluster now serves") {
		t.Errorf("the operator's log %s does not say why it exited", first.LogFile())
	}

	// What its Deployment would do: start it again.
	startOperator(t, id, ns)
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, convergeTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := env.Dynamic.Resource(serviceMonitorGVR).Namespace(ns).Get(ctx, "watched", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the restarted operator created no ServiceMonitor for Memcached %s: %v", types.NamespacedName{Namespace: ns, Name: "watched"}, err)
	}
}
