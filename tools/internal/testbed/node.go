package testbed

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RealNodeOptions add one real node to the cluster: a kubelet with
// containerd, runc and the CNI bridge plugin, kube-proxy (nftables) and
// CoreDNS, with a loopback registry that containerd's mirror configuration
// sends every pull to. It needs Linux and root, and changes the host: see
// docs/real-node.md for each change and how teardown puts it back.
type RealNodeOptions struct {
	// BinDir holds kubelet, kube-proxy, containerd,
	// containerd-shim-runc-v2 and coredns, as `make node-binaries` builds
	// them.
	BinDir string
	// ToolsBinary is the `tools` binary, which serves the loopback
	// registry (`tools registry serve`).
	ToolsBinary string
	// WaitForLock makes the start wait, until its context ends, for a real
	// node of another state directory to be torn down (test packages queue
	// this way); otherwise the start fails at once naming it.
	WaitForLock bool
	// Progress receives the few lines worth telling a user during a start:
	// Debian packages being installed, a dead run being cleaned up.
	Progress io.Writer
}

func (o *RealNodeOptions) withDefaults() (*RealNodeOptions, error) {
	n := *o
	if n.BinDir == "" {
		return nil, fmt.Errorf("real node: no node binary directory given: run `make node-binaries` and pass its output directory")
	}
	for _, p := range []*string{&n.BinDir, &n.ToolsBinary} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("real node: resolving %q: %w", *p, err)
		}
		*p = abs
	}
	if n.Progress == nil {
		n.Progress = io.Discard
	}
	return &n, nil
}

// NodeTimings are how long the real node took to come up.
type NodeTimings struct {
	// KubeletToReady is from the kubelet's start to its Node's Ready
	// condition.
	KubeletToReady time.Duration
	// Total is from the registry's start to CoreDNS answering.
	Total time.Duration
}

// realNode is a cluster's real node while it starts and runs.
type realNode struct {
	opts    RealNodeOptions
	layout  nodeLayout
	lock    *nodeLock
	roots   []string // cgroup hierarchies
	ports   nodePorts
	reg     *Registry
	timings NodeTimings
	// recorded is set once this start wrote its ledger.
	recorded bool
	// pause is the sandbox image, built before the start's timeout runs
	// (a cold build cache makes it the slowest step).
	pause v1.Image
}

// lockNode takes the machine-wide lock and cleans up a run that died
// without its teardown (the lock file names its state directory).
func (c *Cluster) lockNode(ctx context.Context) error {
	lock, err := acquireNodeLock(ctx, c.opts.RealNode.WaitForLock)
	if err != nil {
		return err
	}
	c.node.lock = lock
	// The lock is free, so no process of the run it names runs; neither
	// does one of a run in this state directory whose ledger survived a
	// reboot (which empties /run, lock file included).
	for _, dir := range slices.Compact([]string{lock.previous, c.layout.dir}) {
		if err := cleanDeadRun(lock, dir, c.opts.StopTimeout, c.node.opts.Progress); err != nil {
			return err
		}
	}
	return lock.claim(c.layout.dir)
}

// cleanDeadRun tears down what a dead run of a real node left in
// stateDir, if anything: the processes of its cluster that still run (none
// of the node's: the lock was free) and every host change its ledger
// records. The caller holds the lock.
func cleanDeadRun(lock *nodeLock, stateDir string, timeout time.Duration, progress io.Writer) error {
	if stateDir == "" {
		return nil
	}
	l := layout{dir: stateDir}
	ledger, err := readLedger(l.ledgerFile())
	if err != nil || ledger == nil {
		return err
	}
	fmt.Fprintf(progress, "real node: cleaning up after a run that died (state directory %s)\n", stateDir)
	procs, err := FindProcesses(l.runDir())
	if err != nil {
		return err
	}
	if err := teardown(l, procs, timeout, lock); err != nil {
		return fmt.Errorf("real node: cleaning up the dead run of %s: %w", stateDir, err)
	}
	return nil
}

// prepareHost records the host in the ledger, then makes the changes the
// node needs before any process starts: its cgroups and its bridge.
func (c *Cluster) prepareHost() error {
	n := c.node
	n.layout = c.layout.node()
	if err := n.layout.reset(); err != nil {
		return err
	}
	ledger, err := recordHost()
	if err != nil {
		return fmt.Errorf("real node: recording the host before changing it: %w", err)
	}
	if err := writeLedger(c.layout.ledgerFile(), ledger); err != nil {
		return err
	}
	n.recorded = true
	n.roots = ledger.CgroupRoots
	if err := createNodeCgroups(n.roots); err != nil {
		return err
	}
	if err := installFence(n.roots); err != nil {
		return err
	}
	if err := os.MkdirAll(nodeRunDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", nodeRunDir, err)
	}
	if err := createBridge(); err != nil {
		return fmt.Errorf("real node: creating the bridge %s: %w", nodeBridge, err)
	}
	if n.ports, err = allocateNodePorts(); err != nil {
		return err
	}
	n.reg = &Registry{host: hostPort(n.ports.Registry)}
	c.endpoints.apiHost = nodeAddress
	return nil
}

// writeNodeFiles writes every configuration the node's processes read, and
// builds the pause image.
func (c *Cluster) writeNodeFiles(ctx context.Context) error {
	n := c.node
	runc, err := lookPathAbs("runc")
	if err != nil {
		return err
	}
	cfg := nodeConfig{
		layout: n.layout, ports: n.ports, runc: runc, caFile: c.layout.pki("ca.crt"),
		proxyKubeconfig: c.layout.componentKubeconfig(KubeProxy), dnsKubeconfig: c.layout.componentKubeconfig(CoreDNS),
	}
	files := map[string]func() ([]byte, error){
		n.layout.containerdConfig(): cfg.containerd,
		n.layout.kubeletConfig():    cfg.kubelet,
		n.layout.proxyConfig():      cfg.kubeProxy,
		filepath.Join(n.layout.cniConfDir(), "10-memcached-operator-node.conflist"): cfg.cniNetwork,
		n.layout.corefile():   func() ([]byte, error) { return cfg.corefile(), nil },
		n.layout.resolvConf(): func() ([]byte, error) { return resolvConf(), nil },
	}
	if n.pause, err = ProgramImage(ctx, pauseSource, "pause", filepath.Dir(n.layout.pauseBinary())); err != nil {
		return fmt.Errorf("real node: building the pause image: %w", err)
	}
	for path, render := range files {
		data, err := render()
		if err != nil {
			return fmt.Errorf("rendering %s: %w", filepath.Base(path), err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return writeMirrorHosts(n.layout.certsDir(), n.reg.host)
}

func lookPathAbs(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("real node: %s not found in PATH: %w", name, err)
	}
	return filepath.Abs(p)
}

// nodeEnv is the environment of the node's daemons: containerd finds its
// shim in PATH, the kubelet mount and umount, kube-proxy nft.
func (n *realNode) nodeEnv() []string {
	return []string{"PATH=" + n.opts.BinDir + string(os.PathListSeparator) + os.Getenv("PATH"), "TMPDIR=" + n.layout.tmpDir()}
}

// nodeSpec is how the supervisor runs one of the node's daemons: in the
// node's cgroup, holding the machine-wide lock.
func (c *Cluster) nodeSpec(name, path string, args []string, tier StopTier) ProcessSpec {
	return ProcessSpec{
		Name: name, Path: path, Args: args, Env: c.node.nodeEnv(), Dir: c.layout.dir,
		Wrapper: joinCgroupWrapper(c.node.roots), ExtraFiles: []*os.File{c.node.lock.file},
		LogFile: c.layout.logFile(name), PidFile: c.layout.pidFile(name), Detached: c.opts.Detached, Tier: tier,
	}
}

// ClusterDNSWrapper is a ProcessSpec.Wrapper for a host process that must
// resolve cluster names (the OLM catalog operator dials
// <catalog>.<namespace>.svc): it runs in a mount namespace of its own where
// /etc/resolv.conf names only the node's CoreDNS, so no query reaches the
// host's resolver. Nil without a real node.
func (c *Cluster) ClusterDNSWrapper() []string {
	if c.node == nil {
		return nil
	}
	return []string{"unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /etc/resolv.conf && exec "$@"`, c.node.layout.resolvConf()}
}

// Registry returns the real node's loopback registry, or nil without one.
func (c *Cluster) Registry() *Registry {
	if c.node == nil {
		return nil
	}
	return c.node.reg
}

// NodeTimings returns how long the real node took to start.
func (c *Cluster) NodeTimings() NodeTimings {
	if c.node == nil {
		return NodeTimings{}
	}
	return c.node.timings
}
