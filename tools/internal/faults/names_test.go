//go:build e2e

package faults_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestNamesServedOrRefused: a Memcached name is either refused by the API
// server or run to the end (Deployment, Services, status). Object names may
// have 253 characters and dots; Service names and label values may not.
func TestNamesServedOrRefused(t *testing.T) {
	// operator/api/v1.MaxNameLength; the tools module does not import the
	// operator's, so that each builds alone.
	const maxNameLength = 54
	ns := newNamespace(t, "names")
	startOperator(t, identity(t, testbed.OperatorServiceAccount), ns)
	longest := strings.Repeat("m", maxNameLength)
	for _, name := range []string{strings.Repeat("m", maxNameLength+1), strings.Repeat("m", 253), "dotted.name", "0-starts-with-a-digit"} {
		err := env.Memcacheds(ns).Create(t.Context(), testbed.NewMemcached(ns, name, 1))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
			t.Errorf("Memcached %q: got %v, want Invalid naming metadata.name", name, err)
		}
	}
	if err := env.Memcacheds(ns).Create(t.Context(), testbed.NewMemcached(ns, longest, 2)); err != nil {
		t.Fatalf("the longest accepted name: %v", err)
	}
	waitConverged(t, tracker(t, ns), bench.Want{longest: 2}, "a Memcached with the longest accepted name")
	for _, svc := range []string{longest, longest + "-headless"} {
		if _, err := env.Admin.CoreV1().Services(ns).Get(t.Context(), svc, metav1.GetOptions{}); err != nil {
			t.Errorf("Service %s: %v", svc, err)
		}
	}
}
