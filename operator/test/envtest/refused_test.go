package envtest_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// badAffinity passes the CRD's schema (an operator is any string there) but
// not the API server's validation of a pod template.
func badAffinity() *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}},
		}}},
	}}
}

// limitBelowRequest passes the schema too: comparing quantities is beyond
// the CEL of the oldest API servers supported.
func limitBelowRequest() *corev1.ResourceRequirements {
	return &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
}

// TestRefusedPodFields gives a Memcached pod fields that the CRD admits and
// the API server refuses in a Deployment: the Memcached must become Degraded
// with a reason naming the field and a message giving its path in the
// Memcached, and the operator must retry with a growing delay, writing no
// status and reporting no Event while nothing changes.
func TestRefusedPodFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// valid first creates the Memcached valid, so that the refused
		// write is the update of its Deployment, not the create.
		valid      bool
		set        func(*cachev1.MemcachedSpec)
		wantReason string
		wantPath   string
	}{
		{
			name:       "affinity with an unknown operator, at create",
			set:        func(s *cachev1.MemcachedSpec) { s.Affinity = badAffinity() },
			wantReason: cachev1.ReasonInvalidAffinity,
			wantPath:   "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
		},
		{
			name:       "memory limit below the request, at create",
			set:        func(s *cachev1.MemcachedSpec) { s.Resources = limitBelowRequest() },
			wantReason: cachev1.ReasonInvalidResources,
			wantPath:   "spec.resources.requests",
		},
		{
			name:       "memory limit below the request, on a running Memcached",
			valid:      true,
			set:        func(s *cachev1.MemcachedSpec) { s.Resources = limitBelowRequest() },
			wantReason: cachev1.ReasonInvalidResources,
			wantPath:   "spec.resources.requests",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			op := startOperator(t, []string{ns}, defaultOperand())
			m := &cachev1.Memcached{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cache"}, Spec: cachev1.MemcachedSpec{Size: 1}}
			verb := "create"
			if tc.valid {
				verb = "patch"
			} else {
				tc.set(&m.Spec)
			}
			if err := k8sClient.Create(t.Context(), m); err != nil {
				t.Fatalf("the CRD refuses it: %v", err)
			}
			key := keyOf(m)
			if tc.valid {
				waitForDeployment(t, key, "created", nil)
				updateMemcached(t, key, func(m *cachev1.Memcached) { tc.set(&m.Spec) })
			}

			m = waitForMemcached(t, key, "Degraded naming the field", func(m *cachev1.Memcached) error {
				if err := checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionTrue, tc.wantReason}); err != nil {
					return err
				}
				if c := findCondition(m, cachev1.ConditionDegraded); !strings.Contains(c.Message, tc.wantPath+": ") {
					return fmt.Errorf("Degraded message %q does not name %s", c.Message, tc.wantPath)
				}
				return nil
			})
			checkBackoff(t, op, m, verb)
		})
	}
}

// checkBackoff checks, once op's cache holds m as it now is, that op keeps
// retrying its Deployment write (verb) with a growing delay, and that the
// retries write no status and report no Event.
func checkBackoff(t *testing.T, op *runningOperator, m *cachev1.Memcached, verb string) {
	t.Helper()
	waitForCache(t, op, m)
	// A reconcile that read m before the cache had its status may still
	// write it once more; the window starts at the next one, which reads
	// it from the cache as it now is.
	since := nextReconcile(t, op, keyOf(m), op.calls.len())
	warnings := op.events.count(corev1.EventTypeWarning)
	eventually(t, "three more attempts to write the Deployment", func() error {
		if n := len(deploymentWrites(op.calls.since(since), verb)); n < 3 {
			return fmt.Errorf("%d attempts since the status settled", n)
		}
		return nil
	})
	for _, c := range op.calls.since(since) {
		if c.kind == "Memcached" && c.write() {
			t.Errorf("a retry wrote the Memcached: %s", c)
			if w, ok := c.object.(*cachev1.Memcached); ok {
				t.Logf("before: %+v\nwritten: %+v", m.Status.Conditions, w.Status.Conditions)
			}
		}
	}
	if n := op.events.count(corev1.EventTypeWarning) - warnings; n > 0 {
		t.Errorf("the retries reported %d more Warning events", n)
	}

	// controller-runtime's rate limiter waits 5ms after the first failure
	// and twice as long after each next one, so n attempts take at least
	// 5ms·(2^(n-1)-1); a few more come from watch events (the Memcached's
	// creation, its Services'). A hot loop would make hundreds.
	attempts := deploymentWrites(op.calls.snapshot(), verb)
	elapsed := attempts[len(attempts)-1].at.Sub(attempts[0].at)
	bound := int(math.Log2(float64(elapsed)/float64(5*time.Millisecond)+1)) + 1 + 5
	if len(attempts) > bound {
		t.Errorf("%d attempts in %s, want at most %d under exponential backoff", len(attempts), elapsed, bound)
	}
	t.Logf("%d attempts in %s", len(attempts), elapsed)
}

// nextReconcile waits for a reconcile of key that starts after the first
// after calls, and returns the index of its first call.
func nextReconcile(t *testing.T, op *runningOperator, key types.NamespacedName, after int) int {
	t.Helper()
	var start int
	eventually(t, "a reconcile of "+key.String(), func() error {
		for i, c := range op.calls.since(after) {
			if c.verb == "get" && c.kind == "Memcached" && c.key == key {
				start = after + i
				return nil
			}
		}
		return fmt.Errorf("none started yet")
	})
	return start
}

// deploymentWrites are the failed create or patch calls of a Deployment.
func deploymentWrites(calls []call, verb string) []call {
	var writes []call
	for _, c := range calls {
		if c.kind == kindOf(&appsv1.Deployment{}) && c.verb == verb && c.err != nil {
			writes = append(writes, c)
		}
	}
	return writes
}
