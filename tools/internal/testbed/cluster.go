package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var (
	// ErrAlreadyRunning is returned by StartCluster when the state directory
	// belongs to a cluster that still runs.
	ErrAlreadyRunning = errors.New("local cluster already running")

	// ErrNothingRunning is returned by ClusterDown and ClusterStatus when the
	// state directory has no running process.
	ErrNothingRunning = errors.New("nothing running")
)

// Cluster is a running local control plane, and the supervisor of every
// process started on it.
type Cluster struct {
	opts       ClusterOptions
	layout     layout
	tempState  bool
	endpoints  endpoints
	restConfig *rest.Config
	kube       kubernetes.Interface

	mu sync.Mutex
	// components are the control plane in start order; others are the
	// processes started through StartProcess.
	components []*Process
	others     []*Process

	// node is the real node; nil for kwok nodes only.
	node *realNode

	stopOnce sync.Once
	stopErr  error
}

// ProcessInfo describes one supervised process.
type ProcessInfo struct {
	Name    string
	PID     int
	Running bool
	// Ports the process listens on, on Host (127.0.0.1 when empty).
	Ports   []int
	Host    string
	LogFile string
}

// StartCluster runs a local cluster and returns once the apiserver is ready,
// the `default` namespace exists, every Node is Ready and the controller
// manager works. The context bounds only the start, not the cluster's life:
// call Stop, or ClusterDown for a detached cluster. On error nothing is left
// running.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// What no build target can fix (not Linux, not root) is said first.
	if o.RealNode != nil {
		if err := preflight(ctx, *o.RealNode); err != nil {
			return nil, err
		}
	}
	if err := checkBinaries(o.BinDir); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, o)
		if err == nil || attempt == portAttempts || !portTaken(err, o.Ports) {
			return c, err
		}
	}
}

// portAttempts bounds the starts of a cluster whose ports another process
// took between their choice and their bind (allocatePorts).
const portAttempts = 3

// portTaken reports whether a start failed because a component could not
// bind a port the testbed chose for it (none pinned in ports): the next
// attempt chooses new ones.
func portTaken(err error, pinned Ports) bool {
	return pinned == (Ports{}) && strings.Contains(err.Error(), "address already in use")
}

// start is one attempt of StartCluster, with o's defaults set and checked.
func start(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	c := &Cluster{opts: o}
	if o.RealNode != nil {
		c.node = &realNode{opts: *o.RealNode}
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "localcluster-")
		if err != nil {
			return nil, fmt.Errorf("creating state directory: %w", err)
		}
		c.opts.StateDir, c.tempState = dir, true
	}
	c.layout = layout{dir: c.opts.StateDir}

	if err := c.prepare(ctx); err != nil {
		// A real node may have changed the host already.
		if undoErr := c.releaseNode(); undoErr != nil {
			return nil, errors.Join(err, fmt.Errorf("putting the host back after the failed start: %w", undoErr))
		}
		if c.tempState {
			_ = os.RemoveAll(c.layout.dir)
		}
		return nil, err
	}

	startCtx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	if err := c.run(startCtx); err != nil {
		// Keep the state directory, even a temporary one: the error points
		// into its logs (unless the start is tried again).
		if stopErr := c.stop(false); stopErr != nil {
			return nil, errors.Join(err, fmt.Errorf("cleaning up after failed start: %w", stopErr))
		}
		if c.tempState && portTaken(err, c.opts.Ports) {
			_ = os.RemoveAll(c.layout.dir)
		}
		return nil, err
	}
	return c, nil
}

// prepare checks that the cluster can start, then writes everything the
// components read: certificates, kubeconfigs, the audit policy and the
// cluster file that ClusterStatus and ClusterDown use. With a real node it
// first takes the machine-wide lock, then records the host and makes the
// node's host changes (prepareHost).
func (c *Cluster) prepare(ctx context.Context) error {
	if c.node != nil {
		if err := c.lockNode(ctx); err != nil {
			return err
		}
	}
	if err := checkNotRunning(c.layout); err != nil {
		return err
	}
	ports, err := allocatePorts(c.opts.Ports)
	if err != nil {
		return err
	}
	c.endpoints = endpoints{ports: ports}

	if err := c.layout.reset(); err != nil {
		return err
	}
	if c.node != nil {
		if err := c.prepareHost(); err != nil {
			return err
		}
	}
	_, serviceNet, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return fmt.Errorf("parsing service CIDR: %w", err)
	}
	serviceIP := serviceNet.IP.To4()
	serviceIP[3]++ // the `kubernetes` Service takes the range's first address
	certs, err := newPKI(serviceIP, c.node != nil)
	if err != nil {
		return err
	}
	if err := certs.write(c.layout); err != nil {
		return err
	}
	if err := c.writeKubeconfigs(certs); err != nil {
		return err
	}
	if c.node != nil {
		if err := c.writeNodeFiles(ctx); err != nil {
			return err
		}
	}
	if c.opts.AuditLog {
		if err := os.WriteFile(c.layout.auditPolicy(), []byte(auditPolicy), 0o600); err != nil {
			return fmt.Errorf("writing audit policy: %w", err)
		}
	}
	if c.restConfig, err = restConfigFromKubeconfig(c.layout.kubeconfig()); err != nil {
		return err
	}
	if c.kube, err = kubernetes.NewForConfig(c.restConfig); err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	return writeClusterFile(c.layout, c.info())
}

// writeKubeconfigs writes the admin kubeconfig and one per client component,
// each with its own identity.
func (c *Cluster) writeKubeconfigs(certs *pki) error {
	server := c.endpoints.apiServerURL()
	for name, client := range certs.Clients {
		path := c.layout.componentKubeconfig(name)
		if name == "admin" {
			path = c.layout.kubeconfig()
		}
		data, err := renderKubeconfig(server, certs.CA.CertPEM, client)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("writing kubeconfig for %s: %w", name, err)
		}
	}
	return nil
}

// run starts the components in dependency order, waiting for each to be
// usable before starting what depends on it.
func (c *Cluster) run(ctx context.Context) error {
	if err := c.startComponents(Etcd); err != nil {
		return err
	}
	if err := c.waitFor(ctx, Etcd, "become healthy", c.etcdHealthy); err != nil {
		return err
	}
	if err := c.startComponents(KubeAPIServer); err != nil {
		return err
	}
	if err := c.waitFor(ctx, KubeAPIServer, "become ready", apiServerReady(c.kube)); err != nil {
		return err
	}
	if err := c.waitFor(ctx, KubeAPIServer, "create the default namespace", namespaceExists(c.kube, "default")); err != nil {
		return err
	}

	// The apiserver's clients are independent of each other.
	if err := c.startComponents(KubeControllerManager, KubeScheduler, Kwok); err != nil {
		return err
	}
	if err := createNodes(ctx, c.kube, c.opts.Nodes, c.node != nil); err != nil {
		return err
	}
	if err := c.waitFor(ctx, Kwok, "make every Node Ready", nodesReady(c.kube, c.opts.Nodes)); err != nil {
		return err
	}
	// The ServiceAccount controller creates `default` in every namespace, so
	// its appearance shows the controller manager is up and syncing.
	if err := c.waitFor(ctx, KubeControllerManager, "create the default ServiceAccount", serviceAccountExists(c.kube, "default", "default")); err != nil {
		return err
	}
	if c.node != nil {
		if err := c.startNode(ctx); err != nil {
			return err
		}
	}
	// The scheduler has no observable effect before the first Pod; at least
	// make sure it did not die on start.
	if p := c.firstExited(); p != nil {
		return p.ExitedError("during start")
	}
	return nil
}

func (c *Cluster) startComponents(names ...string) error {
	for _, name := range names {
		spec, err := componentSpec(name, c.layout, c.endpoints, c.opts)
		if err != nil {
			return err
		}
		spec.ExtraFiles = c.lockFiles()
		if err := c.startComponent(spec); err != nil {
			return err
		}
	}
	return nil
}

// startComponent starts a process the cluster cannot do without: waits
// notice it dying, and Stop stops it in its tier.
func (c *Cluster) startComponent(spec ProcessSpec) error {
	p, err := StartProcess(spec)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.components = append(c.components, p)
	c.mu.Unlock()
	return nil
}

// firstExited returns a component that is no longer running, if any.
func (c *Cluster) firstExited() *Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.components {
		if !p.Running() {
			return p
		}
	}
	return nil
}

// waitFor polls check until it succeeds, a component dies, or ctx ends. The
// error names the component expected to make check succeed and quotes the end
// of its log.
func (c *Cluster) waitFor(ctx context.Context, component, what string, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p := c.firstExited(); p != nil {
			return p.ExitedError("during start")
		}
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		// An attempt cut short by the end of the start says nothing new;
		// the error before it explains more.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			cause := fmt.Sprintf("within the start timeout of %s", c.opts.StartTimeout)
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cause = "before the start was canceled"
			}
			return withLogTail(fmt.Errorf("%s did not %s %s (last check: %v)", component, what, cause, last), c.layout.logFile(component))
		case <-tick.C:
		}
	}
}

// StartProcess runs spec as a process of this cluster: its log and pid file
// go to the state directory (spec.LogFile, when set, wins), it runs there
// unless spec.Dir says otherwise, it is detached when the cluster is, and
// Stop (or ClusterDown) stops it with the components, in its tier. This is
// how OLM, the operator and any further host process join the cluster.
func (c *Cluster) StartProcess(spec ProcessSpec) (*Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range slices.Concat(c.components, c.others) {
		if p.Name() == spec.Name && p.Running() {
			return nil, fmt.Errorf("starting %s: a process of that name already runs (pid %d)", spec.Name, p.Pid())
		}
	}
	if spec.LogFile == "" {
		spec.LogFile = c.layout.logFile(spec.Name)
	}
	if spec.Dir == "" {
		spec.Dir = c.layout.dir
	}
	spec.PidFile, spec.Detached = c.layout.pidFile(spec.Name), c.opts.Detached
	spec.ExtraFiles = append(spec.ExtraFiles, c.lockFiles()...)
	p, err := StartProcess(spec)
	if err != nil {
		return nil, err
	}
	// Processes stopped on purpose no longer need stopping.
	c.others = slices.DeleteFunc(c.others, func(p *Process) bool { return !p.Running() })
	c.others = append(c.others, p)
	return p, nil
}

// Kubeconfig returns the path of the admin kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.layout.kubeconfig() }

// RESTConfig returns a copy of the admin client configuration; the admin is
// in system:masters.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Server returns the apiserver URL.
func (c *Cluster) Server() string { return c.endpoints.apiServerURL() }

// StateDir returns the directory holding the cluster's files and logs.
func (c *Cluster) StateDir() string { return c.layout.dir }

// AuditLogPath returns the apiserver's audit log, or "" when
// ClusterOptions.AuditLog was not set.
func (c *Cluster) AuditLogPath() string {
	if !c.opts.AuditLog {
		return ""
	}
	return c.layout.auditLog()
}

// Processes describes the cluster's components in start order, then the
// processes started through StartProcess.
func (c *Cluster) Processes() []ProcessInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return describe(slices.Concat(c.components, c.others))
}

// Stop stops every process of the cluster by tiers (SIGTERM, then SIGKILL
// after ClusterOptions.StopTimeout), waits until they are gone and their
// ports are free, and removes the pid files and the admin kubeconfig. A
// temporary state directory is removed; an explicit one keeps its logs. Stop
// is idempotent.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(true) })
	return c.stopErr
}

func (c *Cluster) stop(removeTemp bool) error {
	c.mu.Lock()
	procs := slices.Concat(c.components, c.others)
	c.mu.Unlock()
	var lock *nodeLock
	if c.node != nil {
		lock = c.node.lock
	}
	err := teardown(c.layout, procs, c.opts.StopTimeout, lock)
	if c.node != nil {
		err = errors.Join(err, c.node.unlock(c.layout))
	}
	if err == nil && removeTemp && c.tempState {
		if rmErr := os.RemoveAll(c.layout.dir); rmErr != nil {
			return fmt.Errorf("removing state directory: %w", rmErr)
		}
	}
	return err
}

// teardown stops the processes and removes the files that claim the cluster
// runs; with a real node's ledger in the state directory it stops them in
// the node's order and puts the host back (teardownNode). The files stay
// when a process survived, so a later ClusterDown can try again. held is
// the machine-wide lock when the caller holds it.
func teardown(l layout, procs []*Process, timeout time.Duration, held *nodeLock) error {
	ledger, err := readLedger(l.ledgerFile())
	if err != nil {
		return err
	}
	if ledger != nil {
		if err := teardownNode(l, ledger, procs, timeout, held); err != nil {
			return err
		}
	} else if err := StopProcesses(procs, timeout); err != nil {
		return err
	}
	var errs []error
	for _, path := range []string{l.kubeconfig(), l.clusterFile()} {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func describe(procs []*Process) []ProcessInfo {
	out := make([]ProcessInfo, 0, len(procs))
	for _, p := range procs {
		out = append(out, ProcessInfo{
			Name:    p.Name(),
			PID:     p.Pid(),
			Running: p.Running(),
			Ports:   p.Ports(),
			Host:    p.rec.Host,
			LogFile: p.LogFile(),
		})
	}
	return out
}

// clusterInfo is what cluster.json records for ClusterStatus and
// ClusterDown, which run in other processes than StartCluster. The
// processes record themselves in their pid files.
type clusterInfo struct {
	Server     string `json:"server"`
	Kubeconfig string `json:"kubeconfig"`
	AuditLog   string `json:"auditLog,omitempty"`
}

func (c *Cluster) info() clusterInfo {
	return clusterInfo{
		Server:     c.endpoints.apiServerURL(),
		Kubeconfig: c.layout.kubeconfig(),
		AuditLog:   c.AuditLogPath(),
	}
}

func writeClusterFile(l layout, info clusterInfo) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding cluster file: %w", err)
	}
	if err := os.WriteFile(l.clusterFile(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing cluster file: %w", err)
	}
	return nil
}

// readClusterFile returns the recorded cluster, or a zero value when the file
// is missing (a start that failed early, or a state directory from a crash).
func readClusterFile(l layout) (clusterInfo, error) {
	var info clusterInfo
	data, err := os.ReadFile(l.clusterFile())
	if errors.Is(err, os.ErrNotExist) {
		return info, nil
	}
	if err != nil {
		return info, fmt.Errorf("reading cluster file: %w", err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("parsing %s: %w", l.clusterFile(), err)
	}
	return info, nil
}

// checkNotRunning refuses a state directory whose cluster still runs:
// starting over it would wipe the certificates and etcd data under live
// processes. Pid files of dead processes are stale and ignored.
func checkNotRunning(l layout) error {
	procs, err := FindProcesses(l.runDir())
	if err != nil {
		return err
	}
	var running *Process
	for _, p := range procs {
		if !p.Running() {
			continue
		}
		// Name the apiserver when it runs: it is what users recognise.
		if running == nil || p.Name() == KubeAPIServer {
			running = p
		}
	}
	if running != nil {
		return fmt.Errorf("%w (pid %d), run `make local-down` first", ErrAlreadyRunning, running.Pid())
	}
	return nil
}
