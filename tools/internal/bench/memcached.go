package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// MemcachedGVR is the operator's resource. The tools module does not import
// the operator's module, so Memcacheds are unstructured here.
var MemcachedGVR = schema.GroupVersionResource{Group: "cache.example.com", Version: "v1", Resource: "memcacheds"}

// Labels the operator puts on what it creates (operator/internal/controller/labels.go).
const (
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagerName    = "memcached-operator"
)

// SizeFor is the size of the i-th Memcached of a run: 1, 2, 3, 1, 2, 3, ...
// so every run is the same deterministic mix, averaging two pods.
func SizeFor(i int) int32 { return int32(i%3) + 1 }

// TotalPods is how many pods n Memcacheds of the SizeFor mix run.
func TotalPods(n int) int {
	total := 0
	for i := range n {
		total += int(SizeFor(i))
	}
	return total
}

// NodesFor is how many fake Nodes (500 pods each) n Memcacheds need, with
// room to spare for surges during rollouts.
func NodesFor(n int) int {
	return max(2, (TotalPods(n)+399)/400+1)
}

// MemcachedName names the i-th Memcached of a run.
func MemcachedName(i int) string { return fmt.Sprintf("mc-%04d", i) }

// NewMemcached returns a Memcached of the given size.
func NewMemcached(namespace, name string, size int32) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": MemcachedGVR.GroupVersion().String(),
		"kind":       "Memcached",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       map[string]any{"size": int64(size)},
	}}
}

// Want is what a set of Memcacheds should converge to: name to size.
type Want map[string]int32

// WantFor is the Want of n Memcacheds of the SizeFor mix.
func WantFor(n int) Want {
	w := Want{}
	for i := range n {
		w[MemcachedName(i)] = SizeFor(i)
	}
	return w
}

// CreateMemcacheds creates every Memcached of want, from parallel workers,
// and returns when all are created.
func CreateMemcacheds(ctx context.Context, client dynamic.Interface, namespace string, want Want) error {
	names := make(chan string)
	errs := make(chan error, len(want))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for name := range names {
				_, err := client.Resource(MemcachedGVR).Namespace(namespace).Create(ctx, NewMemcached(namespace, name, want[name]), metav1.CreateOptions{})
				if err != nil {
					errs <- fmt.Errorf("creating memcached %s/%s: %w", namespace, name, err)
				}
			}
		})
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		names <- name
	}
	close(names)
	wg.Wait()
	close(errs)
	return <-errs
}

// Resize sets spec.size of a Memcached.
func Resize(ctx context.Context, client dynamic.Interface, namespace, name string, size int32) error {
	patch := fmt.Appendf(nil, `{"spec":{"size":%d}}`, size)
	_, err := client.Resource(MemcachedGVR).Namespace(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("resizing memcached %s/%s to %d: %w", namespace, name, size, err)
	}
	return nil
}

// seconds rounds a duration to milliseconds, in seconds, for reports.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
