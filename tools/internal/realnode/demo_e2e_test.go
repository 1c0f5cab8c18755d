//go:build e2e

package realnode_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/demo"
	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestDemoOnRealNode runs `make demo` as root on Linux: its pods run on a
// real node and the walk-through ends with memcached storing and returning
// a value through a port-forward; nothing is left running and the host is
// as before.
func TestDemoOnRealNode(t *testing.T) {
	before := nodetest.LockedSnapshot(t)
	var out bytes.Buffer
	stateDir, workDir := t.TempDir(), t.TempDir()
	began := time.Now()
	err := demo.Run(t.Context(), demo.Config{
		RepoRoot: repoRoot,
		BinDir:   k8sBin,
		StateDir: stateDir,
		WorkDir:  workDir,
		Out:      &out,
		Node: &demo.NodeConfig{
			BinDir:      nodeBin,
			DebsDir:     filepath.Join(repoRoot, "bin", "debs"),
			ImagesDir:   filepath.Join(repoRoot, "bin", "testbed-images"),
			ToolsBinary: toolsBin,
			WaitForLock: true,
		},
	})
	t.Log(out.String())
	if err != nil {
		t.Fatalf("make demo on a real node failed: %v", err)
	}
	t.Logf("timing: the demo with a real node (build steps up to date, lock wait included) took %s", time.Since(began).Round(time.Millisecond))
	for _, want := range []string{
		"and a real node (kubelet, containerd",
		"[node-binaries] up to date",
		"# pushed " + testbed.MemcachedImage,
		"Deployment memcached-sample is 5/5 and status.nodes lists the 5 pods",
		"< STORED",
		"memcached-sample, its Deployment and its pods are gone",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo did not show %q", want)
		}
	}
	if strings.Contains(out.String(), "kwok nodes only") {
		t.Errorf("the demo ran on kwok's nodes as root on Linux")
	}
	if st, err := testbed.ClusterStatus(stateDir); !errors.Is(err, testbed.ErrNothingRunning) {
		t.Errorf("after the demo: status = %+v, %v; want nothing running", st, err)
	}
	nodetest.Bins{Node: nodeBin}.CheckHostRestored(t, before, stateDir)
}
