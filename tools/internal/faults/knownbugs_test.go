//go:build e2e

package faults_test

// The tests in this file pin down operator bugs that are not fixed yet. They
// assert the correct behaviour, fail against the current operator, and are
// skipped unless FAULTS_KNOWN_BUGS is set. Whoever fixes one removes its
// knownBug call.

import (
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
)

func knownBug(t *testing.T, bug string) {
	t.Helper()
	if os.Getenv("FAULTS_KNOWN_BUGS") == "" {
		t.Skipf("known bug, not fixed yet (set FAULTS_KNOWN_BUGS=1 to run): %s", bug)
	}
}

// TestLongNameServedOrRefused creates a Memcached whose name is a valid
// object name (up to 253 characters) but too long for a label value (63):
// the API server must either refuse it or the operator must run it. Today
// the API server accepts it and the operator can never create its
// Deployment, whose instance label would hold the name.
func TestLongNameServedOrRefused(t *testing.T) {
	knownBug(t, "a Memcached named with 64 to 253 characters is accepted but never gets a Deployment (labels.go: the instance label value is the name)")
	ns := newNamespace(t, "longname")
	startOperator(t, identity(t, bench.OperatorServiceAccount), ns)
	name := strings.Repeat("m", 64)
	_, err := env.Dynamic.Resource(bench.MemcachedGVR).Namespace(ns).Create(t.Context(), bench.NewMemcached(ns, name, 1), metav1.CreateOptions{})
	if apierrors.IsInvalid(err) {
		t.Logf("refused: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	waitConvergedWithin(t, tracker(t, ns), bench.Want{name: 1}, "a Memcached with a 64-character name", time.Minute)
}
