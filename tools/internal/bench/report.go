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
	criterion := r.Criterion
	if criterion == "" {
		criterion = Complete.String()
	}
	fmt.Fprintf(&b, "Converged means: %s.\n\n", criterion)
	if r.Baseline != nil {
		sub := r.Baseline.Subject
		fmt.Fprintf(&b, "Baseline: `%s`, run as `%s`; ours: built from this tree, with the default settings.\n\n",
			sub.Name, strings.Join(append([]string{sub.Binary}, sub.Args...), " "))
	}
	r.writeComparisons(&b)
	if r.Baseline != nil {
		b.WriteString("## Ours in detail\n\n")
	}
	writeRuns(&b, r.Settings, r.Runs)
	writeMemory(&b, r.Memory)
	writeSweep(&b, r.Sweep)
	if r.Baseline != nil {
		fmt.Fprintf(&b, "## Baseline (%s) in detail\n\n", r.Baseline.Subject.Name)
		writeRuns(&b, Setting{}, r.Baseline.Runs)
		writeMemory(&b, r.Baseline.Memory)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRuns writes the convergence runs' tables.
func writeRuns(b *strings.Builder, setting Setting, runs []*RunResult) {
	if len(runs) > 0 {
		if setting != (Setting{}) {
			fmt.Fprintf(b, "### Convergence with the default settings (%s)\n\n", setting)
		} else {
			b.WriteString("### Convergence\n\n")
		}
		b.WriteString("Seconds from the first create. *All Deployments*: the operator created the last one. *Converged*: every Memcached converged, as defined above. *Status lag*: from a Deployment ready at size to its Memcached converged, the operator's share of the end of the rollout.\n\n")
		b.WriteString("| Memcacheds | Pods | Creates sent | All Deployments | Converged | p50 | p90 | p99 | Status lag p50 | Status lag p99 |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range runs {
			fmt.Fprintf(b, "| %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
				run.CRs, run.Pods, run.CreateSeconds, run.DeployedSeconds, run.ConvergeSeconds, run.P50Seconds, run.P90Seconds, run.P99Seconds,
				run.StatusLagP50Seconds, run.StatusLagP99Seconds)
		}
		b.WriteString("\nThe operator's mutating requests (audit log, its ServiceAccount only) until convergence, then in the idle window, and its memory at the end:\n\n")
		b.WriteString("| Memcacheds | Writes | Writes/CR | Writes/CR without Events | Refused | Reads | Reconciles | Mean reconcile (ms) | Mean queue wait (s) | Idle writes | RSS (MiB) | Go heap (MiB) |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range runs {
			idle := "-"
			if run.IdleWrites != nil {
				idle = fmt.Sprintf("%d in %.0f s", run.IdleWrites.Total, run.IdleSeconds)
			}
			fmt.Fprintf(b, "| %d | %d | %.2f | %.2f | %d | %d | %d | %.0f | %.2f | %s | %.1f | %.1f |\n",
				run.CRs, run.Writes.Total, run.WritesPerCR, run.ObjectWritesPerCR, run.Writes.Failed, run.Reads, run.Reconciles, run.meanReconcileMillis(),
				run.QueueWaitSeconds, idle, mib(run.Memory.RSS), mib(run.Memory.HeapInuse))
		}
		b.WriteString("\nWhere the time went: the operator's requests of every verb until convergence (audit log), at their mean rate and in the busiest second, overall and for one resource (client-go limits each REST client, one per resource, to --kube-api-qps after a burst); the time its requests waited for client-go's limiter, summed over requests (rest_client_rate_limiter_duration_seconds, when the manager exports it); the API server's time for its writes; its CPU time from the first create:\n\n")
		b.WriteString("| Memcacheds | Requests | Mean/s | Peak/s | Busiest resource: requests in one second | Waited for the client-side limiter (s) | Write latency p50 (ms) | Write latency p99 (ms) | CPU (s) | RSS at start (MiB) | RSS converged (MiB) |\n")
		b.WriteString("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range runs {
			p := run.Profile
			fmt.Fprintf(b, "| %d | %d | %.0f | %d | %s: %d | %s | %.0f | %.0f | %.2f | %.1f | %.1f |\n",
				run.CRs, p.Requests, p.MeanPerSecond, p.PeakPerSecond, p.PeakResource, p.PeakResourcePerSecond, throttled(run.ThrottledSeconds),
				p.WriteLatencyP50Millis, p.WriteLatencyP99Millis, run.CPUSeconds, mib(run.StartMemory.RSS), mib(run.ConvergedMemory.RSS))
		}
		b.WriteString("\nWrites by kind:\n\n")
		for _, run := range runs {
			fmt.Fprintf(b, "- %d Memcacheds: %s", run.CRs, run.Writes)
			if run.IdleWrites != nil && run.IdleWrites.Total > 0 {
				fmt.Fprintf(b, "; while idle: %s", run.IdleWrites)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
}

// writeMemory writes the memory table, if it was measured.
func writeMemory(b *strings.Builder, mem *MemoryResult) {
	if mem != nil {
		fmt.Fprintf(b, "### Memory with %d Memcacheds, before and after %d unrelated objects\n\n", mem.CRs, mem.Unrelated)
		fmt.Fprintf(b, "The unrelated objects (%.1f s to create) are Pods and Deployments in other namespaces, labelled like memcached but not managed by the operator.\n\n", mem.CreateSeconds)
		b.WriteString("| | RSS (MiB) | Peak RSS (MiB) | Go heap in use (MiB) |\n|---|---:|---:|---:|\n")
		fmt.Fprintf(b, "| before | %.1f | %.1f | %.1f |\n", mib(mem.Before.RSS), mib(mem.Before.HWM), mib(mem.Before.HeapInuse))
		fmt.Fprintf(b, "| after | %.1f | %.1f | %.1f |\n", mib(mem.After.RSS), mib(mem.After.HWM), mib(mem.After.HeapInuse))
		fmt.Fprintf(b, "| change | %+.1f %% | | %+.1f %% |\n\n", mem.RSSChange, mem.HeapChange)
		fmt.Fprintf(b, "Operator writes while they were created: %d.\n\n", mem.WritesMeanwhile.Total)
	}
}

// writeSweep writes the settings sweep's table.
func writeSweep(b *strings.Builder, sweep []*RunResult) {
	if len(sweep) > 0 {
		fmt.Fprintf(b, "### Settings sweep (%d Memcacheds each, seconds from the first create)\n\n", sweep[0].CRs)
		b.WriteString("| --max-concurrent-reconciles | --kube-api-qps | --kube-api-burst | All Deployments | Converged | p50 | p90 | Status lag p50 | Status lag p99 | Writes/CR | Reads/CR | Mean reconcile (ms) | Mean queue wait (s) | RSS (MiB) |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, run := range sweep {
			s := run.Setting
			fmt.Fprintf(b, "| %d | %g | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.0f | %.2f | %.1f |\n",
				s.MaxConcurrentReconciles, s.QPS, s.Burst, run.DeployedSeconds, run.ConvergeSeconds, run.P50Seconds, run.P90Seconds,
				run.StatusLagP50Seconds, run.StatusLagP99Seconds, run.WritesPerCR, float64(run.Reads)/float64(run.CRs), run.meanReconcileMillis(),
				run.QueueWaitSeconds, mib(run.Memory.RSS))
		}
		b.WriteString("\n")
	}
}

// throttled formats RunResult.ThrottledSeconds.
func throttled(s float64) string {
	if s < 0 {
		return "not exported"
	}
	return fmt.Sprintf("%.1f", s)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func (r *RunResult) meanReconcileMillis() float64 {
	if r.Reconciles == 0 {
		return 0
	}
	return r.ReconcileSeconds / float64(r.Reconciles) * 1000
}
