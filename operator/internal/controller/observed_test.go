package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// someProblems is a reconcile that met one problem of each kind.
func someProblems() observed {
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "memcached-sample"}}
	return observed{
		failures: []failure{
			{verb: "get", kind: "Service", name: "memcached-sample", err: errors.New("timeout")},
			{verb: "update", kind: "Deployment", name: "memcached-sample", related: &appsv1.Deployment{}, err: errors.New("forbidden")},
		},
		notOwned: []objectRef{{kind: "PodDisruptionBudget", object: pdb}},
	}
}

// The Degraded message lists every problem, in the order met: one must not
// hide another.
func TestDegradedListsEveryProblem(t *testing.T) {
	m := memcached(3, "")
	c := degradedCondition(m, someProblems())
	if c.Status != metav1.ConditionTrue || c.Reason != cachev1.ReasonReconcileFailed {
		t.Fatalf("Degraded = %s/%s, want True/%s", c.Status, c.Reason, cachev1.ReasonReconcileFailed)
	}
	want := "getting Service memcached-sample: timeout; updating Deployment memcached-sample: forbidden; " +
		"PodDisruptionBudget memcached-sample exists and is not controlled by memcached memcached-sample"
	if c.Message != want {
		t.Errorf("message %q, want %q", c.Message, want)
	}
}

// A failed write and an object in the way are Warnings; a failed read is
// not worth one.
func TestWarnings(t *testing.T) {
	obs := someProblems()
	got := obs.warnings()
	var reasons []string
	for _, n := range got {
		if n.eventType != corev1.EventTypeWarning {
			t.Errorf("%s is a %s event, want Warning", n.reason, n.eventType)
		}
		reasons = append(reasons, n.reason+"/"+n.action)
	}
	if want := "ReconcileFailed/Update PodDisruptionBudgetNotOwned/Update"; strings.Join(reasons, " ") != want {
		t.Errorf("warnings %v, want %s", reasons, want)
	}
	if got[0].message != "Failed to update Deployment memcached-sample: forbidden" || got[0].related == nil {
		t.Errorf("update failure reported as %q about %v", got[0].message, got[0].related)
	}
	if !strings.Contains(got[1].message, "is not controlled by this Memcached") {
		t.Errorf("not-owned reported as %q", got[1].message)
	}
}

// Reconcile returns an error, which has controller-runtime retry with
// backoff, exactly when something failed or is in the way.
func TestObservedErr(t *testing.T) {
	if err := (&observed{deployment: &appsv1.Deployment{}}).err("cache"); err != nil {
		t.Errorf("nothing failed, got %v", err)
	}
	obs := someProblems()
	err := obs.err("cache")
	if err == nil || !strings.Contains(err.Error(), "not controlled by memcached cache") || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("err = %v, want both failures and the object in the way", err)
	}
}

func TestDegradedChanged(t *testing.T) {
	m := memcached(3, "")
	t1, t2 := metav1.NewTime(time.Unix(1000, 0)), metav1.NewTime(time.Unix(2000, 0))
	failing := computeStatus(m, someProblems(), t1)
	fine := computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 3, 3)}, t1)
	other := someProblems()
	other.failures = other.failures[:1]
	for _, tt := range []struct {
		name          string
		before, after cachev1.MemcachedStatus
		want          bool
	}{
		{"no status yet", cachev1.MemcachedStatus{}, failing, true},
		{"same failure again, later", failing, computeStatus(m, someProblems(), t2), false},
		{"recovered", failing, fine, true},
		{"another failure", failing, computeStatus(m, other, t2), true},
		{"still fine", fine, computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 3, 3)}, t2), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := degradedChanged(tt.before, tt.after); got != tt.want {
				t.Errorf("degradedChanged = %t, want %t", got, tt.want)
			}
		})
	}
}
