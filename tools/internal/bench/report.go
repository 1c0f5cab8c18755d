package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as the tables docs/performance.md shows.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Bench run of %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if r.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	}
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, %s; %d fake Nodes. 1-minute load average %.1f at the start, %.1f at the end",
		m.CPUs, m.OS, m.GoVersion, m.Nodes, m.LoadBefore, m.LoadAfter)
	if m.LoadBefore > float64(m.CPUs) || m.LoadAfter > float64(m.CPUs) {
		b.WriteString(" (above the CPU count: other processes competed for the CPUs)")
	}
	fmt.Fprintf(&b, ". The whole run took %.0f s.\n\n", r.Seconds)

	if len(r.Runs) > 0 {
		fmt.Fprintf(&b, "### Convergence with the default settings (%s)\n\n", r.Settings)
		b.WriteString("Seconds from the first create. *All Deployments*: the operator created the last one. *Converged*: every Deployment ready at size and every status complete. *Status lag*: from a Deployment ready at size to its Memcached's status complete, the operator's share of the end of the rollout.\n\n")
		b.WriteString("| Memcacheds | Pods | Creates sent | All Deployments | Converged | p50 | p90 | p99 | Status lag p50 | Status lag p99 |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range r.Runs {
			fmt.Fprintf(&b, "| %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
				run.CRs, run.Pods, run.CreateSeconds, run.DeployedSeconds, run.ConvergeSeconds, run.P50Seconds, run.P90Seconds, run.P99Seconds,
				run.StatusLagP50Seconds, run.StatusLagP99Seconds)
		}
		b.WriteString("\nThe operator's mutating requests (audit log, its ServiceAccount only) until convergence, then in the idle window, and its memory at the end:\n\n")
		b.WriteString("| Memcacheds | Writes | Writes/CR | Writes/CR without Events | Refused | Reads | Reconciles | Mean reconcile (ms) | Mean queue wait (s) | Idle writes | RSS (MiB) | Go heap (MiB) |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range r.Runs {
			idle := "-"
			if run.IdleWrites != nil {
				idle = fmt.Sprintf("%d in %.0f s", run.IdleWrites.Total, run.IdleSeconds)
			}
			fmt.Fprintf(&b, "| %d | %d | %.2f | %.2f | %d | %d | %d | %.0f | %.2f | %s | %.1f | %.1f |\n",
				run.CRs, run.Writes.Total, run.WritesPerCR, run.ObjectWritesPerCR, run.Writes.Failed, run.Reads, run.Reconciles, run.meanReconcileMillis(),
				run.QueueWaitSeconds, idle, mib(run.Memory.RSS), mib(run.Memory.HeapInuse))
		}
		b.WriteString("\nWrites by kind:\n\n")
		for _, run := range r.Runs {
			fmt.Fprintf(&b, "- %d Memcacheds: %s", run.CRs, run.Writes)
			if run.IdleWrites != nil && run.IdleWrites.Total > 0 {
				fmt.Fprintf(&b, "; while idle: %s", run.IdleWrites)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}

	if mem := r.Memory; mem != nil {
		fmt.Fprintf(&b, "### Memory with %d Memcacheds, before and after %d unrelated objects\n\n", mem.CRs, mem.Unrelated)
		fmt.Fprintf(&b, "The unrelated objects (%.1f s to create) are Pods and Deployments in other namespaces, labelled like memcached but not managed by the operator.\n\n", mem.CreateSeconds)
		b.WriteString("| | RSS (MiB) | Peak RSS (MiB) | Go heap in use (MiB) |\n|---|---:|---:|---:|\n")
		fmt.Fprintf(&b, "| before | %.1f | %.1f | %.1f |\n", mib(mem.Before.RSS), mib(mem.Before.HWM), mib(mem.Before.HeapInuse))
		fmt.Fprintf(&b, "| after | %.1f | %.1f | %.1f |\n", mib(mem.After.RSS), mib(mem.After.HWM), mib(mem.After.HeapInuse))
		fmt.Fprintf(&b, "| change | %+.1f %% | | %+.1f %% |\n\n", mem.RSSChange, mem.HeapChange)
		fmt.Fprintf(&b, "Operator writes while they were created: %d.\n\n", mem.WritesMeanwhile.Total)
	}

	if len(r.Sweep) > 0 {
		fmt.Fprintf(&b, "### Settings sweep (%d Memcacheds each, seconds from the first create)\n\n", r.Sweep[0].CRs)
		b.WriteString("| --max-concurrent-reconciles | --kube-api-qps | --kube-api-burst | All Deployments | Converged | p50 | p90 | Status lag p50 | Status lag p99 | Writes/CR | Reads/CR | Mean reconcile (ms) | Mean queue wait (s) | RSS (MiB) |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range r.Sweep {
			s := run.Setting
			fmt.Fprintf(&b, "| %d | %g | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.0f | %.2f | %.1f |\n",
				s.MaxConcurrentReconciles, s.QPS, s.Burst, run.DeployedSeconds, run.ConvergeSeconds, run.P50Seconds, run.P90Seconds,
				run.StatusLagP50Seconds, run.StatusLagP99Seconds, run.WritesPerCR, float64(run.Reads)/float64(run.CRs), run.meanReconcileMillis(),
				run.QueueWaitSeconds, mib(run.Memory.RSS))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func (r *RunResult) meanReconcileMillis() float64 {
	if r.Reconciles == 0 {
		return 0
	}
	return r.ReconcileSeconds / float64(r.Reconciles) * 1000
}
