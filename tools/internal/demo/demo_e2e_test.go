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
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// compatBinDirsEnv lists, blank-separated, the control planes of older
// Kubernetes versions to run the walk-through on instead of the newest
// (`make test-compat`: bin/k8s-v1.25.15 ...).
const compatBinDirsEnv = "K8S_COMPAT_BIN_DIRS"

// TestWalkthrough runs `make demo` as a test: a local cluster, the operator
// binary as a separate process, and the tutorial's walk-through against it.
// It runs on the newest control plane (K8S_BIN_DIR, else bin/k8s) or, when
// K8S_COMPAT_BIN_DIRS is set, on each control plane it lists, one subtest
// each; a listed directory without its binaries fails the test.
func TestWalkthrough(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dirs := strings.Fields(os.Getenv(compatBinDirsEnv))
	if len(dirs) == 0 {
		dir := os.Getenv("K8S_BIN_DIR")
		if dir == "" {
			dir = filepath.Join(root, "bin", "k8s")
		}
		dirs = []string{dir}
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { walkthroughOn(t, root, dir) })
	}
}

// walkthroughOn runs the demo on the control plane in binDir and checks
// that the API server is the version binDir's stamp names.
func walkthroughOn(t *testing.T, root, binDir string) {
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err != nil {
		t.Fatalf("control-plane binaries missing in %s: run `make k8s-binaries` or `make k8s-compat-binaries` (%v)", binDir, err)
	}
	version := stampedVersion(t, binDir)

	var out bytes.Buffer
	stateDir := t.TempDir()
	err := demo.Run(t.Context(), demo.Config{
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
		"(Kubernetes " + version + ") ready",
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
	if st, err := testbed.ClusterStatus(stateDir); !errors.Is(err, testbed.ErrNothingRunning) {
		t.Errorf("after the demo: status = %+v, %v; want nothing running", st, err)
	}
}

// stampedVersion is the Kubernetes version the build scripts wrote into
// binDir/.versions ("kubernetes=v1.25.15 ...").
func stampedVersion(t *testing.T, binDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(binDir, ".versions"))
	if err != nil {
		t.Fatalf("%s has no version stamp: build it with `make k8s-binaries` or `make k8s-compat-binaries` (%v)", binDir, err)
	}
	for _, f := range strings.Fields(string(data)) {
		if v, ok := strings.CutPrefix(f, "kubernetes="); ok {
			return v
		}
	}
	t.Fatalf("%s/.versions names no kubernetes= version: %q", binDir, data)
	return ""
}
