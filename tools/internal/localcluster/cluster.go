package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var (
	// ErrAlreadyRunning is returned by Start when the state directory belongs
	// to a cluster that still runs.
	ErrAlreadyRunning = errors.New("local cluster already running")

	// ErrNothingRunning is returned by Down and Status when the state
	// directory has no running component.
	ErrNothingRunning = errors.New("nothing running")
)

// Cluster is a running local control plane.
type Cluster struct {
	opts       Options
	layout     layout
	tempState  bool
	endpoints  endpoints
	restConfig *rest.Config
	procs      []*process

	stopOnce sync.Once
	stopErr  error
}

// Process describes one component of a cluster.
type Process struct {
	Component string
	PID       int
	Running   bool
	// Ports the component listens on, all on 127.0.0.1.
	Ports   []int
	LogFile string
}

// Start runs a local cluster and returns once the apiserver is ready, the
// `default` namespace exists, every Node is Ready and the controller manager
// works. The context bounds only the start, not the cluster's life: call Stop,
// or Down for a detached cluster. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := checkBinaries(o.BinDir); err != nil {
		return nil, err
	}

	c := &Cluster{opts: o}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "localcluster-")
		if err != nil {
			return nil, fmt.Errorf("creating state directory: %w", err)
		}
		c.opts.StateDir, c.tempState = dir, true
	}
	c.layout = layout{dir: c.opts.StateDir}

	if err := c.prepare(); err != nil {
		if c.tempState {
			_ = os.RemoveAll(c.layout.dir)
		}
		return nil, err
	}

	startCtx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	if err := c.run(startCtx); err != nil {
		// Keep the state directory, even a temporary one: the error points
		// into its logs.
		if stopErr := c.stop(false); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up after failed start: %w", stopErr))
		}
		return nil, err
	}
	return c, nil
}

// prepare checks that the cluster can start, then writes everything the
// components read: certificates, kubeconfigs, the audit policy and the
// cluster file that Status and Down use.
func (c *Cluster) prepare() error {
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
	_, serviceNet, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return fmt.Errorf("parsing service CIDR: %w", err)
	}
	serviceIP := serviceNet.IP.To4()
	serviceIP[3]++ // the `kubernetes` Service takes the range's first address
	certs, err := newPKI(serviceIP)
	if err != nil {
		return err
	}
	if err := certs.write(c.layout); err != nil {
		return err
	}
	if err := c.writeKubeconfigs(certs); err != nil {
		return err
	}
	if c.opts.AuditLog {
		if err := os.WriteFile(c.layout.auditPolicy(), []byte(auditPolicy), 0o600); err != nil {
			return fmt.Errorf("writing audit policy: %w", err)
		}
	}
	if c.restConfig, err = restConfigFromKubeconfig(c.layout.kubeconfig()); err != nil {
		return err
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
	clientset, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}

	if err := c.startComponents(Etcd); err != nil {
		return err
	}
	if err := c.waitFor(ctx, Etcd, "become healthy", c.etcdHealthy); err != nil {
		return err
	}

	if err := c.startComponents(KubeAPIServer); err != nil {
		return err
	}
	if err := c.waitFor(ctx, KubeAPIServer, "become ready", apiServerReady(clientset)); err != nil {
		return err
	}
	if err := c.waitFor(ctx, KubeAPIServer, "create the default namespace", namespaceExists(clientset, "default")); err != nil {
		return err
	}

	// The apiserver's clients are independent of each other.
	if err := c.startComponents(KubeControllerManager, KubeScheduler, Kwok); err != nil {
		return err
	}
	if err := createNodes(ctx, clientset, c.opts.Nodes); err != nil {
		return err
	}
	if err := c.waitFor(ctx, Kwok, "make every Node Ready", nodesReady(clientset, c.opts.Nodes)); err != nil {
		return err
	}
	// The ServiceAccount controller creates `default` in every namespace, so
	// its appearance shows the controller manager is up and syncing.
	if err := c.waitFor(ctx, KubeControllerManager, "create the default ServiceAccount", serviceAccountExists(clientset, "default", "default")); err != nil {
		return err
	}
	// The scheduler has no observable effect before the first Pod; at least
	// make sure it did not die on start.
	if p := c.firstExited(); p != nil {
		return p.exitedError()
	}
	return nil
}

func (c *Cluster) startComponents(names ...string) error {
	for _, name := range names {
		args, err := componentArgs(name, c.layout, c.endpoints, c.opts)
		if err != nil {
			return err
		}
		p, err := startProcess(c.layout, c.opts.BinDir, name, args, componentEnv(name, c.layout),
			componentPorts(name, c.endpoints.ports), c.opts.Detached)
		if err != nil {
			return err
		}
		c.procs = append(c.procs, p)
	}
	return nil
}

// firstExited returns a component that is no longer running, if any.
func (c *Cluster) firstExited() *process {
	for _, p := range c.procs {
		if !p.running() {
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
			return p.exitedError()
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
// Options.AuditLog was not set.
func (c *Cluster) AuditLogPath() string {
	if !c.opts.AuditLog {
		return ""
	}
	return c.layout.auditLog()
}

// Processes describes the cluster's components in start order.
func (c *Cluster) Processes() []Process {
	return describe(c.procs)
}

// Stop stops every component (SIGTERM, then SIGKILL after
// Options.StopTimeout), waits until they are gone and their ports are free,
// and removes the pid files and the admin kubeconfig. A temporary state
// directory is removed; an explicit one keeps its logs. Stop is idempotent.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(true) })
	return c.stopErr
}

func (c *Cluster) stop(removeTemp bool) error {
	err := teardown(c.layout, c.procs, c.opts.StopTimeout)
	if err == nil && removeTemp && c.tempState {
		if rmErr := os.RemoveAll(c.layout.dir); rmErr != nil {
			return fmt.Errorf("removing state directory: %w", rmErr)
		}
	}
	return err
}

// teardown stops the processes, checks their ports are closed, and removes
// the files that claim the cluster runs. The files stay when a process
// survived, so a later Down can try again.
func teardown(l layout, procs []*process, timeout time.Duration) error {
	// Only the ports of processes that ran are checked: one that died
	// because another program held its port must not be blamed for it.
	var wereRunning []*process
	for _, p := range procs {
		if p.running() {
			wereRunning = append(wereRunning, p)
		}
	}
	if err := stopProcesses(procs, timeout); err != nil {
		return err
	}
	var errs []error
	for _, p := range wereRunning {
		for _, port := range p.ports {
			if listening(port) {
				errs = append(errs, fmt.Errorf("port %d of %s still accepts connections after it stopped", port, p.component))
			}
		}
	}
	for _, path := range []string{l.kubeconfig(), l.clusterFile()} {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, name := range components {
		if err := os.Remove(l.pidFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func describe(procs []*process) []Process {
	out := make([]Process, 0, len(procs))
	for _, p := range procs {
		out = append(out, Process{
			Component: p.component,
			PID:       p.pid,
			Running:   p.running(),
			Ports:     append([]int(nil), p.ports...),
			LogFile:   p.logFile,
		})
	}
	return out
}

// clusterInfo is what cluster.json records for Status and Down, which run in
// other processes than Start.
type clusterInfo struct {
	Server     string           `json:"server"`
	Kubeconfig string           `json:"kubeconfig"`
	AuditLog   string           `json:"auditLog,omitempty"`
	Ports      map[string][]int `json:"ports"`
}

func (c *Cluster) info() clusterInfo {
	ports := map[string][]int{}
	for _, name := range components {
		if p := componentPorts(name, c.endpoints.ports); len(p) > 0 {
			ports[name] = p
		}
	}
	return clusterInfo{
		Server:     c.endpoints.apiServerURL(),
		Kubeconfig: c.layout.kubeconfig(),
		AuditLog:   c.AuditLogPath(),
		Ports:      ports,
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
	procs, err := discover(l, nil)
	if err != nil {
		return err
	}
	var running *process
	for _, p := range procs {
		if !p.running() {
			continue
		}
		// Name the apiserver when it runs: it is what users recognise.
		if running == nil || p.component == KubeAPIServer {
			running = p
		}
	}
	if running != nil {
		return fmt.Errorf("%w (pid %d), run `make local-down` first", ErrAlreadyRunning, running.pid)
	}
	return nil
}
