package envtest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/scope"
)

// unwatchedGrace is how long a test keeps checking that the operator leaves
// a namespace it does not watch alone, after it reconciled the ones it
// watches: it has no event to wait for, since nothing should happen.
const unwatchedGrace = 1500 * time.Millisecond

// TestNamespaceScoping starts the operator with a WATCH_NAMESPACE of one and
// of two namespaces (written the way OLM could: spaces, a duplicate) and
// checks that it runs the Memcacheds there and ignores the one elsewhere.
func TestNamespaceScoping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		watched int
		// watchNamespace builds WATCH_NAMESPACE from the watched namespaces.
		watchNamespace func(ns []string) string
	}{
		{name: "one namespace", watched: 1, watchNamespace: func(ns []string) string { return ns[0] }},
		{name: "two namespaces", watched: 2, watchNamespace: func(ns []string) string {
			return fmt.Sprintf(" %s , %s,%s,", ns[1], ns[0], ns[1])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var watched []string
			for range tc.watched {
				watched = append(watched, newNamespace(t))
			}
			unwatched := newNamespace(t)
			namespaces, err := scope.ParseNamespaces(tc.watchNamespace(watched))
			if err != nil {
				t.Fatal(err)
			}
			if want := slices.Sorted(slices.Values(watched)); !slices.Equal(namespaces, want) {
				t.Fatalf("ParseNamespaces gave %v, want %v", namespaces, want)
			}
			startOperator(t, namespaces, defaultOperand())

			ignored := newMemcached(t, unwatched, "cache", 1, "")
			for _, ns := range watched {
				m := newMemcached(t, ns, "cache", 1, "")
				waitForDeployment(t, keyOf(m), "created in a watched namespace", nil)
				waitForMemcached(t, keyOf(m), "status written", func(m *cachev1.Memcached) error {
					return checkConditions(m)
				})
			}

			consistently(t, "the operator must leave the unwatched namespace alone", unwatchedGrace, func() error {
				err := k8sClient.Get(t.Context(), keyOf(ignored), &appsv1.Deployment{})
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("deployment %s: got %v, want NotFound", keyOf(ignored), err)
				}
				m := &cachev1.Memcached{}
				if err := k8sClient.Get(t.Context(), keyOf(ignored), m); err != nil {
					return err
				}
				if m.Status.ObservedGeneration != 0 || len(m.Status.Conditions) > 0 {
					return fmt.Errorf("status %+v was written", m.Status)
				}
				return nil
			})
		})
	}
}

// TestWatchAllNamespaces runs the operator with an empty WATCH_NAMESPACE. It
// is not parallel: such an operator would also reconcile every other test's
// Memcacheds. Go runs it while the parallel tests still wait to start.
func TestWatchAllNamespaces(t *testing.T) {
	namespaces, err := scope.ParseNamespaces("")
	if err != nil || len(namespaces) != 0 {
		t.Fatalf("ParseNamespaces(\"\") = %v, %v; want all namespaces", namespaces, err)
	}
	nsA, nsB := newNamespace(t), newNamespace(t)
	startOperator(t, namespaces, defaultOperand())
	for _, ns := range []string{nsA, nsB} {
		m := newMemcached(t, ns, "cache", 1, "")
		waitForDeployment(t, keyOf(m), "created", replicas(1))
	}
}
