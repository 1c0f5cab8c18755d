package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Setting is a manager tuning: --max-concurrent-reconciles, --kube-api-qps
// and --kube-api-burst.
type Setting struct {
	MaxConcurrentReconciles int     `json:"maxConcurrentReconciles"`
	QPS                     float64 `json:"qps"`
	Burst                   int     `json:"burst"`
}

// DefaultSetting is what operator/cmd/main.go defaults to.
var DefaultSetting = Setting{MaxConcurrentReconciles: 8, QPS: 50, Burst: 100}

// Args are the manager flags of the setting.
func (s Setting) Args() []string {
	return []string{
		"--max-concurrent-reconciles=" + strconv.Itoa(s.MaxConcurrentReconciles),
		"--kube-api-qps=" + strconv.FormatFloat(s.QPS, 'f', -1, 64),
		"--kube-api-burst=" + strconv.Itoa(s.Burst),
	}
}

func (s Setting) String() string {
	return fmt.Sprintf("reconciles=%d qps=%s burst=%d", s.MaxConcurrentReconciles, strconv.FormatFloat(s.QPS, 'f', -1, 64), s.Burst)
}

// ParseSettings reads a comma-separated list of RECONCILES/QPS[/BURST];
// the burst defaults to twice the QPS, as in main.go.
func ParseSettings(s string) ([]Setting, error) {
	var out []Setting
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, "/")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("setting %q: want RECONCILES/QPS[/BURST]", item)
		}
		mcr, err := strconv.Atoi(parts[0])
		if err != nil || mcr < 1 {
			return nil, fmt.Errorf("setting %q: reconciles must be a positive integer", item)
		}
		qps, err := strconv.ParseFloat(parts[1], 64)
		if err != nil || qps <= 0 {
			return nil, fmt.Errorf("setting %q: qps must be a positive number", item)
		}
		burst := int(2 * qps)
		if len(parts) == 3 {
			if burst, err = strconv.Atoi(parts[2]); err != nil || burst < 1 {
				return nil, fmt.Errorf("setting %q: burst must be a positive integer", item)
			}
		}
		out = append(out, Setting{MaxConcurrentReconciles: mcr, QPS: qps, Burst: burst})
	}
	return out, nil
}

// ParseCounts reads a comma-separated list of positive integers.
func ParseCounts(s string) ([]int, error) {
	var out []int
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		n, err := strconv.Atoi(item)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("count %q: want a positive integer", item)
		}
		out = append(out, n)
	}
	return out, nil
}

// Config is what `tools bench` runs.
type Config struct {
	RepoRoot string
	BinDir   string
	// WorkDir receives the manager, its logs and the cluster's state
	// (including the audit log), kept after the run for inspection.
	WorkDir string
	// CRs are the sizes of the convergence runs, with default settings.
	CRs []int
	// Idle is the idle window measured after each convergence run.
	Idle time.Duration
	// Unrelated objects are created after the last convergence run to see
	// whether the manager's memory follows them; 0 skips that.
	Unrelated int
	// Sweep settings are each run on SweepCRs Memcacheds.
	Sweep    []Setting
	SweepCRs int
	// Timeout bounds each convergence.
	Timeout time.Duration
	// Log receives progress.
	Log io.Writer
}

// Report is what a bench run measured.
type Report struct {
	Started  time.Time     `json:"started"`
	Seconds  float64       `json:"seconds"`
	Machine  Machine       `json:"machine"`
	Command  string        `json:"command,omitempty"`
	Runs     []*RunResult  `json:"runs"`
	Sweep    []*RunResult  `json:"sweep,omitempty"`
	Memory   *MemoryResult `json:"memory,omitempty"`
	Settings Setting       `json:"defaultSetting"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	// LoadBefore and LoadAfter are the 1-minute load averages at the start
	// and the end: above the CPU count, other processes competed.
	LoadBefore float64 `json:"loadBefore"`
	LoadAfter  float64 `json:"loadAfter"`
	Nodes      int     `json:"nodes"`
}

// RunResult is one convergence run.
type RunResult struct {
	CRs     int     `json:"crs"`
	Pods    int     `json:"pods"`
	Setting Setting `json:"setting"`
	// CreateSeconds is how long the harness took to create the Memcacheds.
	CreateSeconds float64 `json:"createSeconds"`
	// ConvergeSeconds is from the first create to every Memcached converged.
	ConvergeSeconds float64 `json:"convergeSeconds"`
	// P50, P90 and P99 are when Memcacheds first converged, from the first
	// create.
	P50Seconds float64 `json:"p50Seconds"`
	P90Seconds float64 `json:"p90Seconds"`
	P99Seconds float64 `json:"p99Seconds"`
	// DeployedSeconds is when the last Memcached got its Deployment: the
	// operator's first pass over all of them.
	DeployedSeconds float64 `json:"deployedSeconds"`
	// StatusLag is, from a Deployment ready at size to its Memcached's
	// status complete, the median and the 99th percentile over the
	// Memcacheds: the operator's share of the end of the rollout; the rest
	// is the Deployment controller's, the scheduler's and kwok's.
	StatusLagP50Seconds float64 `json:"statusLagP50Seconds"`
	StatusLagP99Seconds float64 `json:"statusLagP99Seconds"`
	// Writes are the operator's mutating requests until convergence.
	Writes Requests `json:"writes"`
	// Reads are its gets and lists until convergence, all of them around
	// its cache.
	Reads int `json:"reads"`
	// Reconciles and ReconcileSeconds count its reconciles and their total
	// time; QueueWaitSeconds is how long a request waited in its work queue
	// for a worker, on average (controller-runtime's metrics).
	Reconciles       int     `json:"reconciles"`
	ReconcileSeconds float64 `json:"reconcileSeconds"`
	QueueWaitSeconds float64 `json:"queueWaitSeconds"`
	// WritesPerCR counts every write; ObjectWritesPerCR leaves Events out.
	WritesPerCR       float64 `json:"writesPerCR"`
	ObjectWritesPerCR float64 `json:"objectWritesPerCR"`
	// IdleSeconds is the idle window after convergence, IdleWrites what the
	// operator wrote in it (goal: nothing).
	IdleSeconds float64   `json:"idleSeconds,omitempty"`
	IdleWrites  *Requests `json:"idleWrites,omitempty"`
	// Memory is the manager's at the end of the run.
	Memory Memory `json:"memory"`
}

// MemoryResult compares the manager's memory before and after unrelated
// objects were created.
type MemoryResult struct {
	CRs             int      `json:"crs"`
	Unrelated       int      `json:"unrelated"`
	CreateSeconds   float64  `json:"createSeconds"`
	Before          Memory   `json:"before"`
	After           Memory   `json:"after"`
	RSSChange       float64  `json:"rssChangePercent"`
	HeapChange      float64  `json:"heapChangePercent"`
	WritesMeanwhile Requests `json:"writesMeanwhile"`
}

// Run performs the benchmark and returns the figures. It stops everything
// it started; the work directory keeps the logs.
func Run(ctx context.Context, cfg Config) (report *Report, err error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Minute
	}
	largest := cfg.SweepCRs
	for _, n := range cfg.CRs {
		largest = max(largest, n)
	}
	report = &Report{
		Started:  time.Now(),
		Settings: DefaultSetting,
		Machine: Machine{
			CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
			LoadBefore: loadAverage(), Nodes: NodesFor(largest),
		},
	}
	stateDir := filepath.Join(cfg.WorkDir, "cluster")
	env, err := StartEnv(ctx, EnvOptions{
		RepoRoot: cfg.RepoRoot, BinDir: cfg.BinDir, WorkDir: cfg.WorkDir, StateDir: stateDir,
		Nodes: report.Machine.Nodes, Log: cfg.Log,
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, env.Stop()) }()
	id, err := env.Identity(ctx, OperatorServiceAccount)
	if err != nil {
		return nil, err
	}

	// The sweep first, on a cluster that holds nothing else, each run in a
	// namespace deleted afterwards; then the convergence runs, the last of
	// which keeps its Memcacheds for the memory measurement.
	runs := 0
	for _, s := range cfg.Sweep {
		runs++
		r, op, err := convergenceRun(ctx, env, id, fmt.Sprintf("bench-%02d", runs), cfg.SweepCRs, s, 0, cfg.Timeout)
		if err != nil {
			return report, err
		}
		report.Sweep = append(report.Sweep, r)
		if err := cleanup(ctx, env, op, fmt.Sprintf("bench-%02d", runs)); err != nil {
			return report, err
		}
	}
	for i, n := range cfg.CRs {
		runs++
		ns := fmt.Sprintf("bench-%02d", runs)
		r, op, err := convergenceRun(ctx, env, id, ns, n, DefaultSetting, cfg.Idle, cfg.Timeout)
		if err != nil {
			return report, err
		}
		report.Runs = append(report.Runs, r)
		if i == len(cfg.CRs)-1 && cfg.Unrelated > 0 {
			m, err := unrelatedRun(ctx, env, op, n, cfg.Unrelated)
			if err != nil {
				_ = op.Stop()
				return report, err
			}
			report.Memory = m
		}
		if err := cleanup(ctx, env, op, ns); err != nil {
			return report, err
		}
	}
	report.Machine.LoadAfter = loadAverage()
	report.Seconds = seconds(time.Since(report.Started))
	return report, nil
}

func convergenceRun(ctx context.Context, env *Env, id *Identity, ns string, n int, s Setting, idle, timeout time.Duration) (*RunResult, *Operator, error) {
	env.logf("run %s: %d Memcacheds (%d pods), %s", ns, n, TotalPods(n), s)
	if err := env.CreateNamespace(ctx, ns); err != nil {
		return nil, nil, err
	}
	op, err := env.StartOperator(ctx, OperatorOptions{Identity: id, Name: "operator-" + ns, Args: s.Args(), Metrics: true, WaitForWorkers: true})
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*RunResult, *Operator, error) {
		_ = op.Stop()
		return nil, nil, fmt.Errorf("run %s: %w (operator log %s)", ns, err, op.LogFile)
	}
	tracker, err := NewTracker(ctx, env.Admin, env.Dynamic, ns)
	if err != nil {
		return fail(err)
	}
	defer tracker.Stop()
	audit := env.Audit()
	if err := audit.Skip(); err != nil {
		return fail(err)
	}

	want := WantFor(n)
	r := &RunResult{CRs: n, Pods: TotalPods(n), Setting: s}
	start := time.Now()
	if err := CreateMemcacheds(ctx, env.Dynamic, ns, want); err != nil {
		return fail(err)
	}
	r.CreateSeconds = seconds(time.Since(start))
	conv, err := tracker.WaitConverged(ctx, want, start, timeout, func(p Progress) {
		env.logf("  %s after %s", p, time.Since(start).Round(time.Second))
	})
	if err != nil {
		return fail(err)
	}
	events, err := audit.Read()
	if err != nil {
		return fail(err)
	}
	r.ConvergeSeconds = seconds(conv.Elapsed)
	r.P50Seconds, r.P90Seconds, r.P99Seconds = seconds(conv.Percentile(50)), seconds(conv.Percentile(90)), seconds(conv.Percentile(99))
	r.DeployedSeconds = seconds(conv.AllDeployed())
	r.StatusLagP50Seconds, r.StatusLagP99Seconds = seconds(conv.StatusLag(50)), seconds(conv.StatusLag(99))
	r.Writes = CountMutating(events, "", id.Username)
	r.Reads = CountReads(events, id.Username)
	metrics, err := ScrapeMetrics(ctx, op.MetricsURL, "controller_runtime_reconcile_time_seconds_count", "controller_runtime_reconcile_time_seconds_sum",
		"workqueue_queue_duration_seconds_sum", "workqueue_queue_duration_seconds_count")
	if err != nil {
		return fail(err)
	}
	r.Reconciles = int(metrics["controller_runtime_reconcile_time_seconds_count"])
	r.ReconcileSeconds = metrics["controller_runtime_reconcile_time_seconds_sum"]
	if n := metrics["workqueue_queue_duration_seconds_count"]; n > 0 {
		r.QueueWaitSeconds = metrics["workqueue_queue_duration_seconds_sum"] / n
	}
	r.WritesPerCR = float64(r.Writes.Total) / float64(n)
	r.ObjectWritesPerCR = float64(r.Writes.Without("events")) / float64(n)
	env.logf("  converged in %.1fs (created in %.1fs; all Deployments by %.1fs; p50 %.1fs, p90 %.1fs; status lag p50 %.1fs, p99 %.1fs); %d writes, %.2f per Memcached: %s; %d reads; %d reconciles taking %.1fs, waiting %.2fs each for a worker",
		r.ConvergeSeconds, r.CreateSeconds, r.DeployedSeconds, r.P50Seconds, r.P90Seconds, r.StatusLagP50Seconds, r.StatusLagP99Seconds,
		r.Writes.Total, r.WritesPerCR, r.Writes, r.Reads, r.Reconciles, r.ReconcileSeconds, r.QueueWaitSeconds)

	if idle > 0 {
		env.logf("  idle window of %s", idle)
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(idle):
		}
		events, err := audit.Read()
		if err != nil {
			return fail(err)
		}
		w := CountMutating(events, "", id.Username)
		r.IdleSeconds, r.IdleWrites = seconds(idle), &w
		env.logf("  %d writes while idle: %s", w.Total, w)
	}
	if r.Memory, err = ReadOperatorMemory(ctx, op); err != nil {
		return fail(err)
	}
	env.logf("  manager RSS %s (peak %s), Go heap in use %s", MiB(r.Memory.RSS), MiB(r.Memory.HWM), MiB(r.Memory.HeapInuse))
	return r, op, nil
}

// unrelatedNamespaces is how many namespaces the unrelated objects spread
// over.
const unrelatedNamespaces = 10

// unrelatedSettle is how long the manager is given after the unrelated
// objects appeared before its memory is read again.
const unrelatedSettle = 30 * time.Second

func unrelatedRun(ctx context.Context, env *Env, op *Operator, crs, count int) (*MemoryResult, error) {
	m := &MemoryResult{CRs: crs, Unrelated: count}
	var err error
	if m.Before, err = ReadOperatorMemory(ctx, op); err != nil {
		return nil, err
	}
	audit := env.Audit()
	if err := audit.Skip(); err != nil {
		return nil, err
	}
	env.logf("creating %d unrelated Pods and Deployments in %d namespaces", count, unrelatedNamespaces)
	start := time.Now()
	if err := CreateUnrelated(ctx, env, count, unrelatedNamespaces); err != nil {
		return nil, err
	}
	m.CreateSeconds = seconds(time.Since(start))
	env.logf("  created in %.1fs; letting the manager settle for %s", m.CreateSeconds, unrelatedSettle)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(unrelatedSettle):
	}
	if m.After, err = ReadOperatorMemory(ctx, op); err != nil {
		return nil, err
	}
	events, err := audit.Read()
	if err != nil {
		return nil, err
	}
	m.WritesMeanwhile = CountMutating(events, "", op.Identity.Username)
	m.RSSChange = percentChange(m.Before.RSS, m.After.RSS)
	m.HeapChange = percentChange(m.Before.HeapInuse, m.After.HeapInuse)
	env.logf("  manager RSS %s -> %s (%+.1f%%), Go heap in use %s -> %s (%+.1f%%); %d operator writes meanwhile",
		MiB(m.Before.RSS), MiB(m.After.RSS), m.RSSChange, MiB(m.Before.HeapInuse), MiB(m.After.HeapInuse), m.HeapChange, m.WritesMeanwhile.Total)
	var namespaces []string
	for i := range unrelatedNamespaces {
		namespaces = append(namespaces, UnrelatedNamespace(i))
	}
	return m, env.DeleteNamespaces(ctx, false, 0, namespaces...)
}

func cleanup(ctx context.Context, env *Env, op *Operator, ns string) error {
	if err := op.Stop(); err != nil {
		return err
	}
	return env.DeleteNamespaces(ctx, true, 5*time.Minute, ns)
}

func percentChange(before, after uint64) float64 {
	if before == 0 {
		return 0
	}
	return (float64(after) - float64(before)) / float64(before) * 100
}

func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(fields[0], 64)
	return v
}
