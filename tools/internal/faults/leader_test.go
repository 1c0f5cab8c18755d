//go:build e2e

package faults_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestLeaderFailover runs two replicas with leader election, each under a
// ServiceAccount of its own so the audit log tells their requests apart. A
// starts first and takes the Lease; B waits. A is frozen (SIGSTOP), as a
// long GC pause, a stalled node or a debugger would: it cannot renew, its
// Lease expires and B takes over and reconciles new and changed Memcacheds.
// Then A is thawed (SIGCONT) with work waiting in its watches. It must write
// nothing once B has written: every write of A precedes B's first.
func TestLeaderFailover(t *testing.T) {
	ns := newNamespace(t, "leader")
	a, b := identity(t, "memcached-operator-a"), identity(t, "memcached-operator-b")
	leases := env.Admin.CoordinationV1().Leases(testbed.OperatorNamespace)
	if err := leases.Delete(t.Context(), testbed.LeaseName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	audit := auditFrom(t)
	args := []string{"--leader-elect", "--leader-election-namespace=" + testbed.OperatorNamespace}

	opA := startOperator(t, a, ns, args...)
	holderA := waitForHolder(t, "")
	t.Logf("replica A (pid %d) holds the Lease as %s", opA.Pid(), holderA)
	opB := startOperator(t, b, ns, args...)
	t.Logf("replica B (pid %d) started and waits for the Lease", opB.Pid())

	tr := tracker(t, ns)
	first := bench.Want{"first-0": 1, "first-1": 2, "first-2": 3}
	createMemcacheds(t, ns, first)
	waitConverged(t, tr, first, "under A")

	freezeAfterRenewal(t, opA, holderA)
	holderB := waitForHolder(t, holderA)
	t.Logf("replica B holds the Lease as %s", holderB)

	want := bench.Want{"second-0": 2, "second-1": 1}
	createMemcacheds(t, ns, want)
	for name, size := range map[string]int32{"first-0": 3, "first-1": 1} {
		if err := env.Memcacheds(ns).Resize(t.Context(), name, size); err != nil {
			t.Fatal(err)
		}
		first[name] = size
	}
	for name, size := range first {
		want[name] = size
	}
	waitConverged(t, tr, want, "under B")

	t.Logf("SIGCONT replica A (pid %d)", opA.Pid())
	thaw(t, opA)
	select {
	case <-opA.Exited():
		t.Logf("replica A exited: %v", opA.ExitErr())
	case <-time.After(shortTimeout):
		t.Fatalf("replica A still runs %s after it lost the Lease", shortTimeout)
	}
	// B keeps leading: a change after A's exit converges.
	if err := env.Memcacheds(ns).Resize(t.Context(), "second-1", 2); err != nil {
		t.Fatal(err)
	}
	want["second-1"] = 2
	waitConverged(t, tr, want, "after A exited")
	requireOwnership(t, ns)
	select {
	case <-opB.Exited():
		t.Fatal("replica B exited")
	default:
	}
	checkOneLeaderAtATime(t, auditEvents(t, audit), ns, a.Username, b.Username)
}

// checkOneLeaderAtATime fails the test unless, in the audit log, every write
// of a (the first leader) ended before the first write of b (its Lease
// takeover), and b created the Deployments of the second set.
func checkOneLeaderAtATime(t *testing.T, events []bench.AuditEvent, ns, a, b string) {
	t.Helper()
	spans := bench.Writers(events, a, b)
	sa, sb := spans[a], spans[b]
	t.Logf("A wrote %d times from %s to %s; B wrote %d times from %s to %s",
		sa.Count, sa.First.Format(time.StampMicro), sa.Last.Format(time.StampMicro),
		sb.Count, sb.First.Format(time.StampMicro), sb.Last.Format(time.StampMicro))
	if sa.Count == 0 || sb.Count == 0 {
		t.Fatalf("want writes from both replicas, one after the other; got %d from A and %d from B", sa.Count, sb.Count)
	}
	var late []bench.AuditEvent
	for _, e := range writesBy(events, a) {
		if !e.StageTimestamp.Before(sb.First) {
			late = append(late, e)
		}
	}
	if len(late) > 0 {
		t.Errorf("two leaders: replica A wrote %d times after B's first write at %s:\n  %s",
			len(late), sb.First.Format(time.StampMicro), describeWrites(late))
	}
	writesB := bench.CountMutating(events, ns, b)
	if writesB.ByKind["create deployments"] != 2 {
		t.Errorf("B created %d Deployments, want the 2 of the second set (B wrote %s)", writesB.ByKind["create deployments"], writesB)
	}
}

// freezeAfterRenewal stops op's process group with SIGSTOP right after it
// renewed the Lease as holder: the elector then sleeps until its next
// renewal, the longest it can run on after waking. thaw, or the end of the
// test, resumes it.
func freezeAfterRenewal(t *testing.T, op *bench.Operator, holder string) {
	t.Helper()
	leases := env.Admin.CoordinationV1().Leases(testbed.OperatorNamespace)
	renewed := func(ctx context.Context) (string, error) {
		l, err := leases.Get(ctx, testbed.LeaseName, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != holder || l.Spec.RenewTime == nil {
			return "", fmt.Errorf("the Lease is not held by %s", holder)
		}
		return l.Spec.RenewTime.String(), nil
	}
	last, err := renewed(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, shortTimeout, false, func(ctx context.Context) (bool, error) {
		now, err := renewed(ctx)
		return now != last, err
	})
	if err != nil {
		t.Fatalf("waiting for a renewal of the Lease by A: %v", err)
	}
	if err := syscall.Kill(-op.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGSTOP replica A (pid %d) right after it renewed the Lease", op.Pid())
	t.Cleanup(func() { _ = syscall.Kill(-op.Pid(), syscall.SIGCONT) })
}

func thaw(t *testing.T, op *bench.Operator) {
	t.Helper()
	if err := syscall.Kill(-op.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// waitForHolder waits until the Lease has a holder other than previous and
// returns it.
func waitForHolder(t *testing.T, previous string) string {
	t.Helper()
	var holder string
	waitFor(t, "a new Lease holder", shortTimeout, func(ctx context.Context) error {
		lease, err := env.Admin.CoordinationV1().Leases(testbed.OperatorNamespace).Get(ctx, testbed.LeaseName, metav1.GetOptions{})
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
