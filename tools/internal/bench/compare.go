package bench

import (
	"fmt"
	"math"
	"strings"
)

// Comparison puts ours and the baseline side by side for one workload
// size: the runs of the same number of Memcacheds and, when both were
// measured with it, the unrelated objects' run.
type Comparison struct {
	CRs            int
	BaselineName   string
	Ours, Baseline *RunResult
	// OursMem and BaseMem are the unrelated objects' runs, nil unless both
	// followed this size's runs.
	OursMem, BaseMem *MemoryResult
}

// Comparisons pairs our runs with the baseline's of the same size, in the
// order of ours; nil without a baseline.
func (r *Report) Comparisons() []Comparison {
	if r.Baseline == nil {
		return nil
	}
	var out []Comparison
	for i, mine := range r.Runs {
		for j, theirs := range r.Baseline.Runs {
			if theirs.CRs != mine.CRs {
				continue
			}
			c := Comparison{CRs: mine.CRs, Ours: mine, Baseline: theirs, BaselineName: r.Baseline.Subject.Name}
			// The memory runs follow the last convergence run of each.
			if i == len(r.Runs)-1 && j == len(r.Baseline.Runs)-1 && r.Memory != nil && r.Baseline.Memory != nil {
				c.OursMem, c.BaseMem = r.Memory, r.Baseline.Memory
			}
			out = append(out, c)
			break
		}
	}
	return out
}

// Row is one figure of a comparison.
type Row struct {
	Figure         string
	Baseline, Ours float64
	// Format formats both values: "%.1f", "%.2f", "%.0f".
	Format string
	// NoRatio marks a difference, whose ratio would mean nothing.
	NoRatio bool
}

// Ratio is ours over the baseline, formatted: "1.62×"; "=" when both are
// 0 and "-" when only the baseline's is or the row is a difference (no
// ratio exists).
func (r Row) Ratio() string {
	switch {
	case r.NoRatio:
		return "-"
	case r.Baseline == 0 && r.Ours == 0:
		return "="
	case r.Baseline == 0 || math.IsNaN(r.Ours) || math.IsNaN(r.Baseline):
		return "-"
	}
	return fmt.Sprintf("%.2f×", r.Ours/r.Baseline)
}

// Rows are the comparison's figures, the baseline's first in each.
func (c Comparison) Rows() []Row {
	o, b := c.Ours, c.Baseline
	row := func(figure string, baseline, ours float64, format string) Row {
		return Row{Figure: figure, Baseline: baseline, Ours: ours, Format: format}
	}
	rows := []Row{
		row("converged (s)", b.ConvergeSeconds, o.ConvergeSeconds, "%.1f"),
		row("per-Memcached p50 (s)", b.P50Seconds, o.P50Seconds, "%.1f"),
		row("per-Memcached p99 (s)", b.P99Seconds, o.P99Seconds, "%.1f"),
		row("all Deployments created (s)", b.DeployedSeconds, o.DeployedSeconds, "%.1f"),
		row("writes per Memcached to converge", b.WritesPerCR, o.WritesPerCR, "%.2f"),
		row("writes per Memcached without Events", b.ObjectWritesPerCR, o.ObjectWritesPerCR, "%.2f"),
		row("reads per Memcached (around the cache)", perCR(b.Reads, b.CRs), perCR(o.Reads, o.CRs), "%.2f"),
		row("writes by every API client per Memcached", perCR(b.ClusterWrites, b.CRs), perCR(o.ClusterWrites, o.CRs), "%.1f"),
		row("refused writes", float64(b.Writes.Failed), float64(o.Writes.Failed), "%.0f"),
		row("reconciles per Memcached", perCR(b.Reconciles, b.CRs), perCR(o.Reconciles, o.CRs), "%.2f"),
		row("mean reconcile (ms)", b.meanReconcileMillis(), o.meanReconcileMillis(), "%.0f"),
		row("mean queue wait (s)", b.QueueWaitSeconds, o.QueueWaitSeconds, "%.2f"),
		row("API write latency p99 (ms)", b.Profile.WriteLatencyP99Millis, o.Profile.WriteLatencyP99Millis, "%.0f"),
		row("peak requests per second", float64(b.Profile.PeakPerSecond), float64(o.Profile.PeakPerSecond), "%.0f"),
		row("CPU seconds to converge", b.CPUSeconds, o.CPUSeconds, "%.2f"),
		row("RSS at start (MiB)", mib(b.StartMemory.RSS), mib(o.StartMemory.RSS), "%.1f"),
		row("RSS at convergence (MiB)", mib(b.ConvergedMemory.RSS), mib(o.ConvergedMemory.RSS), "%.1f"),
	}
	if b.IdleWrites != nil && o.IdleWrites != nil {
		rows = append(rows, row(fmt.Sprintf("writes from %s after convergence for %.0f s", Settle, o.IdleSeconds),
			float64(b.IdleWrites.Total), float64(o.IdleWrites.Total), "%.0f"))
	}
	if c.OursMem != nil && c.BaseMem != nil {
		rows = append(rows,
			row(fmt.Sprintf("RSS before %d unrelated objects (MiB)", c.OursMem.Unrelated), mib(c.BaseMem.Before.RSS), mib(c.OursMem.Before.RSS), "%.1f"),
			row(fmt.Sprintf("RSS after %d unrelated objects (MiB)", c.OursMem.Unrelated), mib(c.BaseMem.After.RSS), mib(c.OursMem.After.RSS), "%.1f"),
			Row{"RSS change from the unrelated objects (MiB)", signedMiB(c.BaseMem), signedMiB(c.OursMem), "%+.1f", true})
	}
	return rows
}

func perCR(n, crs int) float64 {
	if crs == 0 {
		return 0
	}
	return float64(n) / float64(crs)
}

func signedMiB(m *MemoryResult) float64 { return mib(m.After.RSS) - mib(m.Before.RSS) }

// writeComparisons writes a side-by-side table per workload size.
func (r *Report) writeComparisons(b *strings.Builder) {
	for _, c := range r.Comparisons() {
		fmt.Fprintf(b, "## Side by side, %d Memcacheds: ours and %s\n\n", c.CRs, c.BaselineName)
		fmt.Fprintf(b, "Each on a fresh cluster, the same workload (%d Memcacheds, %d pods, over %d namespace(s)), one run each.\n\n",
			c.CRs, c.Ours.Pods, max(1, c.Ours.Namespaces))
		fmt.Fprintf(b, "| figure | %s | ours | ours / %s |\n|---|---:|---:|---:|\n", c.BaselineName, c.BaselineName)
		for _, row := range c.Rows() {
			fmt.Fprintf(b, "| %s | "+row.Format+" | "+row.Format+" | %s |\n", row.Figure, row.Baseline, row.Ours, row.Ratio())
		}
		b.WriteString("\n")
	}
}
