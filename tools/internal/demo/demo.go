package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/blang/semver/v4"

	"github.com/example-inc/memcached-operator/tools/internal/kubeversion"
	"github.com/example-inc/memcached-operator/tools/internal/render"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
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
	// Keep leaves the cluster and the operator running; `make local-down`
	// (testbed.ClusterDown) stops both.
	Keep bool
	// Out receives the walk-through.
	Out io.Writer
	// Node, when set, runs the pods on a real node where this host can
	// run one (Linux, root, the Debian packages), building what it lacks
	// first, so that memcached really answers; elsewhere the demo runs on
	// kwok's nodes as without it, saying why in one line.
	Node *NodeConfig
}

// Run performs the demo. Without Keep, everything it started is stopped
// before it returns, whether the walk-through passed or not.
func Run(ctx context.Context, cfg Config) (err error) {
	var node *RealNode
	if cfg.Node != nil {
		n := *cfg.Node
		n.Images = []string{testbed.MemcachedImage} // the walk-through pulls memcached alone
		if node, err = PrepareNode(ctx, n, cfg.RepoRoot, cfg.WorkDir, cfg.Out); err != nil {
			return err
		}
	}
	started := time.Now()
	cluster, node, err := startCluster(ctx, cfg, node)
	if err != nil {
		return err
	}
	if !cfg.Keep {
		// The cluster's Stop stops the operator too.
		defer func() {
			if err = errors.Join(err, cluster.Stop()); err == nil {
				fmt.Fprintln(cfg.Out, "# stopped: the operator, the cluster and the node; the host is as before")
			}
		}()
	}
	kubectl := walkthrough.Kubectl{Path: filepath.Join(cfg.BinDir, "kubectl"), Kubeconfig: cluster.Kubeconfig(), Dir: cfg.RepoRoot, Out: cfg.Out}
	if err := prepare(ctx, cfg, cluster, node, kubectl, started); err != nil {
		return err
	}
	logFile, err := runOperator(ctx, cfg, cluster)
	if err != nil {
		return err
	}
	if err := walkthrough.Run(ctx, walkthrough.Config{
		Kubeconfig: cluster.Kubeconfig(),
		Kubectl:    kubectl.Path,
		Sample:     walkthrough.DefaultSample,
		Dir:        cfg.RepoRoot,
		Out:        cfg.Out,
		SetGet:     node != nil,
	}); err != nil {
		return fmt.Errorf("%w\n(the operator's log is %s)", err, logFile)
	}
	if cfg.Keep {
		fmt.Fprintf(cfg.Out, `
## The cluster and the operator keep running
  export KUBECONFIG=%s
  kubectl apply -f config/samples/cache_v1_memcached.yaml
  kubectl get memcached,deployments,pods
  tail -f %s        # the operator's log
  make local-down   # stops the operator and the cluster
`, cluster.Kubeconfig(), logFile)
	} else {
		step(cfg.Out, "Stop the operator and the local cluster")
	}
	return nil
}

// startCluster starts the local cluster, with the real node when there is
// one. A real node another run holds (tests, `make local-up REAL_NODE=1`)
// is a reason, said in one line, to run on kwok's nodes instead; the
// returned node is then nil.
func startCluster(ctx context.Context, cfg Config, node *RealNode) (*testbed.Cluster, *RealNode, error) {
	opts := testbed.ClusterOptions{BinDir: cfg.BinDir, StateDir: cfg.StateDir, Detached: cfg.Keep}
	if node != nil {
		step(cfg.Out, "Start the local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and a real node (kubelet, containerd, kube-proxy, CoreDNS, a loopback registry)")
		opts.RealNode = node.Options
		cluster, err := testbed.StartCluster(ctx, opts)
		if !errors.Is(err, testbed.ErrRealNodeBusy) {
			if err != nil {
				return nil, nil, fmt.Errorf("starting the local cluster with a real node: %w", err)
			}
			return cluster, node, nil
		}
		fmt.Fprintf(cfg.Out, "# kwok nodes only, no real node: %v\n", err)
		opts.RealNode = nil
	} else {
		step(cfg.Out, "Start the local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	}
	cluster, err := testbed.StartCluster(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the local cluster: %w", err)
	}
	return cluster, nil, nil
}

// prepare shows the cluster, pushes memcached's image to a real node's
// registry under its upstream name, and installs the CRD.
func prepare(ctx context.Context, cfg Config, cluster *testbed.Cluster, node *RealNode, kubectl walkthrough.Kubectl, started time.Time) error {
	server, err := kubeversion.ServerVersion(cluster.RESTConfig())
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "# API server %s (Kubernetes v%s) ready in %s; kubeconfig %s\n", cluster.Server(), server, time.Since(started).Round(100*time.Millisecond), cluster.Kubeconfig())
	if err := kubectl.Run(nil, "get", "nodes"); err != nil {
		return err
	}
	if node != nil {
		if err := cluster.Registry().PushNodeImages(ctx, node.Images); err != nil {
			return err
		}
		for _, img := range node.Images {
			fmt.Fprintf(cfg.Out, "# pushed %s to the node's loopback registry (built here from Debian's memcached package)\n", img.Ref)
		}
	}
	return installCRD(cfg, kubectl, server)
}

// installCRD is `make install`, shown as the kubectl commands it amounts to:
// the CRD as server's version stores it (`tools render --for-cluster`).
func installCRD(cfg Config, kubectl walkthrough.Kubectl, server semver.Version) error {
	step(cfg.Out, "make install: install the CRD")
	crds, removed, err := render.RenderFor(filepath.Join(cfg.RepoRoot, "config", "crd"), server)
	if err != nil {
		return err
	}
	for _, r := range removed {
		fmt.Fprintf(cfg.Out, "# Kubernetes %s does not know %s: left out\n", server, r)
	}
	if err := kubectl.Run(crds, "apply", "--server-side", "-f", "-"); err != nil {
		return err
	}
	return kubectl.Run(nil, "wait", "--for=condition=Established", "crd/"+testbed.MemcachedCRD, "--timeout=60s")
}

// runOperator is `make run`: the manager built from the working tree, run
// as the admin, watching all namespaces. It returns the manager's log file.
func runOperator(ctx context.Context, cfg Config, cluster *testbed.Cluster) (string, error) {
	step(cfg.Out, "make run: run the operator out of cluster")
	manager := filepath.Join(cfg.WorkDir, "manager")
	if err := testbed.BuildOperator(ctx, cfg.RepoRoot, manager); err != nil {
		return "", err
	}
	logFile := filepath.Join(cfg.WorkDir, "operator.log")
	operator, err := cluster.StartOperator(ctx, testbed.OperatorOptions{
		Binary:     manager,
		Kubeconfig: cluster.Kubeconfig(),
		LogFile:    logFile,
	})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(cfg.Out, "# operator running as pid %d, watching all namespaces; log %s\n", operator.Pid(), logFile)
	return logFile, nil
}

func step(out io.Writer, title string) { fmt.Fprintf(out, "\n## %s\n", title) }
