package envtest_test

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// TestStatusEndpoints creates pods of a Memcached, gives them IPs and
// readiness as a kubelet would, and checks that status.endpoints lists the
// ready ones, sorted.
func TestStatusEndpoints(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	d := waitForDeployment(t, key, "created", nil)
	podKey := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

	for _, step := range []struct {
		name string
		act  func(t *testing.T)
		want []string
	}{
		{
			name: "pods scheduled, no IP yet",
			act: func(t *testing.T) {
				for _, name := range []string{"cache-a", "cache-b", "cache-c"} {
					newPod(t, d, name, corev1.PodPending, false)
				}
			},
			want: nil,
		},
		{
			name: "running and ready with IPs, out of order",
			act: func(t *testing.T) {
				setPodServing(t, podKey("cache-c"), "10.1.0.3", true)
				setPodServing(t, podKey("cache-a"), "10.1.0.1", true)
				setPodServing(t, podKey("cache-b"), "10.1.0.2", true)
			},
			want: []string{"10.1.0.1:11211", "10.1.0.2:11211", "10.1.0.3:11211"},
		},
		{
			name: "a pod that is no longer ready is left out",
			act:  func(t *testing.T) { setPodServing(t, podKey("cache-b"), "10.1.0.2", false) },
			want: []string{"10.1.0.1:11211", "10.1.0.3:11211"},
		},
		{
			name: "ready again",
			act:  func(t *testing.T) { setPodServing(t, podKey("cache-b"), "10.1.0.2", true) },
			want: []string{"10.1.0.1:11211", "10.1.0.2:11211", "10.1.0.3:11211"},
		},
		{
			name: "a deleted pod is left out",
			act: func(t *testing.T) {
				if err := k8sClient.Delete(t.Context(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cache-a"}}); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"10.1.0.2:11211", "10.1.0.3:11211"},
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.act(t)
			waitForMemcached(t, key, fmt.Sprintf("status.endpoints %v", step.want), func(m *cachev1.Memcached) error {
				if !slices.Equal(m.Status.Endpoints, step.want) {
					return fmt.Errorf("status.endpoints %v", m.Status.Endpoints)
				}
				return nil
			})
		})
	}
}
