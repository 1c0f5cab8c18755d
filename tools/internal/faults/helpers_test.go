//go:build e2e

package faults_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// Waits are generous: a CI machine running other test packages at the same
// time only makes the tests slower, never makes them fail.
const (
	convergeTimeout = 4 * time.Minute
	shortTimeout    = 2 * time.Minute
)

// newNamespace creates a namespace for the test, deleted when it ends.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	name := prefix + "-" + rand.String(5)
	if err := env.CreateNamespace(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Emptied in the background: later tests use other namespaces.
		if err := env.DeleteNamespaces(context.Background(), false, 0, name); err != nil {
			t.Logf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// identity returns the identity of a ServiceAccount with the operator's RBAC.
func identity(t *testing.T, serviceAccount string) *testbed.Identity {
	t.Helper()
	id, err := env.Identity(t.Context(), serviceAccount)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// startOperator runs a manager watching namespace, stopped when the test
// ends; its log is named on failure.
func startOperator(t *testing.T, id *testbed.Identity, namespace string, args ...string) *bench.Operator {
	t.Helper()
	op, err := env.StartOperator(t.Context(), bench.OperatorOptions{Identity: id, WatchNamespace: namespace, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Errorf("stopping the operator (pid %d): %v", op.Pid(), err)
		}
		if t.Failed() {
			t.Logf("operator log: %s", op.LogFile())
		}
	})
	return op
}

// tracker watches namespace until the test ends.
func tracker(t *testing.T, namespace string) *bench.Tracker {
	t.Helper()
	tr, err := bench.NewTracker(t.Context(), env.Admin, env.Dynamic, namespace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Stop)
	return tr
}

// waitConverged fails the test unless every Memcached of want converges.
func waitConverged(t *testing.T, tr *bench.Tracker, want bench.Want, what string) {
	t.Helper()
	waitConvergedWithin(t, tr, want, what, convergeTimeout)
}

func waitConvergedWithin(t *testing.T, tr *bench.Tracker, want bench.Want, what string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	if _, err := tr.WaitConverged(t.Context(), want, start, timeout, func(p bench.Progress) {
		t.Logf("%s: %s after %s", what, p, time.Since(start).Round(time.Second))
	}); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %d Memcacheds converged in %s", what, len(want), time.Since(start).Round(100*time.Millisecond))
}

// requireOwnership fails the test on any duplicate or orphaned object.
func requireOwnership(t *testing.T, namespace string) {
	t.Helper()
	problems, err := bench.CheckOwnership(t.Context(), env.Admin, env.Memcacheds(namespace), namespace)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func createMemcacheds(t *testing.T, namespace string, want bench.Want) {
	t.Helper()
	if err := bench.CreateMemcacheds(t.Context(), env.Memcacheds(namespace), want); err != nil {
		t.Fatal(err)
	}
}

func getDeployment(t *testing.T, namespace, name string) *appsv1.Deployment {
	t.Helper()
	d, err := env.Admin.AppsV1().Deployments(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// updateDeployment edits a Deployment as a person would, retrying on
// conflicts with the operator or the Deployment controller.
func updateDeployment(t *testing.T, namespace, name string, edit func(*appsv1.Deployment)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := env.Admin.AppsV1().Deployments(namespace).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(d)
		_, err = env.Admin.AppsV1().Deployments(namespace).Update(t.Context(), d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("editing Deployment %s: %v", name, err)
	}
}

// waitFor polls cond every 200ms until it returns nil, failing the test
// with the last error after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		last = cond(ctx)
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %v", what, timeout, last)
	}
}

// auditEvents returns the audit events since the reader's last read.
func auditEvents(t *testing.T, r *bench.AuditReader) []bench.AuditEvent {
	t.Helper()
	events, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// auditFrom returns a reader of the events written from now on.
func auditFrom(t *testing.T) *bench.AuditReader {
	t.Helper()
	r := env.Audit()
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	return r
}

func notFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("still exists")
	}
	return err
}

func joinLines(lines []string) string { return strings.Join(lines, "\n  ") }

// writesBy returns the completed mutating requests of user among events.
func writesBy(events []bench.AuditEvent, user string) []bench.AuditEvent {
	var out []bench.AuditEvent
	for _, e := range events {
		if e.Mutating() && e.User.Username == user {
			out = append(out, e)
		}
	}
	return out
}

// refusedWrites returns the writes the API server refused as the client's
// fault (4xx: forbidden, conflict, invalid, already exists, not found).
func refusedWrites(writes []bench.AuditEvent) []bench.AuditEvent {
	var out []bench.AuditEvent
	for _, e := range writes {
		if e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 && e.ResponseStatus.Code < 500 {
			out = append(out, e)
		}
	}
	return out
}

// describeWrites lists writes, one a line, for a failure message.
func describeWrites(writes []bench.AuditEvent) string {
	lines := make([]string, 0, len(writes))
	for _, e := range writes {
		code := 0
		if e.ResponseStatus != nil {
			code = e.ResponseStatus.Code
		}
		name := ""
		if e.ObjectRef != nil {
			name = e.ObjectRef.Namespace + "/" + e.ObjectRef.Name
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %s: %d", e.RequestReceived.Format(time.StampMicro), e.Verb, e.Resource(), name, code))
	}
	return joinLines(lines)
}
