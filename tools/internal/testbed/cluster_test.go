package testbed_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

const (
	// sharedNodes is more than one so the multi-Node path is exercised.
	sharedNodes = 2

	// helperEnv makes the test binary act as a separate process that starts
	// a cluster (see runHelper); helperStateEnv is its state directory.
	helperEnv      = "LOCALCLUSTER_TEST_HELPER"
	helperStateEnv = "LOCALCLUSTER_TEST_HELPER_STATE_DIR"
)

var (
	binDir string
	shared *testbed.Cluster
)

// TestMain starts one cluster for the tests that only use it, and stops it
// whatever the tests do. A test that panics kills the process before any
// deferred call runs; the components then die with it (see
// TestAttachedComponentsDieWithTheirParent).
func TestMain(m *testing.M) {
	binDir = os.Getenv("K8S_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join("..", "..", "..", "bin", "k8s")
	}
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) (code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	c, err := testbed.StartCluster(ctx, testbed.ClusterOptions{BinDir: binDir, Nodes: sharedNodes, AuditLog: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the shared local cluster (binaries from %s, set K8S_BIN_DIR to change): %v\n", binDir, err)
		return 1
	}
	fmt.Printf("shared cluster started in %s\n", time.Since(began).Round(time.Millisecond))
	shared = c
	defer func() {
		if err := stopAndVerify(c); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: stopping the shared local cluster: %v\n", err)
			code = 1
		}
	}()
	return m.Run()
}

// stopAndVerify stops the cluster and checks that no component process
// remains, no port accepts connections, and the temporary state is gone.
func stopAndVerify(c *testbed.Cluster) error {
	procs := c.Processes()
	began := time.Now()
	if err := c.Stop(); err != nil {
		return err
	}
	fmt.Printf("shared cluster stopped in %s\n", time.Since(began).Round(time.Millisecond))
	var errs []error
	for _, p := range procs {
		if alive(p.PID) {
			errs = append(errs, fmt.Errorf("%s (pid %d) still runs after Stop", p.Name, p.PID))
		}
		for _, port := range p.Ports {
			if accepts(port) {
				errs = append(errs, fmt.Errorf("port %d of %s still accepts connections after Stop", port, p.Name))
			}
		}
	}
	if len(procs) != 5 {
		errs = append(errs, fmt.Errorf("expected 5 processes, cluster reported %d", len(procs)))
	}
	if _, err := os.Stat(c.StateDir()); !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("temporary state directory %s not removed (stat: %v)", c.StateDir(), err))
	}
	return errors.Join(errs...)
}

// runHelper is the body of the test binary when a test re-executes it to get
// a cluster owned by another process:
//   - "up" starts a detached cluster like `tools local up` and exits;
//   - "panic" starts an attached cluster, then panics on another goroutine
//     like a failing test would.
//
// Both print the processes as one JSON line once the cluster is ready.
func runHelper(mode string) int {
	opts := testbed.ClusterOptions{BinDir: binDir, StateDir: os.Getenv(helperStateEnv), Detached: mode == "up"}
	c, err := testbed.StartCluster(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(c.Processes()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if mode == "panic" {
		go func() { panic("test helper panics with a cluster running") }()
		select {}
	}
	return 0
}

// runHelperProcess runs the test binary in helper mode and returns the
// processes it printed, after it exited.
func runHelperProcess(t *testing.T, mode, stateDir string) ([]testbed.ProcessInfo, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperStateEnv+"="+stateDir, "K8S_BIN_DIR="+binDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var procs []testbed.ProcessInfo
	line, _ := bufio.NewReader(&stdout).ReadBytes('\n')
	if err := json.Unmarshal(line, &procs); err != nil {
		return nil, fmt.Errorf("helper %q printed no process list (exit: %v): %s", mode, runErr, stderr.String())
	}
	return procs, runErr
}

func TestNodesAreReady(t *testing.T) {
	c := newClient(t, shared.RESTConfig())
	nodes := &corev1.NodeList{}
	if err := c.List(t.Context(), nodes); err != nil {
		t.Fatalf("listing nodes: %v", err)
	}
	if len(nodes.Items) != sharedNodes {
		t.Fatalf("expected %d nodes, got %d", sharedNodes, len(nodes.Items))
	}
	for i := range sharedNodes {
		node := &corev1.Node{}
		if err := c.Get(t.Context(), client.ObjectKey{Name: testbed.NodeName(i)}, node); err != nil {
			t.Fatalf("getting node %d: %v", i, err)
		}
		if !testbed.IsNodeReady(node) {
			t.Errorf("node %s is not Ready: %+v", node.Name, node.Status.Conditions)
		}
		if got := node.Status.Allocatable.Pods().Value(); got != 500 {
			t.Errorf("node %s allocates %d pods, want 500", node.Name, got)
		}
		if len(node.Spec.Taints) != 0 {
			t.Errorf("node %s has taints %v, want none", node.Name, node.Spec.Taints)
		}
	}
}

func TestDeploymentGetsRunningPodsAndIsGarbageCollected(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, shared.RESTConfig())
	ns := createNamespace(t, c)
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "web",
					Image: "registry.k8s.io/pause:3.10",
				}}},
			},
		},
	}
	began := time.Now()
	if err := c.Create(ctx, deploy); err != nil {
		t.Fatalf("creating deployment: %v", err)
	}

	eventually(t, 30*time.Second, "3 running pods with IPs", func(ctx context.Context) error {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			return err
		}
		running := 0
		ips := map[string]bool{}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.Spec.NodeName != "" {
				running++
				ips[p.Status.PodIP] = true
				// kwok's fake pods take the upper half of the project's
				// 198.18.0.0/16, never an address a host network may use.
				if ip := net.ParseIP(p.Status.PodIP); ip == nil || !kwokPods.Contains(ip) {
					return fmt.Errorf("pod %s has IP %s, outside %s", p.Name, p.Status.PodIP, kwokPods)
				}
			}
		}
		if running != 3 || len(ips) != 3 {
			return fmt.Errorf("%d of %d pods running with %d distinct IPs", running, len(pods.Items), len(ips))
		}
		return nil
	})
	t.Logf("3 pods running in %s", time.Since(began).Round(time.Millisecond))

	rsList := &appsv1.ReplicaSetList{}
	if err := c.List(ctx, rsList, client.InNamespace(ns)); err != nil || len(rsList.Items) != 1 {
		t.Fatalf("expected the deployment's ReplicaSet, got %d (err %v)", len(rsList.Items), err)
	}

	if err := c.Delete(ctx, deploy, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatalf("deleting deployment: %v", err)
	}
	eventually(t, 30*time.Second, "the ReplicaSet and pods to be garbage collected", func(ctx context.Context) error {
		rs := &appsv1.ReplicaSetList{}
		if err := c.List(ctx, rs, client.InNamespace(ns)); err != nil {
			return err
		}
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(rs.Items)+len(pods.Items) != 0 {
			return fmt.Errorf("%d ReplicaSets and %d pods left", len(rs.Items), len(pods.Items))
		}
		return nil
	})
}

// TestServiceAddresses: Services take their ClusterIPs from 198.19.0.0/16,
// the `kubernetes` Service the first of them, and the fake Nodes report an
// address of kwok's range.
func TestServiceAddresses(t *testing.T) {
	c := newClient(t, shared.RESTConfig())
	svc := &corev1.Service{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "kubernetes"}, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "198.19.0.1" {
		t.Errorf("the kubernetes Service has ClusterIP %s, want 198.19.0.1", svc.Spec.ClusterIP)
	}
	node := &corev1.Node{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: testbed.NodeName(0)}, node); err != nil {
		t.Fatal(err)
	}
	internal := 0
	for _, a := range node.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		internal++
		if !kwokPods.Contains(net.ParseIP(a.Address)) {
			t.Errorf("node %s reports InternalIP %s, outside %s", node.Name, a.Address, kwokPods)
		}
	}
	if internal == 0 {
		t.Errorf("node %s reports no InternalIP: %+v", node.Name, node.Status.Addresses)
	}
}

// kwokPods is the address range of kwok's fake pods and nodes.
var kwokPods = &net.IPNet{IP: net.IPv4(198, 18, 128, 0), Mask: net.CIDRMask(17, 32)}

func TestRBACIsEnforced(t *testing.T) {
	cfg := shared.RESTConfig()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "localcluster-test-nobody"}
	err := newClient(t, cfg).List(t.Context(), &corev1.PodList{}, client.InNamespace("default"))
	if !apierrors.IsForbidden(err) {
		t.Fatalf("listing pods as a user without roles: want Forbidden, got %v", err)
	}
}

func TestAuditLogRecordsRequests(t *testing.T) {
	c := newClient(t, shared.RESTConfig())
	name := "audit-" + rand.String(6)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if err := c.Create(t.Context(), cm); err != nil {
		t.Fatalf("creating configmap: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), cm) })

	// The log backend blocks the response until the event is written.
	data, err := os.ReadFile(shared.AuditLogPath())
	if err != nil {
		t.Fatalf("reading audit log: %v", err)
	}
	for line := range bytes.Lines(data) {
		var ev struct {
			Level     string                          `json:"level"`
			Verb      string                          `json:"verb"`
			User      struct{ Username string }       `json:"user"`
			ObjectRef struct{ Resource, Name string } `json:"objectRef"`
		}
		if json.Unmarshal(line, &ev) != nil || ev.Verb != "create" || ev.ObjectRef.Resource != "configmaps" || ev.ObjectRef.Name != name {
			continue
		}
		if ev.Level != "Metadata" || ev.User.Username != "kubernetes-admin" {
			t.Fatalf("audit event for the create: level %q user %q, want Metadata and kubernetes-admin", ev.Level, ev.User.Username)
		}
		return
	}
	t.Fatalf("no audit event for creating configmap %s in %s", name, shared.AuditLogPath())
}

// TestDetachedUpAndDown walks the `tools local up/status/down` path: the
// cluster is started by another process that exits, so it must survive its
// parent, refuse a second start, and be stopped completely by Down.
func TestDetachedUpAndDown(t *testing.T) {
	stateDir := t.TempDir()
	t.Cleanup(func() { _, _ = testbed.ClusterDown(stateDir, 0) }) // on failure, leave nothing behind

	began := time.Now()
	procs, err := runHelperProcess(t, "up", stateDir)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("detached up took %s", time.Since(began).Round(time.Millisecond))

	state, err := testbed.ClusterStatus(stateDir)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(state.Processes) != 5 {
		t.Fatalf("status lists %d processes, want 5: %+v", len(state.Processes), state.Processes)
	}
	var apiServerPID int
	for i, p := range state.Processes {
		if !p.Running || p.PID != procs[i].PID {
			t.Fatalf("after its starter exited, %s is %+v, want running with pid %d", p.Name, p, procs[i].PID)
		}
		if p.Name == testbed.KubeAPIServer {
			apiServerPID = p.PID
		}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(stateDir, "kubeconfig"))
	if err != nil {
		t.Fatalf("loading kubeconfig: %v", err)
	}
	node := &corev1.Node{}
	if err := newClient(t, cfg).Get(t.Context(), client.ObjectKey{Name: testbed.NodeName(0)}, node); err != nil {
		t.Fatalf("getting node through the detached cluster's kubeconfig: %v", err)
	}
	if !testbed.IsNodeReady(node) {
		t.Fatalf("node %s is not Ready", node.Name)
	}

	_, err = testbed.StartCluster(t.Context(), testbed.ClusterOptions{BinDir: binDir, StateDir: stateDir, Detached: true})
	want := fmt.Sprintf("local cluster already running (pid %d), run `make local-down` first", apiServerPID)
	if !errors.Is(err, testbed.ErrAlreadyRunning) || err.Error() != want {
		t.Fatalf("second up: got %v, want %q", err, want)
	}

	began = time.Now()
	stopped, err := testbed.ClusterDown(stateDir, 0)
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	t.Logf("down took %s", time.Since(began).Round(time.Millisecond))
	if len(stopped) != 5 {
		t.Errorf("down stopped %d processes, want 5", len(stopped))
	}
	for _, p := range procs {
		if alive(p.PID) {
			t.Errorf("%s (pid %d) still runs after down", p.Name, p.PID)
		}
		for _, port := range p.Ports {
			if accepts(port) {
				t.Errorf("port %d of %s still accepts connections after down", port, p.Name)
			}
		}
	}
	for _, name := range []string{"kubeconfig", "cluster.json", "run/etcd.pid", "run/kube-apiserver.pid", "run/kwok.pid"} {
		if _, err := os.Stat(filepath.Join(stateDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after down (stat: %v)", name, err)
		}
	}

	if _, err := testbed.ClusterDown(stateDir, 0); !errors.Is(err, testbed.ErrNothingRunning) || !strings.Contains(err.Error(), "nothing running") {
		t.Errorf("second down: got %v, want ErrNothingRunning", err)
	}
	if _, err := testbed.ClusterStatus(stateDir); !errors.Is(err, testbed.ErrNothingRunning) {
		t.Errorf("status after down: got %v, want ErrNothingRunning", err)
	}
}

// TestAttachedComponentsDieWithTheirParent proves a test binary that dies
// without calling Stop (a panic in a test) leaves no component running.
func TestAttachedComponentsDieWithTheirParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("components follow their parent's death only on Linux (Pdeathsig)")
	}
	stateDir := t.TempDir()
	t.Cleanup(func() { _, _ = testbed.ClusterDown(stateDir, 0) })

	procs, err := runHelperProcess(t, "panic", stateDir)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("helper should have panicked after the cluster was ready, got %v", err)
	}
	if len(procs) != 5 {
		t.Fatalf("helper reported %d processes, want 5", len(procs))
	}
	eventually(t, 10*time.Second, "every component to die with its parent", func(context.Context) error {
		for _, p := range procs {
			if alive(p.PID) {
				return fmt.Errorf("%s (pid %d) still runs", p.Name, p.PID)
			}
		}
		return nil
	})
}

func TestStartRejectsBusyPort(t *testing.T) {
	tests := []struct {
		name      string
		component string
		pin       func(*testbed.Ports, int)
	}{
		{"apiserver", "kube-apiserver", func(p *testbed.Ports, port int) { p.APIServer = port }},
		{"etcd client", "etcd client", func(p *testbed.Ports, port int) { p.EtcdClient = port }},
		{"etcd peer", "etcd peer", func(p *testbed.Ports, port int) { p.EtcdPeer = port }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			port := l.Addr().(*net.TCPAddr).Port
			stateDir := filepath.Join(t.TempDir(), "state")
			opts := testbed.ClusterOptions{BinDir: binDir, StateDir: stateDir}
			tt.pin(&opts.Ports, port)

			_, err = testbed.StartCluster(t.Context(), opts)
			if err == nil {
				t.Fatal("start succeeded on a busy port")
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Itoa(port)) || !strings.Contains(msg, tt.component) || strings.Contains(msg, "\n") {
				t.Fatalf("want a one-line error naming port %d and %s, got %q", port, tt.component, msg)
			}
			if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a rejected start touched the state directory (stat: %v)", err)
			}
		})
	}
}

func TestStartRejectsMissingBinary(t *testing.T) {
	for _, missing := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"} {
		t.Run(missing, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"} {
				if name == missing {
					continue
				}
				target, err := filepath.Abs(filepath.Join(binDir, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := testbed.StartCluster(t.Context(), testbed.ClusterOptions{BinDir: dir})
			if err == nil {
				t.Fatalf("start succeeded without %s", missing)
			}
			msg := err.Error()
			if !strings.Contains(msg, missing+" not found") || !strings.Contains(msg, "make k8s-binaries") || strings.Contains(msg, "\n") {
				t.Fatalf("want a one-line error naming %s and `make k8s-binaries`, got %q", missing, msg)
			}
		})
	}
}

// TestDownIgnoresForeignPids makes sure a pid file whose pid now belongs to
// an unrelated process (here: the test itself) is treated as stale, never
// signalled.
func TestDownIgnoresForeignPids(t *testing.T) {
	stateDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(stateDir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A state directory of the tools (they mark the ones they create).
	if err := os.WriteFile(filepath.Join(stateDir, atomicdir.Marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(stateDir, "run", "kube-apiserver.pid")
	record := fmt.Sprintf(`{"pid":%d,"argv":["/bin/k8s/kube-apiserver","--etcd-servers=http://127.0.0.1:2379"],"tier":2}`, os.Getpid())
	if err := os.WriteFile(pidFile, []byte(record+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state, err := testbed.ClusterStatus(stateDir)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if state.Running() {
		t.Fatalf("status claims a foreign pid runs the cluster: %+v", state.Processes)
	}
	// A busy pinned port makes Start fail right after its running check, so
	// getting the busy-port error proves the check let the pid file pass.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	opts := testbed.ClusterOptions{BinDir: binDir, StateDir: stateDir}
	opts.Ports.APIServer = busy.Addr().(*net.TCPAddr).Port
	if _, err := testbed.StartCluster(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("start: want the busy-port error past the running check, got %v", err)
	}
	if _, err := testbed.ClusterDown(stateDir, time.Second); !errors.Is(err, testbed.ErrNothingRunning) {
		t.Fatalf("down: got %v, want ErrNothingRunning", err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("down kept the stale pid file (stat: %v)", err)
	}
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	return c
}

func createNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "localcluster-test-"}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return ns.Name
}

// eventually polls check until it succeeds, failing the test with the last
// error once timeout passed.
func eventually(t *testing.T, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var last error
	for {
		if last = check(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// alive reports whether pid is a process that has not exited; a zombie
// (exited, not yet reaped by whoever inherited it) counts as gone.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return runtime.GOOS != "linux"
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || !slices.Contains([]byte("ZX"), stat[i+2])
}

func accepts(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
