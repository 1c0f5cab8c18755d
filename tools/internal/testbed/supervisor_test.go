package testbed_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

func lookPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestSupervisorWrapperAndLeftovers runs a process through a wrapper that
// prepares its environment and execs it, as a real node's processes will be
// run (unshare ... sh -c '... && exec "$@"'): the process gets its extra
// environment and working directory, its pid file lets another invocation
// find it and prove it is the recorded command, and Stop ends it and
// removes the pid file.
func TestSupervisorWrapperAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	work := t.TempDir()
	spec := testbed.ProcessSpec{
		Name:    "sleeper",
		Path:    lookPath(t, "sleep"),
		Args:    []string{"300"},
		Env:     []string{"TESTBED_GREETING=wrapped"},
		Dir:     work,
		Wrapper: []string{lookPath(t, "sh"), "-c", `echo "$TESTBED_GREETING in $(pwd)" && exec "$@"`, "sh"},
		LogFile: filepath.Join(dir, "logs", "sleeper.log"),
		PidFile: filepath.Join(dir, "sleeper.pid"),
	}
	p, err := testbed.StartProcess(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })

	var found []*testbed.Process
	eventually(t, 10*time.Second, "the wrapper to exec the process", func(context.Context) error {
		if found, err = testbed.FindProcesses(dir); err != nil {
			return err
		}
		if len(found) != 1 || !found[0].Running() {
			return fmt.Errorf("pid file finds %d running processes, want the sleeper", len(found))
		}
		return nil
	})
	if found[0].Pid() != p.Pid() || found[0].Name() != "sleeper" {
		t.Errorf("pid file found %s (pid %d), want sleeper (pid %d)", found[0].Name(), found[0].Pid(), p.Pid())
	}
	if log, _ := os.ReadFile(spec.LogFile); !strings.Contains(string(log), "wrapped in "+work) {
		t.Errorf("the process did not get its environment and working directory; log: %q", log)
	}

	// The other invocation stops it through what it found.
	if err := testbed.StopProcesses(found, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the process still runs after it was stopped through its pid file")
	}
	if _, err := os.Stat(spec.PidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file stays after the stop (stat: %v)", err)
	}
}

// TestSupervisorKillsWhatIgnoresSIGTERM: a process that ignores SIGTERM gets
// SIGKILL after the timeout. Process.Stop says so; StopProcesses, which
// stops a cluster, succeeds once the processes are gone whichever signal it
// took.
func TestSupervisorKillsWhatIgnoresSIGTERM(t *testing.T) {
	dir := t.TempDir()
	var procs []*testbed.Process
	for _, name := range []string{"stubborn-0", "stubborn-1"} {
		log := filepath.Join(dir, name+".log")
		p, err := testbed.StartProcess(testbed.ProcessSpec{
			Name:    name,
			Path:    lookPath(t, "sh"),
			Args:    []string{"-c", `trap "" TERM; echo ready; while :; do sleep 0.1; done`},
			LogFile: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		eventually(t, 10*time.Second, "the trap to be set", func(context.Context) error {
			if data, _ := os.ReadFile(log); !strings.Contains(string(data), "ready") {
				return fmt.Errorf("not ready")
			}
			return nil
		})
		procs = append(procs, p)
	}
	err := procs[0].Stop(300 * time.Millisecond)
	if !errors.Is(err, testbed.ErrKilled) || !strings.Contains(err.Error(), "stubborn-0") {
		t.Errorf("Stop = %v, want ErrKilled naming the process", err)
	}
	if err := testbed.StopProcesses(procs[1:], 300*time.Millisecond); err != nil {
		t.Errorf("StopProcesses = %v, want success once the process is gone", err)
	}
	for _, p := range procs {
		if p.Running() {
			t.Errorf("%s survived SIGKILL", p.Name())
		}
	}
}

// TestSupervisorExitedErrorQuotesTheLog: the error for a process that died
// says how and quotes the end of its log.
func TestSupervisorExitedErrorQuotesTheLog(t *testing.T) {
	dir := t.TempDir()
	p, err := testbed.StartProcess(testbed.ProcessSpec{
		Name:    "failing",
		Path:    lookPath(t, "sh"),
		Args:    []string{"-c", "echo the reason it failed; exit 3"},
		LogFile: filepath.Join(dir, "failing.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ExitErr(); err == nil {
		t.Fatal("exit status 3 reported as success")
	}
	msg := p.ExitedError("at start").Error()
	for _, want := range []string{"failing exited (exit status 3) at start", "the reason it failed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}
