package envtest_test

import (
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

// TestStatusNodes creates, changes and deletes pods of a Memcached (envtest
// has no ReplicaSet controller to do it) and checks status.nodes.
func TestStatusNodes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	d := waitForDeployment(t, key, "created", nil)

	// Pods that are not this Memcached's, running and ready: another
	// instance's, and one with cache's selector labels but without the
	// operator's label (so outside its cache).
	other := podFromTemplate(d, "other-0")
	other.Labels = map[string]string{
		controller.NameLabel:      controller.AppName,
		controller.InstanceLabel:  "other",
		controller.ManagedByLabel: controller.ManagerName,
	}
	createPod(t, other, corev1.PodRunning, true)
	unmanaged := podFromTemplate(d, "cache-unmanaged")
	unmanaged.Labels = map[string]string{controller.NameLabel: controller.AppName, controller.InstanceLabel: "cache"}
	createPod(t, unmanaged, corev1.PodRunning, true)

	for _, step := range []struct {
		name string
		act  func(t *testing.T)
		want []string
	}{
		{
			name: "three running pods, created out of order",
			act: func(t *testing.T) {
				for _, name := range []string{"cache-c", "cache-a", "cache-b"} {
					newPod(t, d, name, corev1.PodRunning, true)
				}
			},
			want: []string{"cache-a", "cache-b", "cache-c"},
		},
		{
			name: "a pod not ready yet is listed",
			act: func(t *testing.T) {
				newPod(t, d, "cache-d", corev1.PodPending, false)
			},
			want: []string{"cache-a", "cache-b", "cache-c", "cache-d"},
		},
		{
			name: "a deleted pod disappears",
			act: func(t *testing.T) {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cache-b"}}
				if err := k8sClient.Delete(t.Context(), pod); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"cache-a", "cache-c", "cache-d"},
		},
		{
			name: "a failed pod disappears",
			act: func(t *testing.T) {
				setPodStatus(t, types.NamespacedName{Namespace: ns, Name: "cache-d"}, corev1.PodFailed, false)
			},
			want: []string{"cache-a", "cache-c"},
		},
		{
			name: "a terminating pod disappears",
			act: func(t *testing.T) {
				key := types.NamespacedName{Namespace: ns, Name: "cache-c"}
				pod := &corev1.Pod{}
				if err := k8sClient.Get(t.Context(), key, pod); err != nil {
					t.Fatal(err)
				}
				// A finalizer keeps the pod, terminating, after the delete.
				pod.Finalizers = append(pod.Finalizers, "test.example.com/hold")
				if err := k8sClient.Update(t.Context(), pod); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := cleanupContext()
					defer cancel()
					if err := k8sClient.Get(ctx, key, pod); err != nil {
						return
					}
					pod.Finalizers = nil
					if err := k8sClient.Update(ctx, pod); err != nil {
						t.Errorf("removing the finalizer of %s: %v", key, err)
					}
				})
				if err := k8sClient.Delete(t.Context(), pod); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"cache-a"},
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.act(t)
			waitForMemcached(t, key, fmt.Sprintf("status.nodes %v", step.want), func(m *cachev1.Memcached) error {
				if !slices.Equal(m.Status.Nodes, step.want) {
					return fmt.Errorf("status.nodes %v, want %v", m.Status.Nodes, step.want)
				}
				return nil
			})
		})
	}
}

// TestConditions writes the Deployment's status as the Deployment controller
// would through a rollout and checks the conditions the operator derives.
func TestConditions(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	waitForDeployment(t, key, "created", nil)

	var (
		available   = wantCondition{Type: cachev1.ConditionAvailable}
		progressing = wantCondition{Type: cachev1.ConditionProgressing}
		degraded    = wantCondition{Type: cachev1.ConditionDegraded}
	)
	is := func(c wantCondition, status metav1.ConditionStatus, reason string) wantCondition {
		c.Status, c.Reason = status, reason
		return c
	}
	stalled := []appsv1.DeploymentCondition{{
		Type:               appsv1.DeploymentProgressing,
		Status:             corev1.ConditionFalse,
		Reason:             "ProgressDeadlineExceeded",
		Message:            "ReplicaSet cache-abc has timed out progressing.",
		LastUpdateTime:     metav1.Now(),
		LastTransitionTime: metav1.Now(),
	}}

	for _, step := range []struct {
		name string
		// size, when not zero, is set in the Memcached's spec first.
		size int32
		// status, when set, is written into the Deployment's status.
		status    func(d *appsv1.Deployment) appsv1.DeploymentStatus
		want      []wantCondition
		wantReady int32
	}{
		{
			name: "nothing runs yet",
			want: []wantCondition{
				is(available, metav1.ConditionFalse, cachev1.ReasonReplicasNotReady),
				is(progressing, metav1.ConditionTrue, cachev1.ReasonRollingOut),
				is(degraded, metav1.ConditionFalse, cachev1.ReasonAsExpected),
			},
		},
		{
			name: "two of three ready",
			status: func(d *appsv1.Deployment) appsv1.DeploymentStatus {
				s := readyStatus(d, 3)
				s.ReadyReplicas, s.AvailableReplicas = 2, 2
				return s
			},
			want: []wantCondition{
				is(available, metav1.ConditionFalse, cachev1.ReasonReplicasNotReady),
				is(progressing, metav1.ConditionTrue, cachev1.ReasonRollingOut),
				is(degraded, metav1.ConditionFalse, cachev1.ReasonAsExpected),
			},
			wantReady: 2,
		},
		{
			name:   "all ready",
			status: func(d *appsv1.Deployment) appsv1.DeploymentStatus { return readyStatus(d, 3) },
			want: []wantCondition{
				is(available, metav1.ConditionTrue, cachev1.ReasonAllReplicasReady),
				is(progressing, metav1.ConditionFalse, cachev1.ReasonRolloutComplete),
				is(degraded, metav1.ConditionFalse, cachev1.ReasonAsExpected),
			},
			wantReady: 3,
		},
		{
			name: "rollout stalled",
			status: func(d *appsv1.Deployment) appsv1.DeploymentStatus {
				s := readyStatus(d, 3)
				s.ReadyReplicas, s.AvailableReplicas = 2, 2
				s.Conditions = stalled
				return s
			},
			want: []wantCondition{
				is(available, metav1.ConditionFalse, cachev1.ReasonReplicasNotReady),
				is(progressing, metav1.ConditionFalse, cachev1.ReasonProgressDeadlineExceeded),
				is(degraded, metav1.ConditionTrue, cachev1.ReasonProgressDeadlineExceeded),
			},
			wantReady: 2,
		},
		{
			name:   "recovered",
			status: func(d *appsv1.Deployment) appsv1.DeploymentStatus { return readyStatus(d, 3) },
			want: []wantCondition{
				is(available, metav1.ConditionTrue, cachev1.ReasonAllReplicasReady),
				is(progressing, metav1.ConditionFalse, cachev1.ReasonRolloutComplete),
				is(degraded, metav1.ConditionFalse, cachev1.ReasonAsExpected),
			},
			wantReady: 3,
		},
		{
			// A new spec: a new generation, which the Deployment has not
			// observed yet.
			name: "grown to 4",
			size: 4,
			want: []wantCondition{
				is(available, metav1.ConditionFalse, cachev1.ReasonReplicasNotReady),
				is(progressing, metav1.ConditionTrue, cachev1.ReasonRollingOut),
				is(degraded, metav1.ConditionFalse, cachev1.ReasonAsExpected),
			},
			wantReady: 3,
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			generation := m.Generation
			if step.size != 0 {
				generation = updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = step.size }).Generation
				waitForDeployment(t, key, "resized", replicas(step.size))
			}
			if step.status != nil {
				updateDeployment(t, key, true, func(d *appsv1.Deployment) { d.Status = step.status(d) })
			}
			waitForMemcached(t, key, fmt.Sprintf("conditions %v", step.want), func(m *cachev1.Memcached) error {
				if m.Generation != generation {
					return fmt.Errorf("generation %d, want %d", m.Generation, generation)
				}
				if err := checkConditions(m, step.want...); err != nil {
					return err
				}
				if m.Status.ReadyReplicas != step.wantReady {
					return fmt.Errorf("status.readyReplicas %d, want %d", m.Status.ReadyReplicas, step.wantReady)
				}
				return nil
			})
		})
	}
}
