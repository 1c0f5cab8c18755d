//go:build e2e

package faults_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
)

// nodes hold 500 pods each: the 200-Memcached rollout runs about 400, more
// while Deployments surge.
const nodes = 2

var env *bench.Env

// TestMain starts one cluster and builds the manager once for every test;
// each test works in namespaces of its own and runs its own operators.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) (code int) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	binDir := os.Getenv("K8S_BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join(root, "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err != nil {
		fmt.Fprintf(os.Stderr, "faults: control-plane binaries missing in %s: run `make k8s-binaries` (%v)\n", binDir, err)
		return 1
	}
	workDir, err := os.MkdirTemp("", "faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err = bench.StartEnv(ctx, bench.EnvOptions{
		RepoRoot: root,
		BinDir:   binDir,
		WorkDir:  workDir,
		StateDir: filepath.Join(workDir, "cluster"),
		Nodes:    nodes,
		Log:      os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults: FAIL:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "faults: stopping the cluster:", err)
			code = 1
		}
		if code == 0 && os.Getenv("FAULTS_KEEP") == "" {
			_ = os.RemoveAll(workDir)
		} else {
			fmt.Printf("faults: operator logs, cluster logs and the audit log are in %s\n", workDir)
		}
	}()
	return m.Run()
}
