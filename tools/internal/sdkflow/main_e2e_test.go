//go:build e2e

package sdkflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// installNamespace is the Makefile's INSTALL_NAMESPACE default, where
// run-bundle installs and scorecard runs its pods.
const installNamespace = "memcached-operator-system"

// sdkEnv is the running cluster the subtests share.
type sdkEnv struct {
	bins   nodetest.Bins
	c      *testbed.Cluster
	kube   client.Client
	mirror *testbed.HostMirror
	// oldest and newest are the bundle images run-bundle installs and
	// run-bundle-upgrade upgrades to.
	oldest, newest bundleImage
}

type bundleImage struct {
	ref     string
	version semver.Version
}

// TestOperatorSDKOnTheRealNode runs the README's operator-sdk targets
// against a cluster with a real node and OLM: scorecard's six default
// tests as pods; run-bundle of the oldest release's bundle image, then
// run-bundle-upgrade to the newest bundle image, each CSV Succeeded with
// its operator pod Ready on the node; cleanup, after which nothing of the
// operator is left. Once the node is down the host is as before.
func TestOperatorSDKOnTheRealNode(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bins := nodetest.BinsFromEnv(t, root, true)
	images := bins.NodeImages(t)
	before := nodetest.LockedSnapshot(t)
	e := startEnv(t, bins, images)
	stopped := false
	defer func() {
		if !stopped {
			_ = errors.Join(e.c.Stop(), e.mirror.Close())
		}
	}()

	t.Run("Scorecard", e.testScorecard)
	if t.Run("RunBundle", e.testRunBundle) {
		t.Run("RunBundleUpgrade", e.testRunBundleUpgrade)
		t.Run("Cleanup", e.testCleanup)
	}
	t.Run("NothingLeftTheMachine", e.testFence)

	stateDir := e.c.StateDir()
	stopped = true
	began := time.Now()
	if err := errors.Join(e.c.Stop(), e.mirror.Close()); err != nil {
		t.Fatalf("stopping the cluster: %v", err)
	}
	t.Logf("timing: cluster stopped and the host put back in %s", time.Since(began).Round(time.Millisecond))
	bins.CheckHostRestored(t, before, stateDir)
}

// startEnv starts a cluster with a real node and OLM, pushes the shipped
// images, starts the host mirror and creates the install namespace.
func startEnv(t *testing.T, bins nodetest.Bins, images []testbed.NodeImage) *sdkEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Minute)
	defer cancel()
	e := &sdkEnv{bins: bins}
	e.oldest, e.newest = bundleImages(t, images)
	began := time.Now()
	c, err := testbed.StartCluster(ctx, testbed.ClusterOptions{BinDir: bins.K8s, StateDir: t.TempDir(), RealNode: bins.NodeOptions()})
	if err != nil {
		t.Fatalf("starting a cluster with a real node: %v", err)
	}
	e.c = c
	t.Logf("timing: cluster with a real node up in %s (lock wait included)", time.Since(began).Round(time.Millisecond))
	fail := func(format string, args ...any) {
		_ = c.Stop()
		t.Fatalf(format, args...)
	}
	if err := c.Registry().PushNodeImages(ctx, images); err != nil {
		fail("%v", err)
	}
	if e.mirror, err = c.Registry().StartHostMirror(c.StateDir()); err != nil {
		fail("%v", err)
	}
	if _, err := c.StartOLM(ctx, bins.OLM); err != nil {
		fail("starting OLM: %v", errors.Join(err, e.mirror.Close()))
	}
	if e.kube, err = testbed.NewClient(c.RESTConfig()); err == nil {
		err = testbed.EnsureNamespaces(ctx, e.kube, installNamespace)
	}
	if err != nil {
		fail("%v", errors.Join(err, e.mirror.Close()))
	}
	return e
}

// bundleImages picks the oldest and the newest bundle image among the
// shipped ones: the first release and the version under development (or
// the newest release, once it is released).
func bundleImages(t *testing.T, images []testbed.NodeImage) (oldest, newest bundleImage) {
	t.Helper()
	var bundles []bundleImage
	for _, img := range images {
		repo, tag, ok := strings.Cut(img.Ref, ":v")
		if !ok || !strings.HasSuffix(repo, "-bundle") {
			continue
		}
		v, err := semver.Parse(tag)
		if err != nil {
			t.Fatalf("bundle image %s: %v", img.Ref, err)
		}
		bundles = append(bundles, bundleImage{ref: img.Ref, version: v})
	}
	if len(bundles) < 2 {
		t.Fatalf("%d bundle images among the node's images, want two to upgrade between", len(bundles))
	}
	slices.SortFunc(bundles, func(a, b bundleImage) int { return a.version.Compare(b.version) })
	return bundles[0], bundles[len(bundles)-1]
}

// makeTarget runs a target of the Makefile as a user runs it, with
// KUBECONFIG naming the test's cluster and operator-sdk pulling through
// the host mirror, and returns its standard output.
func (e *sdkEnv) makeTarget(t *testing.T, timeout time.Duration, target string, vars ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	args := append([]string{"-s", "--no-print-directory", "-C", e.bins.RepoRoot, target, "OPERATOR_SDK=" + e.bins.OperatorSDK}, vars...)
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Env = append(append(hostEnv(), "KUBECONFIG="+e.c.Kubeconfig()), e.mirror.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	entries := rootEntries(t, e.bins.RepoRoot)
	began := time.Now()
	err := cmd.Run()
	t.Logf("timing: make %s took %s\n--- stdout\n%s--- stderr\n%s", strings.Join(append([]string{target}, vars...), " "),
		time.Since(began).Round(time.Millisecond), stdout.String(), stderr.String())
	if err != nil {
		err = fmt.Errorf("make %s: %w", target, err)
	}
	// operator-sdk pulls into directories of its working directory, the
	// repository's root, and removes them when it is done.
	if left := added(entries, rootEntries(t, e.bins.RepoRoot)); len(left) > 0 {
		t.Errorf("make %s left %v in %s", target, left, e.bins.RepoRoot)
	}
	return stdout.String(), err
}

// rootEntries lists the names in the repository's root.
func rootEntries(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// added returns the names of after that are not in before.
func added(before, after []string) []string {
	return slices.DeleteFunc(after, func(n string) bool { return slices.Contains(before, n) })
}

// testFence reads the node's fence counter: nothing the node's processes
// sent went anywhere but loopback and the project's networks.
func (e *sdkEnv) testFence(t *testing.T) {
	dropped, err := e.c.FencedPackets()
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 0 {
		t.Errorf("the node's processes sent %d packets off the machine (dropped by the fence)", dropped)
	}
}

// podsIn lists the pods of the install namespace, and says what they are
// on one line, for failure messages.
func (e *sdkEnv) podsIn(ctx context.Context, opts ...client.ListOption) ([]corev1.Pod, string, error) {
	pods := &corev1.PodList{}
	if err := e.kube.List(ctx, pods, append(opts, client.InNamespace(installNamespace))...); err != nil {
		return nil, "", err
	}
	var lines []string
	for _, p := range pods.Items {
		lines = append(lines, fmt.Sprintf("%s %s on %q", p.Name, p.Status.Phase, p.Spec.NodeName))
	}
	return pods.Items, strings.Join(lines, "; "), nil
}

// hostEnv is the test's environment without what would change how make
// and operator-sdk behave here: a parent make's job server and flags, and
// any proxy or certificate settings of the caller.
func hostEnv() []string {
	drop := []string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "KUBECONFIG", "SSL_CERT_FILE", "SSL_CERT_DIR",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(drop, strings.ToUpper(name))
	})
}
