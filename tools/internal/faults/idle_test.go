//go:build e2e

package faults_test

import (
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
)

const (
	// idleCRs converge before the idle window.
	idleCRs = 100
	// idleWindow is how long a converged operator must write nothing.
	idleWindow = 30 * time.Second
)

// TestIdleAfterConvergence: 100 Memcacheds converge; then, for 30 s, the
// audit log shows no mutating request by the operator (a converged operator
// writes nothing), and at no time did the API server refuse one of its
// writes (4xx: a conflict, an AlreadyExists, a forbidden request).
func TestIdleAfterConvergence(t *testing.T) {
	ns := newNamespace(t, "idle")
	id := identity(t, "memcached-operator-idle")
	audit := auditFrom(t)
	startOperator(t, id, ns)
	tr := tracker(t, ns)
	want := bench.WantFor(idleCRs)
	createMemcacheds(t, ns, want)
	waitConverged(t, tr, want, "rollout")

	windowStart := time.Now()
	t.Logf("idle window of %s from %s", idleWindow, windowStart.Format(time.StampMicro))
	select {
	case <-time.After(idleWindow):
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	writes := writesBy(auditEvents(t, audit), id.Username)
	var idle []bench.AuditEvent
	for _, e := range writes {
		if !e.RequestReceived.Before(windowStart) {
			idle = append(idle, e)
		}
	}
	t.Logf("the operator's writes: %s", bench.CountMutating(writes, ""))
	// The audit log saw the rollout: at least a create of each Deployment.
	if n := bench.CountMutating(writes, ns).ByKind["create deployments"]; n < idleCRs {
		t.Fatalf("the audit log shows %d Deployments created by %s, want %d: the log or the filter is wrong", n, id.Username, idleCRs)
	}
	if len(idle) > 0 {
		t.Errorf("the converged operator wrote %d times in the %s idle window:\n  %s", len(idle), idleWindow, describeWrites(idle))
	}
	if r := refusedWrites(writes); len(r) > 0 {
		t.Errorf("the API server refused %d of the operator's writes:\n  %s", len(r), describeWrites(r))
	}
}
