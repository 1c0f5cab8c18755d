package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bench"
)

func newBenchCommand() *cobra.Command {
	var (
		cfg      bench.Config
		crs      string
		sweep    string
		outputs  []string
		sweepCRs int
		baseline baselineFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the operator on the local cluster: convergence, API writes, memory",
		Long: `Starts a local cluster with its audit log on, installs the CRD and the
operator's RBAC from config/default, builds the manager and runs it as a
process under its own ServiceAccount, then measures:

  - convergence: N Memcacheds (sizes 1, 2, 3, ...) created at once, until
    every Deployment is ready at size and every status lists its pods;
  - API cost: the operator's mutating requests per Memcached until then, and
    during an idle window afterwards (from the audit log);
  - memory: the manager's RSS and Go heap with N Memcacheds, and again after
    unrelated Pods and Deployments appear in other namespaces;
  - a sweep of --max-concurrent-reconciles / --kube-api-qps on --sweep-crs
    Memcacheds.

With --baseline, a second manager binary (any controller-runtime manager of
the Memcached API, such as the tutorial's controller built from its own
checkout) then gets the same convergence runs and unrelated objects on a
fresh cluster, with --baseline-args for flags, and the report puts both
side by side with the ratios ours / baseline. Both are then judged by what
any such controller promises: the Deployment ready at size and status.nodes
naming its pods.

It prints figures and asserts nothing. Logs, the audit log and the cluster's
state stay in --work-dir.`,
		Example: `  tools bench --crs 100,500 --idle 60s --unrelated 10000 --output bin/bench/report.md
  tools bench --crs 50 --idle 10s --unrelated 0 --sweep "" --output - --output bench.json
  tools bench --crs 100 --namespaces 10 --size 3 --sweep "" --baseline /tmp/tutorial-manager`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := baseline.apply(&cfg); err != nil {
				return err
			}
			return runBench(cmd, cfg, crs, sweep, sweepCRs, outputs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&crs, "crs", "100,500", "Convergence runs: how many Memcacheds each creates at once (comma-separated)")
	f.DurationVar(&cfg.Idle, "idle", 60*time.Second, "Idle window after each convergence run, in which the operator should write nothing")
	f.IntVar(&cfg.Unrelated, "unrelated", 10000, "Unrelated Pods and Deployments created after the last run, to see whether the manager's memory follows them (0 skips)")
	f.StringVar(&sweep, "sweep", "1/50,4/50,8/50,16/50,8/20,8/100", "Settings to sweep, RECONCILES/QPS[/BURST] (burst defaults to 2*QPS), comma-separated; empty skips")
	f.IntVar(&sweepCRs, "sweep-crs", 100, "Memcacheds per sweep run")
	f.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "Give up on a convergence run after this long")
	f.IntVar(&cfg.Namespaces, "namespaces", 1, "Spread each run's Memcacheds round-robin over this many namespaces")
	f.Int32Var(&cfg.Size, "size", 0, "Size of every Memcached (0: sizes 1, 2, 3, 1, 2, 3, ...)")
	f.StringVar(&baseline.binary, "baseline", "", "A second manager binary to measure the same way on a fresh cluster, side by side with ours (empty: none)")
	f.StringVar(&baseline.args, "baseline-args", strings.Join(bench.DefaultBaselineArgs, " "),
		"The baseline's flags, space-separated; the bench adds --health-probe-bind-address and --metrics-bind-address (plain HTTP)")
	f.StringVar(&cfg.RepoRoot, "repo-root", ".", "The repository root (config/ and operator/)")
	f.StringVar(&cfg.BinDir, "bin-dir", "bin/k8s", "Directory of the control-plane binaries (make k8s-binaries)")
	f.StringVar(&cfg.WorkDir, "work-dir", "bin/bench", "Directory for the manager, its logs and the cluster's state and audit log")
	f.StringArrayVar(&outputs, "output", []string{"-"}, "Where to write the report (repeatable): a .json file gets JSON, any other file or - (standard output) Markdown")
	return cmd
}

// runBench parses the flags into cfg, runs the benchmark and writes the
// report to every output.
func runBench(cmd *cobra.Command, cfg bench.Config, crs, sweep string, sweepCRs int, outputs []string) error {
	var err error
	if cfg.CRs, err = bench.ParseCounts(crs); err != nil {
		return err
	}
	if cfg.Sweep, err = bench.ParseSettings(sweep); err != nil {
		return err
	}
	cfg.SweepCRs = sweepCRs
	if len(cfg.CRs) == 0 && len(cfg.Sweep) == 0 {
		return fmt.Errorf("nothing to measure: give --crs or --sweep")
	}
	for _, dir := range []*string{&cfg.RepoRoot, &cfg.BinDir, &cfg.WorkDir} {
		if *dir, err = filepath.Abs(*dir); err != nil {
			return err
		}
	}
	outs := []output{{flag: "--work-dir", path: cfg.WorkDir}}
	for _, o := range outputs {
		if o != "-" {
			outs = append(outs, output{flag: "--output", path: o})
		}
	}
	if err := checkOutputs(outs...); err != nil {
		return err
	}
	clusters := []string{filepath.Join(cfg.WorkDir, "cluster")}
	if cfg.Baseline != nil {
		clusters = append(clusters, filepath.Join(cfg.WorkDir, "baseline", "cluster"))
	}
	for _, dir := range clusters {
		if err := atomicdir.ResetOwnedDir("--work-dir", dir); err != nil {
			return err
		}
	}
	cfg.Log = cmd.ErrOrStderr()
	// Ctrl-C stops the run and everything it started.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := bench.Run(ctx, cfg)
	if report != nil {
		report.Command = shellJoin(append([]string{"tools"}, os.Args[1:]...))
	}
	if err != nil {
		return err
	}
	for _, output := range outputs {
		if err := writeReport(cmd.OutOrStdout(), report, output); err != nil {
			return err
		}
	}
	return nil
}

// baselineFlags are --baseline and --baseline-args.
type baselineFlags struct{ binary, args string }

// apply sets cfg.Baseline from the flags: the binary by its absolute path,
// named after its file.
func (f baselineFlags) apply(cfg *bench.Config) error {
	if f.binary == "" {
		return nil
	}
	path, err := filepath.Abs(f.binary)
	if err != nil {
		return fmt.Errorf("--baseline: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("--baseline: %w", err)
	}
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("--baseline %s: not an executable file", path)
	}
	cfg.Baseline = &bench.Subject{Name: filepath.Base(path), Binary: path, Args: strings.Fields(f.args), Conventional: true}
	return nil
}

func writeReport(stdout io.Writer, report *bench.Report, output string) error {
	w := stdout
	if output != "-" && output != "" {
		f, err := os.Create(output)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if strings.HasSuffix(output, ".json") {
		return report.WriteJSON(w)
	}
	return report.WriteMarkdown(w)
}

// shellJoin quotes arguments the way a shell user would type them.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$`\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}
