//go:build e2e

package realnode_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInput runs `tools local up --real-node` (what `make local-up
// REAL_NODE=1` runs) and `tools local preflight` where a real node cannot
// run: each fails with one line naming what is missing and what to run,
// before touching anything (the state directory stays empty, no lock is
// taken).
func TestBadInput(t *testing.T) {
	// A copy every user can run: the binary may sit in a directory only
	// root can enter.
	bin := t.TempDir()
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(bin, "tools")
	if err := copyFile(toolsBin, tool); err != nil {
		t.Fatal(err)
	}
	emptyPath := t.TempDir()
	asNobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	stdPath := "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, tt := range []struct {
		name    string
		wrapper []string
		env     []string
		args    []string
		want    []string
	}{{
		name: "UpAsNonRoot", wrapper: asNobody, env: []string{stdPath},
		args: []string{"local", "up", "--real-node"},
		want: []string{"needs root", "uid 65534", "sudo make local-up REAL_NODE=1"},
	}, {
		name: "PreflightAsNonRoot", wrapper: asNobody, env: []string{stdPath},
		args: []string{"local", "preflight"},
		want: []string{"needs root"},
	}, {
		name: "UpWithoutAptOrPackages", env: []string{"PATH=" + emptyPath},
		args: []string{"local", "up", "--real-node"},
		want: []string{"runc", "nft", "iptables", "apt-get is not in PATH",
			"apt-get install -y --no-install-recommends runc nftables iptables"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			if err := os.Chmod(state, 0o777); err != nil {
				t.Fatal(err)
			}
			args := append(tt.args, "--bin-dir", k8sBin, "--node-bin-dir", nodeBin, "--state-dir", state)
			if tt.args[1] == "preflight" {
				args = tt.args
			}
			argv := append(append(append([]string{}, tt.wrapper...), tool), args...)
			cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
			cmd.Env = append(tt.env, "HOME="+state)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			began := time.Now()
			err := cmd.Run()
			t.Logf("timing: failed in %s", time.Since(began).Round(time.Millisecond))
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("want a failing exit, got %v (stdout %q, stderr %q)", err, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || stdout.Len() != 0 {
				t.Fatalf("want exactly one line on stderr and nothing on stdout, got stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("the error %q does not say %q", lines[0], w)
				}
			}
			if entries, _ := os.ReadDir(state); len(entries) != 0 {
				t.Errorf("the failed start wrote into its state directory: %v", entries)
			}
		})
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
