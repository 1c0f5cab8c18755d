package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/localcluster"
	"github.com/example-inc/memcached-operator/tools/internal/operatorprocess"
	"github.com/example-inc/memcached-operator/tools/internal/render"
	"github.com/example-inc/memcached-operator/tools/internal/walkthrough"
)

// Config says where the repository and the binaries are.
type Config struct {
	// RepoRoot is the repository: config/ and the operator module.
	RepoRoot string
	// BinDir holds the control-plane binaries (bin/k8s).
	BinDir string
	// StateDir holds the cluster's state. With Keep it must be the directory
	// `make local-down` stops (bin/local); without, empty means a temporary
	// directory removed at the end.
	StateDir string
	// WorkDir receives the manager binary and its log.
	WorkDir string
	// Keep leaves the cluster and the operator running.
	Keep bool
	// Out receives the walk-through.
	Out io.Writer
}

// OperatorPidFile is where a kept demo records the operator's pid.
func OperatorPidFile(stateDir string) string { return filepath.Join(stateDir, "operator.pid") }

// Run performs the demo. Without Keep, everything it started is stopped
// before it returns, whether the walk-through passed or not.
func Run(ctx context.Context, cfg Config) (err error) {
	out := cfg.Out
	kubectl := filepath.Join(cfg.BinDir, "kubectl")

	step(out, "Start the local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	start := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: cfg.BinDir, StateDir: cfg.StateDir, Detached: cfg.Keep})
	if err != nil {
		return fmt.Errorf("starting the local cluster: %w", err)
	}
	if !cfg.Keep {
		defer func() { err = errors.Join(err, cluster.Stop()) }()
	}
	fmt.Fprintf(out, "# API server %s ready in %s; kubeconfig %s\n", cluster.Server(), time.Since(start).Round(100*time.Millisecond), cluster.Kubeconfig())
	kc := cluster.Kubeconfig()
	if err := run(out, kc, nil, kubectl, "get", "nodes"); err != nil {
		return err
	}

	step(out, "make install: install the CRD")
	crds, err := render.Render(filepath.Join(cfg.RepoRoot, "config", "crd"))
	if err != nil {
		return err
	}
	if err := run(out, kc, crds, kubectl, "apply", "--server-side", "-f", "-"); err != nil {
		return err
	}
	if err := run(out, kc, nil, kubectl, "wait", "--for=condition=Established", "crd/memcacheds.cache.example.com", "--timeout=60s"); err != nil {
		return err
	}

	step(out, "make run: run the operator out of cluster")
	manager := filepath.Join(cfg.WorkDir, "manager")
	if err := operatorprocess.Build(ctx, cfg.RepoRoot, manager); err != nil {
		return err
	}
	opts := operatorprocess.Options{
		Binary:     manager,
		Kubeconfig: cluster.Kubeconfig(),
		LogFile:    filepath.Join(cfg.WorkDir, "operator.log"),
		Detached:   cfg.Keep,
	}
	if cfg.Keep {
		opts.PidFile = OperatorPidFile(cfg.StateDir)
	}
	operator, err := operatorprocess.Start(ctx, opts)
	if err != nil {
		return err
	}
	if !cfg.Keep {
		defer func() { err = errors.Join(err, operator.Stop()) }()
	}
	fmt.Fprintf(out, "# operator running as pid %d, watching all namespaces; log %s\n", operator.Pid(), opts.LogFile)

	if err := walkthrough.Run(ctx, walkthrough.Config{
		Kubeconfig: cluster.Kubeconfig(),
		Kubectl:    kubectl,
		Sample:     walkthrough.DefaultSample,
		Dir:        cfg.RepoRoot,
		Out:        out,
	}); err != nil {
		return fmt.Errorf("%w\n(the operator's log is %s)", err, opts.LogFile)
	}

	if cfg.Keep {
		fmt.Fprintf(out, `
## The cluster and the operator keep running
  export KUBECONFIG=%s
  kubectl apply -f config/samples/cache_v1_memcached.yaml
  kubectl get memcached,deployments,pods
  tail -f %s        # the operator's log
  make local-down   # stops the operator and the cluster
`, cluster.Kubeconfig(), opts.LogFile)
	} else {
		step(out, "Stop the operator and the local cluster")
	}
	return nil
}

func step(out io.Writer, title string) { fmt.Fprintf(out, "\n## %s\n", title) }

// run prints a command as a user would type it, then runs it against the
// cluster of kubeconfig with input on stdin.
func run(out io.Writer, kubeconfig string, input []byte, name string, args ...string) error {
	shown := append([]string{filepath.Base(name)}, args...)
	fmt.Fprintf(out, "$ %s\n", strings.Join(shown, " "))
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if input != nil {
		cmd.Stdin = bytes.NewReader(input)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(shown, " "), err)
	}
	return nil
}
