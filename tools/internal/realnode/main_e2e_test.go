//go:build e2e

package realnode_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

var (
	repoRoot string
	k8sBin   string
	nodeBin  string
	// toolsBin is the `tools` binary: it serves the node's registry and is
	// the command the bad-input tests run.
	toolsBin string
)

// TestMain fails, rather than skips, where a real node cannot run: the
// tests exist to prove it runs, and CI runs them as root on Linux.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the real node's tests need Linux and root (this is %s, uid %d): run them as root, as CI does\n",
			runtime.GOOS, os.Geteuid())
		return 1
	}
	var err error
	if repoRoot, err = filepath.Abs(filepath.Join("..", "..", "..")); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	k8sBin = envOr("K8S_BIN_DIR", filepath.Join(repoRoot, "bin", "k8s"))
	nodeBin = envOr("NODE_BIN_DIR", filepath.Join(repoRoot, "bin", "node"))
	toolsBin = os.Getenv("TOOLS_BIN")
	if toolsBin == "" {
		dir, err := os.MkdirTemp("", "realnode-tools-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		toolsBin = filepath.Join(dir, "tools")
		build := exec.Command("go", "build", "-o", toolsBin, "./tools/cmd/tools")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: building the tools binary (or set TOOLS_BIN): %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// nodeOptions are the real node's options for a cluster of these tests:
// they queue on the machine-wide lock behind other packages' nodes.
func nodeOptions(binDir string) *testbed.RealNodeOptions {
	return &testbed.RealNodeOptions{BinDir: binDir, ToolsBinary: toolsBin, WaitForLock: true, Progress: os.Stderr}
}

// startNodeCluster starts a cluster with a real node (attached: it dies
// with the test binary) and reports how long it took.
func startNodeCluster(t *testing.T) *testbed.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	began := time.Now()
	c, err := testbed.StartCluster(ctx, testbed.ClusterOptions{BinDir: k8sBin, RealNode: nodeOptions(nodeBin)})
	if err != nil {
		t.Fatalf("starting a cluster with a real node: %v", err)
	}
	timings := c.NodeTimings()
	t.Logf("timing: cluster with a real node up in %s (lock wait included); node Ready %s after the kubelet started; node processes up in %s",
		time.Since(began).Round(time.Millisecond), timings.KubeletToReady.Round(time.Millisecond), timings.Total.Round(time.Millisecond))
	return c
}
