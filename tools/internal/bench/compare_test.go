package bench

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/golden"
)

func TestRowRatio(t *testing.T) {
	for _, tc := range []struct {
		name           string
		baseline, ours float64
		want           string
	}{
		{"slower", 8.45, 13.7, "1.62×"},
		{"faster", 10, 5, "0.50×"},
		{"equal", 3, 3, "1.00×"},
		{"both zero", 0, 0, "="},
		{"baseline zero", 0, 4, "-"},
		{"ours zero", 132, 0, "0.00×"},
		{"a difference", 30, -5, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := Row{Baseline: tc.baseline, Ours: tc.ours, NoRatio: tc.name == "a difference"}
			if got := row.Ratio(); got != tc.want {
				t.Errorf("Ratio() = %q, want %q", got, tc.want)
			}
		})
	}
}

// sideBySide is a report with ours and a baseline measured on 100 and 300
// Memcacheds, the unrelated objects after the 300.
func sideBySide() *Report {
	run := func(crs int, converge float64, writes, events, reads, failed int, rssStart, rssConverged uint64, idle int) *RunResult {
		return &RunResult{
			CRs: crs, Pods: 3 * crs, Namespaces: 10, ConvergeSeconds: converge, P50Seconds: converge * 0.9, P99Seconds: converge,
			DeployedSeconds: converge / 2, Writes: Requests{Total: writes, Failed: failed, ByKind: map[string]int{"create events": events}},
			WritesPerCR: float64(writes) / float64(crs), ObjectWritesPerCR: float64(writes-events) / float64(crs), Reads: reads, ClusterWrites: 5*crs + writes,
			Reconciles: 3 * crs, ReconcileSeconds: float64(crs) / 10, QueueWaitSeconds: 1.5, CPUSeconds: converge / 8,
			Profile:     Profile{PeakPerSecond: 120, WriteLatencyP99Millis: 45},
			StartMemory: Memory{RSS: rssStart << 20}, ConvergedMemory: Memory{RSS: rssConverged << 20},
			IdleSeconds: 20, IdleWrites: &Requests{Total: idle, ByKind: map[string]int{"update memcacheds/status": idle}},
		}
	}
	return &Report{
		Started:   time.Date(2026, 12, 3, 17, 30, 0, 0, time.UTC),
		Seconds:   300,
		Machine:   Machine{CPUs: 2, OS: "linux/amd64", GoVersion: "go1.26", LoadBefore: 1.5, LoadAfter: 2.5, Nodes: 4},
		Settings:  DefaultSetting,
		Criterion: NodesNamed.String(),
		Runs:      []*RunResult{run(100, 13.7, 1030, 400, 0, 0, 50, 69, 0), run(300, 43.2, 3000, 1200, 3, 0, 50, 91, 0)},
		Memory:    &MemoryResult{CRs: 300, Unrelated: 3000, Before: Memory{RSS: 91 << 20}, After: Memory{RSS: 86 << 20}},
		Baseline: &SubjectReport{
			Subject: Subject{Name: "tutorial-manager", Binary: "/tmp/tutorial-manager", Args: DefaultBaselineArgs, Conventional: true},
			Runs:    []*RunResult{run(100, 8.45, 205, 0, 0, 0, 32, 42, 44), run(300, 22.1, 615, 0, 0, 2, 32, 52, 130)},
			Memory:  &MemoryResult{CRs: 300, Unrelated: 3000, Before: Memory{RSS: 52 << 20}, After: Memory{RSS: 82 << 20}},
		},
	}
}

func TestComparisons(t *testing.T) {
	r := sideBySide()
	cs := r.Comparisons()
	if len(cs) != 2 || cs[0].CRs != 100 || cs[1].CRs != 300 {
		t.Fatalf("comparisons %+v", cs)
	}
	if cs[0].OursMem != nil || cs[1].OursMem == nil || cs[1].BaseMem == nil {
		t.Errorf("the unrelated objects belong to the last size only: %+v", cs)
	}
	rows := map[string]Row{}
	for _, row := range cs[1].Rows() {
		rows[row.Figure] = row
	}
	for figure, want := range map[string]string{
		"converged (s)":                               "1.95×",
		"writes per Memcached to converge":            "4.88×",
		"refused writes":                              "0.00×",
		"reads per Memcached (around the cache)":      "-",
		"writes from 1s after convergence for 20 s":   "0.00×",
		"RSS after 3000 unrelated objects (MiB)":      "1.05×",
		"RSS change from the unrelated objects (MiB)": "-",
	} {
		row, ok := rows[figure]
		if !ok {
			t.Errorf("no row %q among %v", figure, rows)
			continue
		}
		if got := row.Ratio(); got != want {
			t.Errorf("%s: ratio %s, want %s", figure, got, want)
		}
	}
	r.Baseline = nil
	if cs := r.Comparisons(); cs != nil {
		t.Errorf("comparisons without a baseline: %+v", cs)
	}
}

// TestReportSideBySide compares the whole Markdown report of a run with a
// baseline to testdata/side-by-side.md.
func TestReportSideBySide(t *testing.T) {
	var got bytes.Buffer
	if err := sideBySide().WriteMarkdown(&got); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "side-by-side.md"), got.Bytes())
}
