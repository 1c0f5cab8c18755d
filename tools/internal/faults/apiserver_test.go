//go:build e2e

package faults_test

import (
	"syscall"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestAPIServerRestart restarts the API server under a running operator: the
// operator recovers by itself (the same process keeps running) and converges
// a Memcached created and one resized after the restart; per the audit log,
// the API server refused none of its writes, before, during or after the
// restart (a cache that lags the new API server once made it create what
// existed: AlreadyExists, reported as Degraded).
func TestAPIServerRestart(t *testing.T) {
	ns := newNamespace(t, "apiserver")
	id := identity(t, "memcached-operator-restart")
	whole := auditFrom(t)
	op := startOperator(t, id, ns)
	pid := op.Pid()

	want := bench.Want{"before": 2}
	createMemcacheds(t, ns, want)
	tr := tracker(t, ns)
	waitConverged(t, tr, want, "before the restart")
	tr.Stop() // its watches would only log errors while the API server is away

	t.Logf("restarting kube-apiserver under operator pid %d", pid)
	if err := env.Cluster.RestartComponent(t.Context(), testbed.KubeAPIServer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-op.Exited():
		t.Fatalf("the operator (pid %d) exited when the API server went away", pid)
	default:
	}

	audit := auditFrom(t)
	if err := env.Memcacheds(ns).Resize(t.Context(), "before", 3); err != nil {
		t.Fatal(err)
	}
	want["before"] = 3
	want["after"] = 1
	createMemcacheds(t, ns, bench.Want{"after": 1})
	waitConverged(t, tracker(t, ns), want, "after the restart")
	requireOwnership(t, ns)

	select {
	case <-op.Exited():
		t.Fatalf("the operator (pid %d) exited after the API server restart", pid)
	default:
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("operator pid %d is gone: %v", pid, err)
	}
	// The writes after the restart came from that operator, not from a
	// restarted one (there is none) nor from anyone else.
	created, updated := 0, 0
	var writes []bench.AuditEvent
	for _, e := range auditEvents(t, audit) {
		if !e.Mutating() || e.Namespace() != ns || e.User.Username != id.Username {
			continue
		}
		writes = append(writes, e)
		if e.Resource() == "deployments" && !e.Failed() {
			switch e.Verb {
			case "create":
				created++
			case "update", "patch":
				updated++
			}
		}
	}
	t.Logf("the operator's writes after the restart: %s", bench.CountMutating(writes, ns))
	if created != 1 || updated < 1 {
		t.Errorf("after the restart the operator created %d Deployments and updated %d times; want the Deployment of `after` created and that of `before` updated (patched)", created, updated)
	}
	if r := refusedWrites(writesBy(auditEvents(t, whole), id.Username)); len(r) > 0 {
		t.Errorf("the API server refused %d of the operator's writes:\n  %s", len(r), describeWrites(r))
	}
}
