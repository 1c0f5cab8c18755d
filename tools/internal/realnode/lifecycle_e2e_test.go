//go:build e2e

package realnode_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestLocalDownAfterACrash starts a node the way `make local-up
// REAL_NODE=1` does, runs a pod, kills every recorded process at once as a
// crash would (the shim and the pod's processes survive, in the node's
// cgroup), and checks that `tools local down` puts the host back from the
// ledger alone.
func TestLocalDownAfterACrash(t *testing.T) {
	before := nodetest.LockedSnapshot(t)
	stateDir, err := os.MkdirTemp("", "realnode-crash-")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	tools(t, "local", "up", "--real-node", "--wait-for-lock", "--state-dir", stateDir, "--bin-dir", k8sBin, "--node-bin-dir", nodeBin)
	t.Logf("timing: tools local up --real-node took %s", time.Since(began).Round(time.Millisecond))
	kubectl := filepath.Join(k8sBin, "kubectl")
	for _, args := range [][]string{
		{"run", "crash", "--image", testbed.PauseImage},
		{"wait", "--for=condition=Ready", "pod/crash", "--timeout=2m"},
	} {
		if out, err := exec.Command(kubectl, append([]string{"--kubeconfig", filepath.Join(stateDir, "kubeconfig")}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	procs, err := testbed.FindProcesses(filepath.Join(stateDir, "run"))
	if err != nil || len(procs) == 0 {
		t.Fatalf("finding the node's processes: %v (%d found)", err, len(procs))
	}
	for _, p := range procs {
		_ = syscall.Kill(p.Pid(), syscall.SIGKILL)
	}
	waitFor(t, "the killed processes to be gone", func(context.Context) error {
		for _, p := range procs {
			if p.Running() {
				return errors.New(p.Name() + " still runs")
			}
		}
		return nil
	})
	if left := nodetest.NodeProcesses(stateDir, nodeBin); len(left) == 0 {
		t.Error("no shim or container survived the crash: the test no longer proves that teardown kills them")
	}
	began = time.Now()
	out := tools(t, "local", "down", "--state-dir", stateDir)
	t.Logf("timing: tools local down after the crash took %s: %s", time.Since(began).Round(time.Millisecond), strings.TrimSpace(out))
	if left := nodetest.NodeProcesses(stateDir, nodeBin); len(left) > 0 {
		t.Errorf("processes survive local down:\n%s", strings.Join(left, "\n"))
	}
	nodetest.CompareHost(t, before, nodetest.LockedSnapshot(t))
	if !t.Failed() {
		_ = os.RemoveAll(stateDir)
	}
}

// TestHalfStartedNodeIsTornDown gives the node a kubelet that exits at
// once: the start fails naming it, and leaves the host as it was.
func TestHalfStartedNodeIsTornDown(t *testing.T) {
	before := nodetest.LockedSnapshot(t)
	bin := t.TempDir()
	for _, name := range []string{testbed.Containerd, "containerd-shim-runc-v2", testbed.KubeProxy, testbed.CoreDNS} {
		if err := os.Symlink(filepath.Join(nodeBin, name), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	broken := "#!/bin/sh\necho 'kubelet: broken on purpose' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, testbed.Kubelet), []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	// A failed start keeps its state directory for its logs: a test's own.
	c, err := testbed.StartCluster(ctx, testbed.ClusterOptions{BinDir: k8sBin, StateDir: t.TempDir(), RealNode: nodeOptions(bin)})
	if err == nil {
		_ = c.Stop()
		t.Fatal("a cluster whose kubelet exits at once started")
	}
	if !strings.Contains(err.Error(), "kubelet exited") || !strings.Contains(err.Error(), "broken on purpose") {
		t.Errorf("the start failed with %v, want the kubelet's exit and its log", err)
	}
	nodetest.CompareHost(t, before, nodetest.LockedSnapshot(t))
}

// tools runs the tools binary and returns its output.
func tools(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), toolsBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tools %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
