//go:build e2e

package realnode_test

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

//go:embed probe/main.go
var probeSource []byte

// probeImage is an upstream reference on a mirrored registry: the pod
// runs it unmodified, from the loopback registry.
const probeImage = "quay.io/example-inc/realnode-probe:v1"

// nodeEnv is one running cluster with a real node, and what the subtests
// share.
type nodeEnv struct {
	c        *testbed.Cluster
	kube     kubernetes.Interface
	ns       string
	pod      string
	probeBin string // the probe built for the host
}

// TestRealNode runs a pod of an image built here on the real node and
// reaches it every way a user does, then stops the cluster and compares
// the host with what it was before the start.
func TestRealNode(t *testing.T) {
	before := nodetest.LockedSnapshot(t)
	c := startNodeCluster(t)
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()
	env := setUpProbe(t, c)

	t.Run("KwokNodesAreTaintedAndThePodRunsOnTheRealNode", env.testSteering)
	t.Run("Logs", env.testLogs)
	t.Run("Exec", env.testExec)
	t.Run("PortForward", env.testPortForward)
	t.Run("APIServerThroughTheKubernetesService", env.testAPIThroughService)
	t.Run("ClusterDNSForHostProcesses", env.testHostDNS)
	t.Run("UnmirroredImageFailsLocally", env.testUnmirrored)
	t.Run("NothingLeftTheMachine", env.testFence)

	stateDir := c.StateDir()
	began := time.Now()
	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatalf("stopping the cluster: %v", err)
	}
	t.Logf("timing: cluster with a real node (one pod) stopped and the host put back in %s", time.Since(began).Round(time.Millisecond))
	nodetest.Bins{Node: nodeBin}.CheckHostRestored(t, before, stateDir)
}

// setUpProbe builds the probe image, pushes it under its upstream name,
// and runs it in a pod, timing creation to Ready.
func setUpProbe(t *testing.T, c *testbed.Cluster) *nodeEnv {
	t.Helper()
	ctx := t.Context()
	work := t.TempDir()
	img, err := testbed.ProgramImage(ctx, probeSource, "probe", work)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Registry().Push(ctx, probeImage, img); err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	env := &nodeEnv{c: c, kube: kube, ns: "probe", pod: "probe", probeBin: filepath.Join(work, "probe")}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: env.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The ServiceAccount admission plugin needs the namespace's default
	// ServiceAccount, which the controller manager creates.
	waitFor(t, "the default ServiceAccount", func(ctx context.Context) error {
		_, err := kube.CoreV1().ServiceAccounts(env.ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	began := time.Now()
	if _, err := kube.CoreV1().Pods(env.ns).Create(ctx, probePod(env.pod), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the probe pod to be Ready", func(ctx context.Context) error {
		pod, err := kube.CoreV1().Pods(env.ns).Get(ctx, env.pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("pod is %s: %+v", pod.Status.Phase, pod.Status.ContainerStatuses)
	})
	t.Logf("timing: probe pod Ready %s after its creation (image pulled from the loopback registry)", time.Since(began).Round(time.Millisecond))
	return env
}

// probePod serves HTTP on 8080, with a readiness probe the kubelet sends
// across the node's bridge.
func probePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "probe", Image: probeImage, Args: []string{"serve", ":8080"},
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1,
			},
		}}},
	}
}

func waitFor(t *testing.T, what string, check func(context.Context) error) {
	t.Helper()
	nodetest.Poll(t, what, 2*time.Minute, check)
}

// kubectl runs kubectl against the cluster and returns its output.
func (e *nodeEnv) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(k8sBin, "kubectl"), append([]string{"--kubeconfig", e.c.Kubeconfig(), "-n", e.ns}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (e *nodeEnv) testSteering(t *testing.T) {
	pod, err := e.kube.CoreV1().Pods(e.ns).Get(t.Context(), e.pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != testbed.RealNodeName {
		t.Errorf("the probe pod runs on %q, want the real node %q", pod.Spec.NodeName, testbed.RealNodeName)
	}
	nodes, err := e.kube.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		tainted := len(n.Spec.Taints) == 1 && n.Spec.Taints[0] == testbed.KwokTaint
		if n.Name == testbed.RealNodeName && len(n.Spec.Taints) != 0 {
			t.Errorf("the real node has taints %v", n.Spec.Taints)
		}
		if n.Name != testbed.RealNodeName && !tainted {
			t.Errorf("kwok node %s has taints %v, want only %v", n.Name, n.Spec.Taints, testbed.KwokTaint)
		}
	}
}

func (e *nodeEnv) testLogs(t *testing.T) {
	if out := e.kubectl(t, "logs", e.pod); !strings.Contains(out, "serving on :8080") || !strings.Contains(out, "GET / from") {
		t.Errorf("kubectl logs shows %q, want the server's start and the readiness probe's requests", out)
	}
}

func (e *nodeEnv) testExec(t *testing.T) {
	if out := e.kubectl(t, "exec", e.pod, "--", "/probe", "echo", "hello", "from", "exec"); strings.TrimSpace(out) != "hello from exec" {
		t.Errorf("kubectl exec printed %q", out)
	}
}

// testPortForward reaches the pod's port through kubectl port-forward
// (loopback, the API server, the kubelet, containerd's stream server).
func (e *nodeEnv) testPortForward(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(k8sBin, "kubectl"), "--kubeconfig", e.c.Kubeconfig(), "-n", e.ns,
		"port-forward", "pod/"+e.pod, "--address", "127.0.0.1", ":8080")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`127\.0\.0\.1:(\d+) ->`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("kubectl port-forward printed %q (%v)", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	resp, err := http.Get("http://127.0.0.1:" + m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.TrimSpace(string(body)) != "hello from probe" {
		t.Errorf("GET through port-forward answered %s %q", resp.Status, body)
	}
}

// testAPIThroughService has the pod call the API server as an in-cluster
// client does: by the Service's address (kube-proxy's DNAT to the bridge
// address) and by its name (CoreDNS).
func (e *nodeEnv) testAPIThroughService(t *testing.T) {
	for _, url := range []string{"https://198.19.0.1/version", "https://kubernetes.default.svc/version"} {
		if out := e.kubectl(t, "exec", e.pod, "--", "/probe", "get", url); !strings.Contains(out, `"gitVersion": "v1.37`) {
			t.Errorf("GET %s from the pod answered %q", url, out)
		}
	}
}

// testHostDNS resolves a Service the way the OLM catalog operator dials a
// CatalogSource, <name>.<namespace>.svc, from a host process under
// ClusterDNSWrapper: with glibc (getent) and with Go's resolver.
func (e *nodeEnv) testHostDNS(t *testing.T) {
	svc, err := e.kube.CoreV1().Services(e.ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-svc"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": e.pod},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := svc.Name + "." + e.ns + ".svc"
	for _, argv := range [][]string{{"getent", "hosts", name}, {e.probeBin, "resolve", name}} {
		wrapped := append(e.c.ClusterDNSWrapper(), argv...)
		// CoreDNS learns of the new Service through its watch, a moment
		// after the create.
		waitFor(t, strings.Join(argv, " ")+" under the cluster-DNS wrapper", func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, wrapped[0], wrapped[1:]...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), svc.Spec.ClusterIP) {
				return fmt.Errorf("%q (%v), want %s", out, err, svc.Spec.ClusterIP)
			}
			return nil
		})
	}
}

// testUnmirrored runs an image of a registry the node does not mirror:
// the pull fails on the machine ("not found" from the loopback registry's
// catch-all), never reaching out.
func (e *nodeEnv) testUnmirrored(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unmirrored"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/nothing:v1"}}},
	}
	if _, err := e.kube.CoreV1().Pods(e.ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unmirrored image's pull to fail", func(ctx context.Context) error {
		events, err := e.kube.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod.Name})
		if err != nil {
			return err
		}
		for _, ev := range events.Items {
			if ev.Reason == "Failed" && strings.Contains(ev.Message, "example.com/nothing:v1") {
				if !strings.Contains(ev.Message, "not found") {
					t.Errorf("the pull failed with %q, want the loopback registry's not found", ev.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("no failed pull among %d events yet", len(events.Items))
	})
}

// testFence reads the fence's counter: every packet the node's daemons
// tried to send anywhere but loopback and 198.18.0.0/15 (the host's DNS
// server included) was dropped and counted. Run last, it covers the whole
// test.
func (e *nodeEnv) testFence(t *testing.T) {
	dropped, err := e.c.FencedPackets()
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 0 {
		t.Errorf("the node's processes sent %d packets off the machine (dropped by the fence)", dropped)
	}
}
