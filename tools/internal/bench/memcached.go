package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
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
func NodesFor(n int) int { return NodesForPods(TotalPods(n)) }

// NodesForPods is how many fake Nodes (500 pods each) pods need, with room
// to spare for surges during rollouts.
func NodesForPods(pods int) int {
	return max(2, (pods+399)/400+1)
}

// MemcachedName names the i-th Memcached of a run.
func MemcachedName(i int) string { return fmt.Sprintf("mc-%04d", i) }

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
func CreateMemcacheds(ctx context.Context, memcacheds testbed.MemcachedClient, want Want) error {
	names := slices.Sorted(maps.Keys(want))
	return createParallel(ctx, len(names), func(i int) error {
		return memcacheds.Create(ctx, testbed.NewMemcached("", names[i], want[names[i]]))
	})
}

// createParallel calls create for 0..n-1 from 16 workers, in order, and
// returns the first error once all calls are done.
func createParallel(ctx context.Context, n int, create func(i int) error) error {
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				if err := create(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

// Workload is what one convergence run creates at once: CRs Memcacheds
// mc-0000, mc-0001, ... spread round-robin over Namespaces namespaces (so
// that a controller's per-namespace costs show), all of Size replicas, or
// of the SizeFor mix when Size is 0.
type Workload struct {
	CRs        int   `json:"crs"`
	Namespaces int   `json:"namespaces"`
	Size       int32 `json:"size,omitempty"`
}

// Item is one Memcached of a workload.
type Item struct {
	Namespace, Name string
	Size            int32
}

// NamespaceNames are the workload's namespaces for a run named run: run
// itself when there is one, run-00, run-01, ... otherwise.
func (w Workload) NamespaceNames(run string) []string {
	if w.Namespaces <= 1 {
		return []string{run}
	}
	names := make([]string, w.Namespaces)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", run, i)
	}
	return names
}

// Items are the workload's Memcacheds in the order they are created.
func (w Workload) Items(run string) []Item {
	namespaces := w.NamespaceNames(run)
	items := make([]Item, w.CRs)
	for i := range items {
		size := w.Size
		if size == 0 {
			size = SizeFor(i)
		}
		items[i] = Item{Namespace: namespaces[i%len(namespaces)], Name: MemcachedName(i), Size: size}
	}
	return items
}

// Pods is how many pods the workload runs.
func (w Workload) Pods() int {
	if w.Size == 0 {
		return TotalPods(w.CRs)
	}
	return w.CRs * int(w.Size)
}

// Want is what the workload converges to, keyed namespace/name as a
// Tracker of every namespace names them.
func (w Workload) Want(run string) Want {
	want := Want{}
	for _, it := range w.Items(run) {
		want[it.Namespace+"/"+it.Name] = it.Size
	}
	return want
}

// String describes the workload in reports.
func (w Workload) String() string {
	sizes := "sizes 1, 2, 3, 1, ..."
	if w.Size != 0 {
		sizes = fmt.Sprintf("size %d", w.Size)
	}
	return fmt.Sprintf("%d Memcacheds of %s (%d pods) over %d namespace(s)", w.CRs, sizes, w.Pods(), max(1, w.Namespaces))
}

// CreateItems creates the Memcacheds from parallel workers, in order, and
// returns when all are created.
func CreateItems(ctx context.Context, env *Env, items []Item) error {
	return createParallel(ctx, len(items), func(i int) error {
		it := items[i]
		return env.Memcacheds(it.Namespace).Create(ctx, testbed.NewMemcached("", it.Name, it.Size))
	})
}

// seconds rounds a duration to milliseconds, in seconds, for reports.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
