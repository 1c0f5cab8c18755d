package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const (
	defaultNodes        = 1
	defaultStartTimeout = 2 * time.Minute
)

// ClusterOptions configures a local cluster. The zero value of every field but
// BinDir is usable.
type ClusterOptions struct {
	// BinDir holds kube-apiserver, kube-controller-manager, kube-scheduler,
	// etcd, kwok and kwok-stages.yaml, as produced by `make k8s-binaries`.
	BinDir string

	// StateDir receives certificates, kubeconfigs, etcd data, pid files and
	// logs, of the components and of every process started through
	// Cluster.StartProcess. When empty, StartCluster creates a temporary
	// directory and Stop removes it; a detached cluster needs an explicit
	// StateDir so that ClusterDown can find it again.
	StateDir string

	// Nodes is how many fake Nodes kwok manages; defaults to 1.
	Nodes int

	// Ports pins listening ports; every zero port is picked free at start.
	Ports Ports

	// AuditLog makes the apiserver record every request at level Metadata in
	// Cluster.AuditLogPath, so benchmarks can count requests per user.
	AuditLog bool

	// Detached starts the components, and every process started through
	// Cluster.StartProcess, in their own sessions so they outlive the
	// calling process (for `tools local up`). Otherwise they are killed when
	// the calling process exits, whichever way it exits.
	Detached bool

	// StartTimeout bounds the whole start, from the first process to Ready
	// Nodes; defaults to 2m.
	StartTimeout time.Duration

	// StopTimeout is how long a process may take to exit after SIGTERM
	// before it gets SIGKILL; defaults to 15s.
	StopTimeout time.Duration

	// RealNode, when set, adds a real node (RealNodeOptions) beside the
	// kwok nodes. The kwok nodes are then tainted (KwokTaint), so that
	// every workload that does not tolerate it runs on the real node.
	RealNode *RealNodeOptions
}

// Ports are the loopback ports the cluster listens on. kube-controller-manager,
// kube-scheduler and kwok serve nothing, so they need none.
type Ports struct {
	EtcdClient int
	EtcdPeer   int
	APIServer  int
}

// withDefaults returns a copy of o with defaults applied and every path made
// absolute: the components run with the state directory as working directory,
// and pid-file ownership checks compare whole command lines.
func (o ClusterOptions) withDefaults() (ClusterOptions, error) {
	if o.BinDir == "" {
		return o, fmt.Errorf("no binary directory given: run `make k8s-binaries` and pass its output directory")
	}
	bin, err := filepath.Abs(o.BinDir)
	if err != nil {
		return o, fmt.Errorf("resolving binary directory %q: %w", o.BinDir, err)
	}
	o.BinDir = bin
	if o.StateDir != "" {
		state, err := filepath.Abs(o.StateDir)
		if err != nil {
			return o, fmt.Errorf("resolving state directory %q: %w", o.StateDir, err)
		}
		o.StateDir = state
	}
	if o.Detached && o.StateDir == "" {
		return o, fmt.Errorf("a detached cluster needs a state directory")
	}
	if o.Nodes == 0 {
		o.Nodes = defaultNodes
	}
	if o.Nodes < 0 {
		return o, fmt.Errorf("node count must be positive, got %d", o.Nodes)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = defaultStopTimeout
	}
	if o.RealNode != nil {
		if o.RealNode, err = o.RealNode.withDefaults(); err != nil {
			return o, err
		}
	}
	for _, p := range []int{o.Ports.EtcdClient, o.Ports.EtcdPeer, o.Ports.APIServer} {
		if p < 0 || p > 65535 {
			return o, fmt.Errorf("port %d is out of range", p)
		}
	}
	return o, nil
}

// checkBinaries fails on the first missing or non-executable file so the
// message can name it; all of them come from the same make target.
func checkBinaries(binDir string) error {
	for _, name := range requiredFiles {
		path := filepath.Join(binDir, name)
		info, err := os.Stat(path)
		switch {
		case os.IsNotExist(err):
			return fmt.Errorf("%s not found in %s: run `make k8s-binaries`", name, binDir)
		case err != nil:
			return fmt.Errorf("checking %s: %w", path, err)
		case info.IsDir():
			return fmt.Errorf("%s in %s is a directory, not a binary: run `make k8s-binaries`", name, binDir)
		case name != kwokStagesFile && info.Mode().Perm()&0o111 == 0:
			return fmt.Errorf("%s in %s is not executable: run `make k8s-binaries`", name, binDir)
		}
	}
	return nil
}
