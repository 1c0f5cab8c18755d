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

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
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
	// (including the audit log), kept after the run for inspection; the
	// baseline's go to its subdirectory baseline/.
	WorkDir string
	// CRs are the sizes of the convergence runs, with default settings.
	CRs []int
	// Namespaces spreads each convergence run's Memcacheds over that many
	// namespaces (0 or 1: one); Size gives each that many replicas (0: the
	// SizeFor mix). The sweep uses them too.
	Namespaces int
	Size       int32
	// Idle is the idle window measured after each convergence run, from
	// Settle after convergence.
	Idle time.Duration
	// Unrelated objects are created after the last convergence run to see
	// whether the manager's memory follows them; 0 skips that.
	Unrelated int
	// Sweep settings are each run on SweepCRs Memcacheds.
	Sweep    []Setting
	SweepCRs int
	// Baseline, when set, is a second operator that gets the convergence
	// runs and the unrelated objects too, after ours, on a fresh cluster of
	// its own; both are then judged by the NodesNamed criterion.
	Baseline *Subject
	// Timeout bounds each convergence.
	Timeout time.Duration
	// Log receives progress.
	Log io.Writer
}

// Settle is how long after convergence writes still count as part of it;
// the idle window starts then. A controller that converged may still be
// writing the last status it computed.
const Settle = time.Second

// ClusterWarmUp is the cluster's age, from the start of StartEnv, at which
// a subject's first run begins, so that no subject meets start-up work of
// the API server (the CRD's OpenAPI publishing, controllers' first syncs)
// that another does not. In the first side-by-side run, the baseline,
// which has no manager to build, began 3.7 s after its cluster's first
// request against 6.1 s for ours, and some of its Memcacheds' creates took
// 2 s instead of 0.1 s.
const ClusterWarmUp = 15 * time.Second

// Subject is an operator under test.
type Subject struct {
	// Name labels it in reports.
	Name string `json:"name"`
	// Binary is its manager; empty builds this repository's.
	Binary string `json:"binary,omitempty"`
	// Args are its flags. For this repository's manager they come from
	// the run's Setting; the testbed adds the probe and metrics addresses
	// to any subject's.
	Args []string `json:"args,omitempty"`
	// Conventional says the binary takes only the scaffold's flags:
	// metrics over plain HTTP with --metrics-bind-address alone (see
	// testbed.OperatorOptions.ConventionalFlags).
	Conventional bool `json:"conventional,omitempty"`
}

// DefaultBaselineArgs are the flags every scaffolded manager since
// operator-sdk 1.0 takes, besides the probe and metrics addresses.
var DefaultBaselineArgs = []string{"--leader-elect=false"}

// ours is this repository's manager, built from the tree.
var ours = Subject{Name: "ours"}

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
	// Criterion is what converged meant in every run.
	Criterion string `json:"criterion"`
	// Baseline is the second operator's figures, when one was given.
	Baseline *SubjectReport `json:"baseline,omitempty"`
}

// SubjectReport is one operator's figures.
type SubjectReport struct {
	Subject Subject       `json:"subject"`
	Runs    []*RunResult  `json:"runs"`
	Sweep   []*RunResult  `json:"sweep,omitempty"`
	Memory  *MemoryResult `json:"memory,omitempty"`
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
	CRs        int     `json:"crs"`
	Pods       int     `json:"pods"`
	Namespaces int     `json:"namespaces,omitempty"`
	Setting    Setting `json:"setting"`
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
	// ClusterWrites are everyone's writes until convergence, the harness's
	// creates included: the control plane's work (ReplicaSets, Pods,
	// EndpointSlices, PodDisruptionBudget status, ...) follows what the
	// operator creates, on the same CPUs.
	ClusterWrites int `json:"clusterWrites"`
	// Reconciles and ReconcileSeconds count its reconciles and their total
	// time; QueueWaitSeconds is how long a request waited in its work queue
	// for a worker, on average (controller-runtime's metrics).
	Reconciles       int     `json:"reconciles"`
	ReconcileSeconds float64 `json:"reconcileSeconds"`
	QueueWaitSeconds float64 `json:"queueWaitSeconds"`
	// ThrottledSeconds is how long its requests waited for client-go's
	// client-side rate limiter, summed over the requests (so over
	// concurrent workers too); -1 when the manager does not export
	// rest_client_rate_limiter_duration_seconds.
	ThrottledSeconds float64 `json:"throttledSeconds"`
	// WritesPerCR counts every write; ObjectWritesPerCR leaves Events out.
	WritesPerCR       float64 `json:"writesPerCR"`
	ObjectWritesPerCR float64 `json:"objectWritesPerCR"`
	// CPUSeconds is the manager's CPU time, user and system, from the first
	// create to convergence.
	CPUSeconds float64 `json:"cpuSeconds"`
	// Profile is its request rate and the API server's latency until
	// convergence.
	Profile Profile `json:"profile"`
	// IdleSeconds is the idle window from Settle after convergence,
	// IdleWrites what the operator wrote in it (goal: nothing).
	IdleSeconds float64   `json:"idleSeconds,omitempty"`
	IdleWrites  *Requests `json:"idleWrites,omitempty"`
	// StartMemory is the manager's once its workers run, before the first
	// create; ConvergedMemory at convergence; Memory at the end of the run.
	StartMemory     Memory `json:"startMemory"`
	ConvergedMemory Memory `json:"convergedMemory"`
	Memory          Memory `json:"memory"`
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

// Run performs the benchmark and returns the figures: ours on one cluster,
// then the baseline, if any, on a fresh one. It stops everything it
// started; the work directory keeps the logs.
func Run(ctx context.Context, cfg Config) (report *Report, err error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Minute
	}
	largest := Workload{CRs: cfg.SweepCRs, Size: cfg.Size}
	for _, n := range cfg.CRs {
		largest.CRs = max(largest.CRs, n)
	}
	criterion := Complete
	if cfg.Baseline != nil {
		criterion = NodesNamed
	}
	report = &Report{
		Started:   time.Now(),
		Settings:  DefaultSetting,
		Criterion: criterion.String(),
		Machine: Machine{
			CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
			LoadBefore: loadAverage(), Nodes: NodesForPods(largest.Pods()),
		},
	}
	m := measurement{cfg: cfg, criterion: criterion, nodes: report.Machine.Nodes}
	mine, err := m.subject(ctx, ours, cfg.WorkDir, cfg.Sweep)
	report.Runs, report.Sweep, report.Memory = mine.Runs, mine.Sweep, mine.Memory
	if err == nil && cfg.Baseline != nil {
		report.Baseline, err = m.subject(ctx, *cfg.Baseline, filepath.Join(cfg.WorkDir, "baseline"), nil)
	}
	report.Machine.LoadAfter = loadAverage()
	report.Seconds = seconds(time.Since(report.Started))
	return report, err
}

// measurement runs the same measurements for each subject.
type measurement struct {
	cfg       Config
	criterion Criterion
	nodes     int
}

// subject measures one operator on a cluster of its own: the sweep first,
// on a cluster that holds nothing else, each run in namespaces deleted
// afterwards; then the convergence runs, the last of which keeps its
// Memcacheds for the memory measurement. The figures so far come back
// with an error.
func (m measurement) subject(ctx context.Context, subject Subject, workDir string, sweep []Setting) (sr *SubjectReport, err error) {
	sr = &SubjectReport{Subject: subject}
	fmt.Fprintf(m.cfg.Log, "[%s] measuring %s on a fresh cluster\n", time.Now().Format("15:04:05"), subject.Name)
	began := time.Now()
	env, err := StartEnv(ctx, EnvOptions{
		RepoRoot: m.cfg.RepoRoot, BinDir: m.cfg.BinDir, WorkDir: workDir, StateDir: filepath.Join(workDir, "cluster"),
		Nodes: m.nodes, Manager: subject.Binary, Log: m.cfg.Log,
	})
	if err != nil {
		return sr, err
	}
	defer func() { err = errors.Join(err, env.Stop()) }()
	id, err := env.Identity(ctx, testbed.OperatorServiceAccount)
	if err != nil {
		return sr, err
	}
	if err := sleep(ctx, time.Until(began.Add(ClusterWarmUp))); err != nil {
		return sr, err
	}
	type planned struct {
		setting Setting
		crs     int
		sweep   bool
	}
	var plan []planned
	for _, s := range sweep {
		plan = append(plan, planned{s, m.cfg.SweepCRs, true})
	}
	for _, n := range m.cfg.CRs {
		plan = append(plan, planned{DefaultSetting, n, false})
	}
	for i, p := range plan {
		last := i == len(plan)-1
		spec := runSpec{
			name: fmt.Sprintf("bench-%02d", i+1), subject: subject, setting: p.setting, criterion: m.criterion, timeout: m.cfg.Timeout,
			workload: Workload{CRs: p.crs, Namespaces: m.cfg.Namespaces, Size: m.cfg.Size},
		}
		if !p.sweep {
			spec.idle = m.cfg.Idle
		}
		r, op, err := convergenceRun(ctx, env, id, spec)
		if err != nil {
			return sr, err
		}
		if p.sweep {
			sr.Sweep = append(sr.Sweep, r)
		} else {
			sr.Runs = append(sr.Runs, r)
		}
		if last && !p.sweep && m.cfg.Unrelated > 0 {
			if sr.Memory, err = unrelatedRun(ctx, env, op, p.crs, m.cfg.Unrelated); err != nil {
				return sr, errors.Join(err, op.Stop())
			}
		}
		// The last run's namespaces go with the cluster.
		if err := cleanup(ctx, env, op, !last, spec.workload.NamespaceNames(spec.name)...); err != nil {
			return sr, err
		}
	}
	return sr, nil
}

// runSpec is one convergence run of one subject.
type runSpec struct {
	// name names the run and its namespaces.
	name     string
	workload Workload
	subject  Subject
	// setting is ours's flags; a baseline's are its Args.
	setting       Setting
	criterion     Criterion
	idle, timeout time.Duration
}

// args are the subject's flags for this run.
func (s runSpec) args() []string {
	if s.subject.Binary == "" {
		return append(s.setting.Args(), s.subject.Args...)
	}
	return s.subject.Args
}

// convergenceRun creates the workload at once under a fresh manager and
// measures it until convergence, then through the idle window. The manager
// is left running for the caller.
func convergenceRun(ctx context.Context, env *Env, id *testbed.Identity, spec runSpec) (*RunResult, *Operator, error) {
	w := spec.workload
	env.logf("run %s (%s): %s, %s", spec.name, spec.subject.Name, w, strings.Join(spec.args(), " "))
	for _, ns := range w.NamespaceNames(spec.name) {
		if err := env.CreateNamespace(ctx, ns); err != nil {
			return nil, nil, err
		}
	}
	op, err := env.StartOperator(ctx, OperatorOptions{
		Identity: id, Name: "operator-" + spec.name, Args: spec.args(), Metrics: true, WaitForWorkers: true, Conventional: spec.subject.Conventional,
	})
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*RunResult, *Operator, error) {
		_ = op.Stop()
		return nil, nil, fmt.Errorf("run %s: %w (operator log %s)", spec.name, err, op.LogFile())
	}
	tracker, err := StartTracker(ctx, env.Admin, env.Dynamic, TrackerOptions{Criterion: spec.criterion})
	if err != nil {
		return fail(err)
	}
	defer tracker.Stop()
	audit := env.Audit()
	if err := audit.Skip(); err != nil {
		return fail(err)
	}
	r := &RunResult{CRs: w.CRs, Pods: w.Pods(), Namespaces: len(w.NamespaceNames(spec.name))}
	if spec.subject.Binary == "" {
		r.Setting = spec.setting
	}
	if r.StartMemory, err = ReadOperatorMemory(ctx, op); err != nil {
		return fail(err)
	}
	if err := r.converge(ctx, env, op, tracker, audit, spec); err != nil {
		return fail(err)
	}
	if spec.idle > 0 {
		if err := r.idleWindow(ctx, env, audit, id, spec.idle); err != nil {
			return fail(err)
		}
	}
	if r.Memory, err = ReadOperatorMemory(ctx, op); err != nil {
		return fail(err)
	}
	env.logf("  manager RSS %s (peak %s), Go heap in use %s", MiB(r.Memory.RSS), MiB(r.Memory.HWM), MiB(r.Memory.HeapInuse))
	return r, op, nil
}

// converge creates the workload and waits until it converged, then reads
// the figures of the convergence: times, requests, CPU, memory.
func (r *RunResult) converge(ctx context.Context, env *Env, op *Operator, tracker *Tracker, audit *AuditReader, spec runSpec) error {
	cpuBefore, err := ReadCPU(op.Pid())
	if err != nil {
		return err
	}
	start := time.Now()
	if err := CreateItems(ctx, env, spec.workload.Items(spec.name)); err != nil {
		return err
	}
	r.CreateSeconds = seconds(time.Since(start))
	conv, err := tracker.WaitConverged(ctx, spec.workload.Want(spec.name), start, spec.timeout, func(p Progress) {
		env.logf("  %s after %s", p, time.Since(start).Round(time.Second))
	})
	if err != nil {
		return err
	}
	cpuAfter, err := ReadCPU(op.Pid())
	if err != nil {
		return err
	}
	r.CPUSeconds = cpuAfter - cpuBefore
	if r.ConvergedMemory, err = ReadOperatorMemory(ctx, op); err != nil {
		return err
	}
	events, err := audit.Read()
	if err != nil {
		return err
	}
	r.ConvergeSeconds = seconds(conv.Elapsed)
	r.P50Seconds, r.P90Seconds, r.P99Seconds = seconds(conv.Percentile(50)), seconds(conv.Percentile(90)), seconds(conv.Percentile(99))
	r.DeployedSeconds = seconds(conv.AllDeployed())
	r.StatusLagP50Seconds, r.StatusLagP99Seconds = seconds(conv.StatusLag(50)), seconds(conv.StatusLag(99))
	r.Writes = CountMutating(events, "", op.Identity.Username)
	r.Reads = CountReads(events, op.Identity.Username)
	r.ClusterWrites = CountMutating(events, "").Total
	r.Profile = ProfileOf(events, op.Identity.Username)
	if err := r.readReconcileMetrics(ctx, op.MetricsURL); err != nil {
		return fmt.Errorf("the manager's metrics (a baseline that serves them over HTTPS needs its flag for plain HTTP in --baseline-args): %w", err)
	}
	r.WritesPerCR = float64(r.Writes.Total) / float64(r.CRs)
	r.ObjectWritesPerCR = float64(r.Writes.Without("events")) / float64(r.CRs)
	env.logf("  converged in %.1fs (created in %.1fs; all Deployments by %.1fs; p50 %.1fs, p90 %.1fs; status lag p50 %.1fs, p99 %.1fs); %d writes, %.2f per Memcached: %s; %d reads; %d reconciles taking %.1fs, waiting %.2fs each for a worker; %.1fs waiting for the client-side rate limiter; %.1f CPU seconds; peak %d requests/s; RSS %s",
		r.ConvergeSeconds, r.CreateSeconds, r.DeployedSeconds, r.P50Seconds, r.P90Seconds, r.StatusLagP50Seconds, r.StatusLagP99Seconds,
		r.Writes.Total, r.WritesPerCR, r.Writes, r.Reads, r.Reconciles, r.ReconcileSeconds, r.QueueWaitSeconds, r.ThrottledSeconds, r.CPUSeconds, r.Profile.PeakPerSecond, MiB(r.ConvergedMemory.RSS))
	return nil
}

// readReconcileMetrics reads controller-runtime's reconcile and work queue
// figures from the manager's metrics.
func (r *RunResult) readReconcileMetrics(ctx context.Context, url string) error {
	metrics, err := ScrapeMetrics(ctx, url, "controller_runtime_reconcile_time_seconds_count", "controller_runtime_reconcile_time_seconds_sum",
		"workqueue_queue_duration_seconds_sum", "workqueue_queue_duration_seconds_count",
		"rest_client_rate_limiter_duration_seconds_sum", "rest_client_rate_limiter_duration_seconds_count")
	if err != nil {
		return err
	}
	r.Reconciles = int(metrics["controller_runtime_reconcile_time_seconds_count"])
	r.ReconcileSeconds = metrics["controller_runtime_reconcile_time_seconds_sum"]
	if n := metrics["workqueue_queue_duration_seconds_count"]; n > 0 {
		r.QueueWaitSeconds = metrics["workqueue_queue_duration_seconds_sum"] / n
	}
	r.ThrottledSeconds = -1
	if _, ok := metrics["rest_client_rate_limiter_duration_seconds_count"]; ok {
		r.ThrottledSeconds = metrics["rest_client_rate_limiter_duration_seconds_sum"]
	}
	return nil
}

// idleWindow waits idle after convergence and counts what the operator
// wrote meanwhile (goal: nothing).
func (r *RunResult) idleWindow(ctx context.Context, env *Env, audit *AuditReader, id *testbed.Identity, idle time.Duration) error {
	env.logf("  idle window of %s, from %s after convergence", idle, Settle)
	if err := sleep(ctx, Settle); err != nil {
		return err
	}
	if _, err := audit.Read(); err != nil { // writes while settling belong to convergence
		return err
	}
	if err := sleep(ctx, idle); err != nil {
		return err
	}
	events, err := audit.Read()
	if err != nil {
		return err
	}
	w := CountMutating(events, "", id.Username)
	r.IdleSeconds, r.IdleWrites = seconds(idle), &w
	env.logf("  %d writes while idle: %s", w.Total, w)
	return nil
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

// cleanup stops the manager and, when more runs follow on the cluster,
// deletes the run's namespaces and waits until they are gone.
func cleanup(ctx context.Context, env *Env, op *Operator, more bool, namespaces ...string) error {
	if err := op.Stop(); err != nil || !more {
		return err
	}
	return env.DeleteNamespaces(ctx, true, 5*time.Minute, namespaces...)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
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
