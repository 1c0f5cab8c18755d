package nodetest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// Bins are the binaries a real-node scenario runs, as `make test` passes
// them (K8S_BIN_DIR, NODE_BIN_DIR, OLM_BIN_DIR, TOOLS_BIN, OPERATOR_SDK),
// defaulting to their places under RepoRoot/bin.
type Bins struct {
	RepoRoot    string
	K8s         string // make k8s-binaries
	Node        string // make node-binaries
	OLM         string // make olm-binaries
	Tools       string // make tools: serves the node's registry
	OperatorSDK string // make operator-sdk
}

// BinsFromEnv reads the binaries' places and fails the test unless a real
// node can run here and the binaries of the cluster, the node and OLM
// exist; withSDK requires operator-sdk too.
func BinsFromEnv(t testing.TB, repoRoot string, withSDK bool) Bins {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Fatalf("a real node needs Linux and root (this is %s, uid %d): run the test as root, as CI does", runtime.GOOS, os.Geteuid())
	}
	bin := filepath.Join(repoRoot, "bin")
	b := Bins{
		RepoRoot:    repoRoot,
		K8s:         envOr("K8S_BIN_DIR", filepath.Join(bin, "k8s")),
		Node:        envOr("NODE_BIN_DIR", filepath.Join(bin, "node")),
		OLM:         envOr("OLM_BIN_DIR", filepath.Join(bin, "olm")),
		Tools:       envOr("TOOLS_BIN", filepath.Join(bin, "tools")),
		OperatorSDK: envOr("OPERATOR_SDK", filepath.Join(bin, "operator-sdk")),
	}
	needs := map[string]string{
		filepath.Join(b.K8s, "kube-apiserver"): "k8s-binaries", filepath.Join(b.Node, testbed.Kubelet): "node-binaries",
		filepath.Join(b.OLM, "catalog"): "olm-binaries", b.Tools: "tools",
	}
	if withSDK {
		needs[b.OperatorSDK] = "operator-sdk"
	}
	for need, target := range needs {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s missing: run `make %s` (%v)", need, target, err)
		}
	}
	return b
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// NodeOptions are the real node's options of a test's cluster: it queues
// on the machine-wide lock behind other packages' nodes.
func (b Bins) NodeOptions() *testbed.RealNodeOptions {
	return &testbed.RealNodeOptions{BinDir: b.Node, ToolsBinary: b.Tools, WaitForLock: true, Progress: os.Stderr}
}

// NodeImages builds (or finds cached) every image the node's workloads
// pull, as `make testbed-images` does, and logs how long that took.
func (b Bins) NodeImages(t testing.TB) []testbed.NodeImage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	began := time.Now()
	imgs, err := testbed.NodeImages(ctx, testbed.NodeImagesOptions{RepoRoot: b.RepoRoot, Log: t.Logf})
	if err != nil {
		t.Fatalf("building the real node's images: %v", err)
	}
	t.Logf("timing: the node's %d images ready in %s", len(imgs), time.Since(began).Round(time.Millisecond))
	return imgs
}

// CheckHostRestored fails the test if a process of the node in stateDir
// survived its teardown or the host differs from before.
func (b Bins) CheckHostRestored(t testing.TB, before HostSnapshot, stateDir string) {
	t.Helper()
	if procs := NodeProcesses(stateDir, b.Node); len(procs) > 0 {
		t.Errorf("processes of the node survive its teardown:\n%v", procs)
	}
	CompareHost(t, before, LockedSnapshot(t))
}
