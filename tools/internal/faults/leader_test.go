//go:build e2e

package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
)

// TestLeaderFailover runs two replicas with leader election, each under a
// ServiceAccount of its own so the audit log tells their requests apart. A
// starts first and takes the Lease; B waits. A is SIGKILLed: B takes over and
// reconciles new and changed Memcacheds. Throughout, only one replica writes
// at a time: every write of A precedes every write of B.
func TestLeaderFailover(t *testing.T) {
	ns := newNamespace(t, "leader")
	a, b := identity(t, "memcached-operator-a"), identity(t, "memcached-operator-b")
	leases := env.Admin.CoordinationV1().Leases(bench.OperatorNamespace)
	if err := leases.Delete(t.Context(), bench.LeaseName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	audit := auditFrom(t)
	args := []string{"--leader-elect", "--leader-election-namespace=" + bench.OperatorNamespace}

	opA := startOperator(t, a, ns, args...)
	holderA := waitForHolder(t, "")
	t.Logf("replica A (pid %d) holds the Lease as %s", opA.Pid(), holderA)
	opB := startOperator(t, b, ns, args...)
	t.Logf("replica B (pid %d) started and waits for the Lease", opB.Pid())

	tr := tracker(t, ns)
	first := bench.Want{"first-0": 1, "first-1": 2, "first-2": 3}
	createMemcacheds(t, ns, first)
	waitConverged(t, tr, first, "under A")

	t.Logf("SIGKILL replica A (pid %d)", opA.Pid())
	opA.Kill()
	holderB := waitForHolder(t, holderA)
	t.Logf("replica B holds the Lease as %s", holderB)

	want := bench.Want{"second-0": 2, "second-1": 1}
	createMemcacheds(t, ns, want)
	if err := bench.Resize(t.Context(), env.Dynamic, ns, "first-0", 3); err != nil {
		t.Fatal(err)
	}
	first["first-0"] = 3
	for name, size := range first {
		want[name] = size
	}
	waitConverged(t, tr, want, "under B")
	requireOwnership(t, ns)
	select {
	case <-opB.Exited():
		t.Fatal("replica B exited")
	default:
	}

	events := auditEvents(t, audit)
	spans := bench.Writers(events, a.Username, b.Username)
	sa, sb := spans[a.Username], spans[b.Username]
	t.Logf("A wrote %d times from %s to %s; B wrote %d times from %s to %s",
		sa.Count, sa.First.Format(time.StampMicro), sa.Last.Format(time.StampMicro),
		sb.Count, sb.First.Format(time.StampMicro), sb.Last.Format(time.StampMicro))
	if sa.Count == 0 || sb.Count == 0 {
		t.Fatalf("want writes from both replicas, one after the other; got %d from A and %d from B", sa.Count, sb.Count)
	}
	if !sa.Last.Before(sb.First) {
		t.Errorf("both replicas wrote at the same time: A's last write ended at %s, B's first began at %s",
			sa.Last.Format(time.StampMicro), sb.First.Format(time.StampMicro))
	}
	// B did the work after the failover: A is dead, and its writes all
	// predate B's, so every write to the second set is B's.
	writesB := bench.CountMutating(events, ns, b.Username)
	if writesB.ByKind["create deployments"] != 2 {
		t.Errorf("B created %d Deployments, want the 2 of the second set (B wrote %s)", writesB.ByKind["create deployments"], writesB)
	}
}

// waitForHolder waits until the Lease has a holder other than previous and
// returns it.
func waitForHolder(t *testing.T, previous string) string {
	t.Helper()
	var holder string
	waitFor(t, "a new Lease holder", shortTimeout, func(ctx context.Context) error {
		lease, err := env.Admin.CoordinationV1().Leases(bench.OperatorNamespace).Get(ctx, bench.LeaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || *lease.Spec.HolderIdentity == previous {
			return fmt.Errorf("holder %v", lease.Spec.HolderIdentity)
		}
		holder = *lease.Spec.HolderIdentity
		return nil
	})
	return holder
}
