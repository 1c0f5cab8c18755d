//go:build e2e

package realnode_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apimanifests "github.com/operator-framework/api/pkg/manifests"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/render"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
	"github.com/example-inc/memcached-operator/tools/internal/walkthrough"
)

// Names config/default gives the operator (namePrefix memcached-operator-).
const (
	operatorDeployment = "memcached-operator-controller-manager"
	ourPrefix          = "memcached-operator-"
	exporterPort       = 9150
	// monitoredName is the Memcached whose exporter sidecar is scraped.
	monitoredName = "monitored"
)

// deployEnv is a cluster with a real node where `make deploy` runs.
type deployEnv struct {
	c           *testbed.Cluster
	client      client.Client
	operatorRef string // IMG: the upstream reference the node's mirror resolves
}

// TestDeployOnRealNode runs what a user runs against a cluster: `make
// deploy IMG=...`, the tutorial's walk-through with real memcached pods,
// memcached answering through a port-forward, the exporter sidecar's
// metrics, and `make undeploy`. The images are the project's, built here
// and pushed under their upstream names; the operator runs as its
// Deployment, with its probes, ServiceAccount and RBAC, in a namespace
// that enforces the restricted Pod Security Standard. Then the cluster
// stops and the host must be as before.
func TestDeployOnRealNode(t *testing.T) {
	operatorRef := developmentOperatorRef(t)
	imgs := deployImages(t, operatorRef)
	before := nodetest.LockedSnapshot(t)
	c := startNodeCluster(t)
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop()
		}
	}()
	began := time.Now()
	if err := c.Registry().PushNodeImages(t.Context(), imgs); err != nil {
		t.Fatal(err)
	}
	t.Logf("timing: %d images pushed to the loopback registry in %s", len(imgs), time.Since(began).Round(time.Millisecond))
	cl, err := testbed.NewClient(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	env := &deployEnv{c: c, client: cl, operatorRef: operatorRef}

	_ = t.Run("MakeDeploy", env.testDeploy) &&
		t.Run("Walkthrough", env.testWalkthrough) &&
		t.Run("ExporterMetrics", env.testExporter) &&
		t.Run("MakeUndeploy", env.testUndeploy)
	t.Run("NothingLeftTheMachine", (&nodeEnv{c: c}).testFence)

	stateDir := c.StateDir()
	began = time.Now()
	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatalf("stopping the cluster: %v", err)
	}
	t.Logf("timing: cluster stopped and the host put back in %s", time.Since(began).Round(time.Millisecond))
	nodetest.Bins{Node: nodeBin}.CheckHostRestored(t, before, stateDir)
}

// developmentOperatorRef is the operator image of the version under
// development, as bundle/'s CSV names it: the Makefile's default IMG, and
// what testbed.NodeImages builds from the working tree.
func developmentOperatorRef(t *testing.T) string {
	t.Helper()
	b, err := apimanifests.GetBundleFromDir(filepath.Join(repoRoot, "bundle", "manifests"))
	if err != nil || b.CSV == nil {
		t.Fatalf("reading bundle/'s CSV: %v", err)
	}
	deployments := b.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deployments) != 1 || len(deployments[0].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("bundle/'s CSV has %d deployments, want one running the operator alone", len(deployments))
	}
	return deployments[0].Spec.Template.Spec.Containers[0].Image
}

// deployImages builds (or finds cached) the three images this test runs:
// the operator of the working tree, memcached from Debian's package and
// the exporter.
func deployImages(t *testing.T, operatorRef string) []testbed.NodeImage {
	t.Helper()
	began := time.Now()
	imgs, err := testbed.NodeImages(t.Context(), testbed.NodeImagesOptions{
		RepoRoot: repoRoot,
		Only:     []string{operatorRef, testbed.MemcachedImage, testbed.ExporterImage},
		Log:      t.Logf,
	})
	if err != nil {
		t.Fatalf("the node's images (make debs testbed-image-binaries builds their inputs): %v", err)
	}
	t.Logf("timing: images ready in %s", time.Since(began).Round(time.Millisecond))
	return imgs
}

// runMake runs make in the repository as a user does, against the
// cluster's kubeconfig, with the kubectl of bin/k8s first in PATH. The
// make running this test (make test) passes no jobserver or flags down.
func (e *deployEnv) runMake(t *testing.T, args ...string) string {
	t.Helper()
	began := time.Now()
	cmd := exec.CommandContext(t.Context(), "make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "KUBECONFIG", "PATH"}, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUBECONFIG="+e.c.Kubeconfig(), "PATH="+k8sBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("timing: make %s took %s", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	return string(out)
}

// testDeploy runs `make deploy` and waits for the operator's pod to be
// Running and Ready on the real node: its image pulled through the mirror,
// its probes answered, its ServiceAccount's RBAC enough to take the
// leader Lease.
func (e *deployEnv) testDeploy(t *testing.T) {
	out := e.runMake(t, "deploy", "IMG="+e.operatorRef)
	if !strings.Contains(out, "deployment.apps/"+operatorDeployment+" serverside-applied") {
		t.Errorf("make deploy did not apply the operator's Deployment:\n%s", out)
	}
	e.checkRestricted(t)
	began := time.Now()
	pod := e.waitOperatorReady(t)
	t.Logf("timing: operator pod Ready %s after make deploy returned", time.Since(began).Round(time.Millisecond))
	checkOperatorPod(t, pod, e.operatorRef)
	nodetest.Poll(t, "the operator to hold its leader Lease", 2*time.Minute, func(ctx context.Context) error {
		lease := &coordinationv1.Lease{}
		if err := e.client.Get(ctx, client.ObjectKey{Namespace: testbed.OperatorNamespace, Name: testbed.LeaseName}, lease); err != nil {
			return err
		}
		if h := lease.Spec.HolderIdentity; h == nil || !strings.HasPrefix(*h, pod.Name+"_") {
			return fmt.Errorf("lease holder is %v, want pod %s", h, pod.Name)
		}
		return nil
	})
}

// checkRestricted checks that the operator's namespace enforces the
// restricted Pod Security Standard, and that the API server does enforce
// it there: a pod without the restricted settings is refused (dry run).
func (e *deployEnv) checkRestricted(t *testing.T) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := e.client.Get(t.Context(), client.ObjectKey{Name: testbed.OperatorNamespace}, ns); err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace %s enforces Pod Security %q, want restricted (labels %v)", ns.Name, got, ns.Labels)
	}
	loose := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "not-restricted"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: e.operatorRef}}},
	}
	err := e.client.Create(t.Context(), loose, client.DryRunAll)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted`) {
		t.Errorf("a pod without the restricted settings was not refused by Pod Security admission: %v", err)
	}
}

// waitOperatorReady waits for the Deployment to be available and returns
// its one pod, Ready.
func (e *deployEnv) waitOperatorReady(t *testing.T) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	nodetest.Poll(t, "the operator's pod to be Running and Ready", 3*time.Minute, func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := e.client.Get(ctx, client.ObjectKey{Namespace: testbed.OperatorNamespace, Name: operatorDeployment}, d); err != nil {
			return err
		}
		pods := &corev1.PodList{}
		if err := e.client.List(ctx, pods, client.InNamespace(testbed.OperatorNamespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
			return err
		}
		if len(pods.Items) != 1 || !podReady(&pods.Items[0]) || d.Status.AvailableReplicas != 1 {
			return fmt.Errorf("deployment %d/1 available, pods: %s", d.Status.AvailableReplicas, describePods(pods.Items))
		}
		pod = &pods.Items[0]
		return nil
	})
	return pod
}

// checkOperatorPod checks what the Ready pod runs on and as.
func checkOperatorPod(t *testing.T, pod *corev1.Pod, operatorRef string) {
	t.Helper()
	if pod.Spec.NodeName != testbed.RealNodeName {
		t.Errorf("the operator runs on %q, want the real node %q", pod.Spec.NodeName, testbed.RealNodeName)
	}
	if pod.Spec.ServiceAccountName != testbed.OperatorServiceAccount {
		t.Errorf("the operator runs as ServiceAccount %q, want %q", pod.Spec.ServiceAccountName, testbed.OperatorServiceAccount)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Image != operatorRef && !strings.HasSuffix(cs.Image, "/"+operatorRef) {
			t.Errorf("container %s runs image %q, want %s", cs.Name, cs.Image, operatorRef)
		}
		if cs.RestartCount != 0 {
			t.Errorf("container %s restarted %d times", cs.Name, cs.RestartCount)
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describePods says, per pod, its phase, node and containers' states.
func describePods(pods []corev1.Pod) string {
	var parts []string
	for _, p := range pods {
		s := fmt.Sprintf("%s %s on %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		for _, cs := range p.Status.ContainerStatuses {
			s += fmt.Sprintf(" [%s ready=%v restarts=%d %+v]", cs.Name, cs.Ready, cs.RestartCount, cs.State)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// testWalkthrough runs the tutorial's walk-through against the deployed
// operator, with memcached answering set and get through a port-forward.
func (e *deployEnv) testWalkthrough(t *testing.T) {
	var out bytes.Buffer
	began := time.Now()
	err := walkthrough.Run(t.Context(), walkthrough.Config{
		Kubeconfig: e.c.Kubeconfig(),
		Kubectl:    filepath.Join(k8sBin, "kubectl"),
		Dir:        repoRoot,
		Out:        &out,
		SetGet:     true,
	})
	t.Log(out.String())
	if err != nil {
		t.Fatalf("walk-through failed: %v", err)
	}
	t.Logf("timing: walk-through (3 pods, 5 pods, set/get, delete) took %s", time.Since(began).Round(time.Millisecond))
	for _, want := range []string{
		"Deployment memcached-sample is 3/3 and status.nodes lists the 3 pods",
		"Deployment memcached-sample is 5/5 and status.nodes lists the 5 pods",
		"< STORED",
		"memcached-sample, its Deployment and its pods are gone",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walk-through did not show %q", want)
		}
	}
}

// testExporter creates a Memcached with monitoring enabled, stores a value
// in it through a port-forward, and reads the exporter sidecar's metrics
// through another: memcached is up and holds that one item.
func (e *deployEnv) testExporter(t *testing.T) {
	m := testbed.NewMemcached(testbed.OperatorNamespace, monitoredName, 1)
	m.Spec.Monitoring = &testbed.MemcachedMonitoring{Enabled: true}
	if err := testbed.Memcacheds(e.client, testbed.OperatorNamespace).Create(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	pod := e.waitMonitoredPod(t)
	var log strings.Builder
	e.forward(t, pod.Name, walkthrough.MemcachedPort, func(addr string) error {
		return walkthrough.MemcachedSetGet(t.Context(), addr, "exporter", "counted", &log)
	})
	t.Logf("memcached in %s:\n%s", pod.Name, log.String())
	e.forward(t, pod.Name, exporterPort, func(addr string) error {
		metrics, err := scrape(t.Context(), "http://"+addr+"/metrics")
		if err != nil {
			return err
		}
		for name, want := range map[string]string{"memcached_up": "1", "memcached_current_items": "1"} {
			if got, ok := metrics[name]; !ok || got != want {
				return fmt.Errorf("the exporter reports %s = %q (present: %v), want %s", name, got, ok, want)
			}
		}
		return nil
	})
}

// waitMonitoredPod waits for the monitored Memcached's pod to be Ready on
// the real node with both containers, memcached and the exporter.
func (e *deployEnv) waitMonitoredPod(t *testing.T) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	nodetest.Poll(t, "the monitored memcached's pod to be Ready", 2*time.Minute, func(ctx context.Context) error {
		pods := &corev1.PodList{}
		if err := e.client.List(ctx, pods, client.InNamespace(testbed.OperatorNamespace), client.MatchingLabels{testbed.InstanceLabel: monitoredName}); err != nil {
			return err
		}
		if len(pods.Items) != 1 || !podReady(&pods.Items[0]) || len(pods.Items[0].Status.ContainerStatuses) != 2 {
			return fmt.Errorf("pods: %s", describePods(pods.Items))
		}
		pod = &pods.Items[0]
		return nil
	})
	if pod.Spec.NodeName != testbed.RealNodeName {
		t.Errorf("the monitored memcached runs on %q, want the real node", pod.Spec.NodeName)
	}
	images := map[string]string{}
	for _, c := range pod.Spec.Containers {
		images[c.Name] = c.Image
	}
	if !slices.Contains(slices.Collect(maps.Values(images)), testbed.ExporterImage) {
		t.Errorf("the monitored pod runs %v, want the exporter %s among them", images, testbed.ExporterImage)
	}
	return pod
}

// forward opens a port-forward to the pod's port and runs use on its
// local address, retrying until use succeeds or a minute passes.
func (e *deployEnv) forward(t *testing.T, pod string, port int, use func(addr string) error) {
	t.Helper()
	pf, err := testbed.StartPortForward(t.Context(), e.c.RESTConfig(), testbed.OperatorNamespace, pod, port)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := pf.Close(); err != nil {
			t.Errorf("closing the port-forward: %v", err)
		}
	}()
	nodetest.Poll(t, fmt.Sprintf("pod %s:%d through %s", pod, port, pf.Addr), time.Minute, func(context.Context) error { return use(pf.Addr) })
}

// scrape reads a Prometheus text exposition and returns the value of each
// sample without labels.
func scrape(ctx context.Context, url string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %v", url, resp.Status, err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(body)) {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(f[0], "#") && !strings.Contains(f[0], "{") {
			out[f[0]] = f[1]
		}
	}
	return out, nil
}

// testUndeploy runs `make undeploy` with the monitored Memcached still in
// place, and checks that nothing of the project is left: every object
// make deploy applied, every CRD of the operator's group, every
// ClusterRole and ClusterRoleBinding named after it.
func (e *deployEnv) testUndeploy(t *testing.T) {
	e.runMake(t, "undeploy", "IMG="+e.operatorRef)
	image, err := render.ParseImage("controller=" + e.operatorRef)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Objects(filepath.Join(repoRoot, "config", "default"), image)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Poll(t, "everything make deploy created to be gone", 2*time.Minute, func(ctx context.Context) error {
		left, err := e.leftovers(ctx, objs)
		if err != nil || len(left) > 0 {
			return fmt.Errorf("still there: %v (%v)", left, err)
		}
		return nil
	})
}

// leftovers lists what is still in the cluster of the project.
func (e *deployEnv) leftovers(ctx context.Context, applied []*unstructured.Unstructured) ([]string, error) {
	var left []string
	for _, obj := range applied {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(obj.GroupVersionKind())
		err := e.client.Get(ctx, client.ObjectKeyFromObject(obj), u)
		if err == nil {
			left = append(left, obj.GetKind()+" "+obj.GetName())
		} else if !apierrors.IsNotFound(err) && !strings.Contains(err.Error(), "no matches for kind") {
			return nil, err
		}
	}
	named, err := e.namedOurs(ctx)
	return append(left, named...), err
}

// namedOurs lists the cluster-scoped objects that carry the project's name
// or API group, whatever created them.
func (e *deployEnv) namedOurs(ctx context.Context) ([]string, error) {
	var left []string
	crds := &apiextensionsv1.CustomResourceDefinitionList{}
	if err := e.client.List(ctx, crds); err != nil {
		return nil, err
	}
	for _, crd := range crds.Items {
		if crd.Spec.Group == "cache.example.com" {
			left = append(left, "CustomResourceDefinition "+crd.Name)
		}
	}
	roles := &rbacv1.ClusterRoleList{}
	if err := e.client.List(ctx, roles); err != nil {
		return nil, err
	}
	for _, r := range roles.Items {
		if strings.HasPrefix(r.Name, ourPrefix) {
			left = append(left, "ClusterRole "+r.Name)
		}
	}
	bindings := &rbacv1.ClusterRoleBindingList{}
	if err := e.client.List(ctx, bindings); err != nil {
		return nil, err
	}
	for _, b := range bindings.Items {
		if strings.HasPrefix(b.Name, ourPrefix) {
			left = append(left, "ClusterRoleBinding "+b.Name)
		}
	}
	return left, nil
}
