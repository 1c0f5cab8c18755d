package testbed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
)

// TestResetRefusesAForeignStateDir: a state directory holding a user's
// files (logs/, pki/, kubeconfig), and no cluster of the tools, is refused
// and left as it was; an empty, new or earlier state directory is cleaned
// and marked.
func TestResetRefusesAForeignStateDir(t *testing.T) {
	dir := t.TempDir()
	user := map[string]string{"logs/mine.txt": "u", "pki/ca.key": "k", "kubeconfig": "mine"}
	for rel, data := range user {
		writeFile(t, filepath.Join(dir, rel), data)
	}
	err := layout{dir: dir}.reset()
	if err == nil || !strings.Contains(err.Error(), "refusing to clean it") {
		t.Fatalf("reset of a user's directory: %v", err)
	}
	for rel, data := range user {
		if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(got) != data {
			t.Errorf("%s: %q, %v: the refused reset changed it", rel, got, err)
		}
	}

	for name, setup := range map[string]func(string){
		"missing": func(string) {},
		"empty":   func(d string) { mkdir(t, d) },
		"earlier": func(d string) {
			writeFile(t, filepath.Join(d, "cluster.json"), "{}")
			writeFile(t, filepath.Join(d, "logs", "etcd.log"), "x")
		},
	} {
		d := filepath.Join(t.TempDir(), name)
		setup(d)
		if err := (layout{dir: d}).reset(); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if _, err := os.Stat(filepath.Join(d, atomicdir.Marker)); err != nil {
			t.Errorf("%s: no marker after reset: %v", name, err)
		}
	}
}

// TestDownLeavesAForeignDirAlone: `tools local down` in a directory where
// no cluster ever ran removes nothing, a user's kubeconfig included.
func TestDownLeavesAForeignDirAlone(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "kubeconfig"), "mine")
	if _, err := ClusterDown(dir, 0); !errors.Is(err, ErrNothingRunning) {
		t.Fatalf("ClusterDown: %v, want ErrNothingRunning", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "kubeconfig")); err != nil || string(got) != "mine" {
		t.Errorf("kubeconfig: %q, %v", got, err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPortTaken: a start is tried again only when a port the testbed chose
// was taken before its component bound it, never for a pinned port.
func TestPortTaken(t *testing.T) {
	taken := errors.New("registry exited (exit status 1) during start; Error: registry: listen tcp 127.0.0.1:46523: bind: address already in use")
	if !portTaken(taken, Ports{}) {
		t.Error("a chosen port taken: not retried")
	}
	if portTaken(taken, Ports{APIServer: 6443}) {
		t.Error("a pinned port taken: retried")
	}
	if portTaken(errors.New("kube-apiserver exited"), Ports{}) {
		t.Error("another failure: retried")
	}
}
