package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
)

// BenchmarkGenerateAndValidate1000 renders and validates a catalog of 1,000
// releases (1.0.0 … 1.49.19; all in candidate, even patches in fast, .0
// releases in stable): reading 1,000 bundle directories, computing the
// channels (operator-registry's semver template), writing the catalog, reloading it as opm does, model
// validation, graph checks and CRD upgrade safety between every pair of
// consecutive releases and along every edge. Reports the peak heap and the
// memory obtained from the OS besides time and allocations.
func BenchmarkGenerateAndValidate1000(b *testing.B) {
	const n = 1000
	root := b.TempDir()
	releases := make([]fixture.Release, 0, n)
	for i := range n {
		v := fmt.Sprintf("1.%d.%d", i/20, i%20)
		channels := []string{"candidate"}
		if i%2 == 0 {
			channels = append(channels, "fast")
		}
		if i%20 == 0 {
			channels = append(channels, "stable")
		}
		releases = append(releases, fixture.Release{Version: v, Channels: channels})
	}
	template, releasesDir, err := fixture.WriteRepo(root, releases...)
	if err != nil {
		b.Fatal(err)
	}
	opts := RenderOptions{Template: template, ReleasesDir: releasesDir}
	ctx := context.Background()

	runtime.GC()
	var peakHeap, peakSys uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapAlloc)
			peakSys = max(peakSys, ms.Sys)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	cpuBefore := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	var res *RenderResult
	for b.Loop() {
		res, err = Render(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpuBefore
	close(stop)
	wg.Wait()

	if len(res.Bundles) != n {
		b.Fatalf("rendered %d bundles", len(res.Bundles))
	}
	data, err := os.ReadFile(filepath.Join(res.PackageDir, CatalogFile))
	if err != nil {
		b.Fatal(err)
	}
	if got := strings.Count(string(data), "schema: olm.bundle"); got != n {
		b.Fatalf("catalog holds %d bundles", got)
	}
	// CPU seconds of the process per render: a figure that stays meaningful
	// on a loaded machine, where ns/op measures the waiting too.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peakSys)/(1<<20), "sys-MB")
	b.ReportMetric(float64(len(data))/(1<<20), "catalog-MB")
}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
