//go:build e2e

package demo_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/demo"
	"github.com/example-inc/memcached-operator/tools/internal/localcluster"
)

// TestWalkthrough runs `make demo` as a test: a local cluster, the operator
// binary as a separate process, and the tutorial's walk-through against it.
func TestWalkthrough(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	binDir := os.Getenv("K8S_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(root, "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err != nil {
		t.Fatalf("control-plane binaries missing in %s: run `make k8s-binaries` (%v)", binDir, err)
	}

	var out bytes.Buffer
	stateDir := t.TempDir()
	err = demo.Run(t.Context(), demo.Config{
		RepoRoot: root,
		BinDir:   binDir,
		StateDir: stateDir,
		WorkDir:  t.TempDir(),
		Out:      &out,
	})
	t.Log(out.String())
	if err != nil {
		t.Fatalf("walk-through failed: %v", err)
	}
	for _, want := range []string{
		"memcached.cache.example.com/memcached-sample created",
		"Deployment memcached-sample is 3/3 and status.nodes lists the 3 pods",
		"Deployment memcached-sample is 5/5 and status.nodes lists the 5 pods",
		"memcached-sample, its Deployment and its pods are gone",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walk-through did not show %q", want)
		}
	}

	// Nothing may be left running: the state directory records no process.
	if st, err := localcluster.Status(stateDir); !errors.Is(err, localcluster.ErrNothingRunning) {
		t.Errorf("after the demo: status = %+v, %v; want nothing running", st, err)
	}
}
