package envtest_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// quietPeriod is how long the operator must make no write before a test
// takes a converged state as settled, and how long after the last reconcile
// it triggered a test keeps checking that no write follows.
const quietPeriod = 750 * time.Millisecond

// TestSteadyStateNoWrites brings a Memcached to a converged state, then makes
// the operator reconcile it again and again without anything it reports
// changing, and across a restart of the operator: it must not write the
// Deployment nor the Memcached, since its writes are what wakes every watcher
// of them.
func TestSteadyStateNoWrites(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	op := startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 2, "")
	key := keyOf(m)
	d := waitForDeployment(t, key, "created", replicas(2))
	pods := []*corev1.Pod{
		newPod(t, d, "cache-0", corev1.PodRunning, true),
		newPod(t, d, "cache-1", corev1.PodRunning, true),
	}
	d = updateDeployment(t, key, true, func(d *appsv1.Deployment) { d.Status = readyStatus(d, 2) })
	m = waitForMemcached(t, key, "converged", func(m *cachev1.Memcached) error {
		if !slices.Equal(m.Status.Nodes, []string{"cache-0", "cache-1"}) {
			return fmt.Errorf("status.nodes %v", m.Status.Nodes)
		}
		return checkConditions(m,
			wantCondition{cachev1.ConditionAvailable, metav1.ConditionTrue, cachev1.ReasonAllReplicasReady},
			wantCondition{cachev1.ConditionProgressing, metav1.ConditionFalse, cachev1.ReasonRolloutComplete},
			wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
	})
	waitForQuiet(t, op)

	// From here on only the test writes.
	since := op.calls.len()
	m, d = currentMemcached(t, key), currentDeployment(t, key)
	waitForCache(t, op, m, d, pods[0], pods[1])
	memcachedVersion := m.ResourceVersion

	// Each trigger is something the operator watches and that changes
	// nothing it reports: the pods' readiness (status.readyReplicas comes
	// from the Deployment) and the Deployment's status conditions.
	triggers := []struct {
		name string
		do   func() client.Object
	}{
		{"pod not ready", func() client.Object {
			return setPodStatus(t, keyOf(pods[0]), corev1.PodRunning, false)
		}},
		{"pod ready again", func() client.Object {
			return setPodStatus(t, keyOf(pods[0]), corev1.PodRunning, true)
		}},
		{"deployment status condition", func() client.Object {
			return updateDeployment(t, key, true, func(d *appsv1.Deployment) {
				d.Status.Conditions = []appsv1.DeploymentCondition{{
					Type:               appsv1.DeploymentAvailable,
					Status:             corev1.ConditionTrue,
					Reason:             "MinimumReplicasAvailable",
					Message:            "Deployment has minimum availability.",
					LastUpdateTime:     metav1.Now(),
					LastTransitionTime: metav1.Now(),
				}}
			})
		}},
	}
	for _, trigger := range triggers {
		before := op.calls.len()
		obj := trigger.do()
		waitForCache(t, op, obj)
		waitForReconcile(t, op, key, before, trigger.name)
	}
	deploymentVersion := currentDeployment(t, key).ResourceVersion

	// An operator restart reconciles every Memcached once more.
	op.stop()
	restarted := startOperator(t, []string{ns}, defaultOperand())
	waitForReconcile(t, restarted, key, 0, "operator restart")

	consistently(t, "the operator must not write in a steady state", quietPeriod, func() error {
		writes := writesIn(op.calls.since(since))
		writes = append(writes, writesIn(restarted.calls.snapshot())...)
		if len(writes) > 0 {
			return fmt.Errorf("the operator wrote %v", writes)
		}
		return nil
	})
	if got := currentMemcached(t, key).ResourceVersion; got != memcachedVersion {
		t.Errorf("memcached resourceVersion %s, was %s: its status was written", got, memcachedVersion)
	}
	if got := currentDeployment(t, key).ResourceVersion; got != deploymentVersion {
		t.Errorf("deployment resourceVersion %s, was %s after the test's last write", got, deploymentVersion)
	}
}

// waitForCache waits until op's cache holds each object at least at the
// resourceVersion the test last saw, so that the next reconcile sees it.
func waitForCache(t *testing.T, op *runningOperator, objs ...client.Object) {
	t.Helper()
	for _, want := range objs {
		eventually(t, fmt.Sprintf("the operator's cache to hold %T %s at resourceVersion %s", want, want.GetName(), want.GetResourceVersion()), func() error {
			got := want.DeepCopyObject().(client.Object)
			if err := op.cache.Get(t.Context(), keyOf(want), got); err != nil {
				return err
			}
			if !resourceVersionAtLeast(got.GetResourceVersion(), want.GetResourceVersion()) {
				return fmt.Errorf("cached at resourceVersion %s", got.GetResourceVersion())
			}
			return nil
		})
	}
}

// resourceVersionAtLeast compares resourceVersions as the etcd revisions
// they are on this API server; clients must not do that in general.
func resourceVersionAtLeast(got, want string) bool {
	g, errG := strconv.ParseUint(got, 10, 64)
	w, errW := strconv.ParseUint(want, 10, 64)
	if errG != nil || errW != nil {
		return got == want
	}
	return g >= w
}

// waitForQuiet waits until op made no write for quietPeriod: the reconciles
// queued while the test built its state have run their course.
func waitForQuiet(t *testing.T, op *runningOperator) {
	t.Helper()
	n, last := op.calls.len(), time.Now()
	eventually(t, "the operator to stop writing", func() error {
		if calls := op.calls.snapshot(); len(calls) != n {
			if len(writesIn(calls[n:])) > 0 {
				last = time.Now()
			}
			n = len(calls)
		}
		if quiet := time.Since(last); quiet < quietPeriod {
			return fmt.Errorf("last write %s ago", quiet)
		}
		return nil
	})
}

// waitForReconcile waits until op, after its first after calls, reconciled
// the Memcached key to the end: it read the Memcached and then listed its
// pods, the last read before the status write.
func waitForReconcile(t *testing.T, op *runningOperator, key types.NamespacedName, after int, why string) {
	t.Helper()
	eventually(t, "a reconcile of "+key.String()+" after "+why, func() error {
		gotMemcached := false
		for _, c := range op.calls.since(after) {
			switch {
			case c.verb == "get" && c.kind == "Memcached" && c.key == key:
				gotMemcached = true
			case gotMemcached && c.verb == "list" && c.kind == "PodList":
				return nil
			}
		}
		return fmt.Errorf("no Memcached read followed by a pod list yet")
	})
}

func writesIn(calls []call) []call {
	var writes []call
	for _, c := range calls {
		if c.write() {
			writes = append(writes, c)
		}
	}
	return writes
}

func currentMemcached(t *testing.T, key types.NamespacedName) *cachev1.Memcached {
	t.Helper()
	m := &cachev1.Memcached{}
	if err := k8sClient.Get(t.Context(), key, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func currentDeployment(t *testing.T, key types.NamespacedName) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := k8sClient.Get(t.Context(), key, d); err != nil {
		t.Fatal(err)
	}
	return d
}
