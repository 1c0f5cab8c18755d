package controller

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// The envtest TestExtraArgsAgainstMemcached checks ExtraArgAllowed on every
// form of every option the real memcached has; these are its landmarks.
func TestExtraArgAllowed(t *testing.T) {
	for _, a := range []string{"-o", "modern", "-MC", "-MCo", "-Momodern", "--extended=modern", "--disable-evictions", "--", "", "-R40"} {
		if !ExtraArgAllowed(a) {
			t.Errorf("%q refused", a)
		}
	}
	for _, a := range []string{"-m", "-Mm2", "-Cv", "-d", "-V", "-A", "--memory-limit=2", "--ext=modern", "--disable-evictions=1", "-x", "-s"} {
		if ExtraArgAllowed(a) {
			t.Errorf("%q allowed", a)
		}
	}
}

// A stored extraArgs the allow-list refuses makes the Memcached Degraded, naming
// each argument left out.
func TestDegradedByRefusedExtraArgs(t *testing.T) {
	m := memcached(3, "")
	m.Spec.ExtraArgs = []string{"-o", "modern", "-Mm2"}
	status := computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 3, 3)}, metav1.NewTime(time.Unix(1000, 0)))
	c := meta.FindStatusCondition(status.Conditions, cachev1.ConditionDegraded)
	if c.Status != metav1.ConditionTrue || c.Reason != cachev1.ReasonInvalidExtraArgs ||
		!strings.Contains(c.Message, `spec.extraArgs[2] "-Mm2" left out of memcached's command line`) {
		t.Errorf("Degraded = %s/%s: %s", c.Status, c.Reason, c.Message)
	}
	m.Spec.ExtraArgs = []string{"-o", "modern"}
	status = computeStatus(m, observed{deployment: deploymentStatus(2, 2, 3, 3, 3, 3)}, metav1.NewTime(time.Unix(1000, 0)))
	if c := meta.FindStatusCondition(status.Conditions, cachev1.ConditionDegraded); c.Status != metav1.ConditionFalse {
		t.Errorf("Degraded = %s/%s with allowed extraArgs", c.Status, c.Reason)
	}
}
