package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadFlagExitsBeforeStarting runs the built manager with bad flags and
// no cluster to reach (KUBECONFIG points at nothing): it must exit with
// status 2 and name the flag, before it reads a kubeconfig or starts
// anything. Before flags were validated, --monitoring-recheck-interval=0
// reached time.NewTicker and panicked in the running manager.
func TestBadFlagExitsBeforeStarting(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command(goTool(t), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--monitoring-recheck-interval=0"}, []string{"--monitoring-recheck-interval"}},
		{[]string{"--max-concurrent-reconciles=0"}, []string{"--max-concurrent-reconciles"}},
		{[]string{"--kube-api-qps=-5", "--kube-api-burst=-1"}, []string{"--kube-api-qps", "--kube-api-burst"}},
		{[]string{"--max-concurrent-reconciles=x"}, []string{"-max-concurrent-reconciles"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "absent"), "WATCH_NAMESPACE=")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; output:\n%s", err, out)
			}
			for _, name := range tt.want {
				if !strings.Contains(string(out), name) {
					t.Errorf("output does not name %s:\n%s", name, out)
				}
			}
			if strings.Contains(string(out), "panic") || strings.Contains(string(out), "kubeconfig") {
				t.Errorf("the manager went past its flags:\n%s", out)
			}
		})
	}
}

// goTool is the go command on PATH, the one `go test` ran from.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the manager needs the go command on PATH: %v", err)
	}
	return p
}
