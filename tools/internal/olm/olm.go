package olm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/example-inc/memcached-operator/tools/internal/logtail"
)

// Namespace is where OLM's own operators run, as in an upstream install.
const Namespace = "olm"

// GlobalNamespace holds the AllNamespaces OperatorGroup of an upstream install.
const GlobalNamespace = "operators"

// Options say where OLM's binaries are and which cluster to run against.
type Options struct {
	// BinDir holds olm, catalog and crds/ (make olm-binaries).
	BinDir string
	// K8sBinDir holds kubectl.
	K8sBinDir string
	// Kubeconfig of the cluster (admin).
	Kubeconfig string
	// LogDir receives olm.log and catalog.log.
	LogDir string
}

// OLM is a running pair of OLM operators.
type OLM struct {
	opts  Options
	procs []*process
}

type process struct {
	name    string
	cmd     *exec.Cmd
	logFile string
	exited  chan struct{}
}

// Start installs OLM's CRDs and namespaces and starts its olm and catalog
// operators. Stop stops them; their processes also die with the caller.
func Start(ctx context.Context, opts Options) (*OLM, error) {
	for _, f := range []string{"olm", "catalog", "crds"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, f)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make olm-binaries`", f, opts.BinDir)
		}
	}
	if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
		return nil, err
	}
	kubectl := filepath.Join(opts.K8sBinDir, "kubectl")
	if out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", opts.Kubeconfig, "apply", "--server-side", "-f", filepath.Join(opts.BinDir, "crds")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("installing OLM's CRDs: %w\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", opts.Kubeconfig, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/clusterserviceversions.operators.coreos.com", "crd/subscriptions.operators.coreos.com", "crd/installplans.operators.coreos.com",
		"crd/catalogsources.operators.coreos.com", "crd/operatorgroups.operators.coreos.com", "crd/operatorconditions.operators.coreos.com").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("waiting for OLM's CRDs: %w\n%s", err, out)
	}
	if err := createNamespaces(ctx, opts.Kubeconfig, Namespace, GlobalNamespace); err != nil {
		return nil, err
	}

	o := &OLM{opts: opts}
	// Both bind :8080 for health and metrics and cannot be told otherwise;
	// the second logs that the address is in use and goes on.
	olmArgs := []string{"--namespace", Namespace, "--writeStatusName", "", "--writePackageServerStatusName", ""}
	catalogArgs := []string{"--kubeconfig", opts.Kubeconfig, "--namespace", Namespace,
		// Required, though nothing is pulled: catalogs are served from
		// loopback and bundles carry their objects.
		"--configmapServerImage=quay.io/operator-framework/configmap-operator-registry:v1.73.0",
		"--opmImage=quay.io/operator-framework/opm:v1.73.0",
		"--util-image=quay.io/operator-framework/olm:v0.46.0",
		"--set-workload-user-id=true", "--writeStatusName", "",
		// The catalog operator resolves a Subscription again on events and
		// on its resync, every 15 minutes by default. Between the hops of an
		// upgrade that walks the channel (0.1.0 -> 0.2.0 -> 0.3.x), the
		// resolution that follows a hop can run while the replaced CSV is
		// still in its cache and fail (ResolutionFailed,
		// ConstraintsNotSatisfiable, both CSVs @existing); nothing but the
		// resync retries it. Seen here under load. A real cluster then
		// upgrades within the resync period; the local one resyncs every
		// 30 s so that the tests see the same within minutes.
		"--interval=30s"}
	for _, p := range []struct {
		name string
		args []string
	}{{"olm", olmArgs}, {"catalog", catalogArgs}} {
		proc, err := o.start(p.name, p.args)
		if err != nil {
			_ = o.Stop()
			return nil, err
		}
		o.procs = append(o.procs, proc)
	}
	// Give them a moment to fail on a bad flag or kubeconfig.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		_ = o.Stop()
		return nil, ctx.Err()
	}
	for _, p := range o.procs {
		select {
		case <-p.exited:
			_ = o.Stop()
			return nil, fmt.Errorf("OLM's %s operator exited at start; its log %s ends with:\n%s", p.name, p.logFile, logtail.Tail(p.logFile, 20))
		default:
		}
	}
	return o, nil
}

func (o *OLM) start(name string, args []string) (*process, error) {
	logFile := filepath.Join(o.opts.LogDir, name+".log")
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(o.opts.BinDir, name), args...)
	// olm takes no --kubeconfig flag.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.opts.Kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting OLM's %s operator: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logFile: logFile, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Stop stops both operators and waits for them to exit.
func (o *OLM) Stop() error {
	var errs []error
	for _, p := range o.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range o.procs {
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			errs = append(errs, fmt.Errorf("OLM's %s operator did not stop within 10s and was killed", p.name))
		}
	}
	o.procs = nil
	return errors.Join(errs...)
}

// Logs returns the last lines of each operator's log, for failure reports.
func (o *OLM) Logs(lines int) string {
	var b strings.Builder
	for _, name := range []string{"olm", "catalog"} {
		path := filepath.Join(o.opts.LogDir, name+".log")
		fmt.Fprintf(&b, "--- %s (last %d lines of %s)\n%s\n", name, lines, path, logtail.Tail(path, lines))
	}
	return b.String()
}

func createNamespaces(ctx context.Context, kubeconfig string, names ...string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, n := range names {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", n, err)
		}
	}
	return nil
}
