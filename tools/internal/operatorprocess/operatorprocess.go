package operatorprocess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/logtail"
)

// Build compiles the manager of the operator module in repoRoot into out.
func Build(ctx context.Context, repoRoot, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./operator/cmd")
	cmd.Dir = repoRoot
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager (go build ./operator/cmd in %s): %w\n%s", repoRoot, err, output)
	}
	return nil
}

// Options say how to run the manager.
type Options struct {
	// Binary is the manager binary.
	Binary string
	// Kubeconfig the manager connects with.
	Kubeconfig string
	// WatchNamespace is WATCH_NAMESPACE: empty for all namespaces.
	WatchNamespace string
	// Env are further NAME=value variables (proxy settings, RELATED_IMAGE_*).
	Env []string
	// Args are further flags.
	Args []string
	// LogFile receives the manager's output.
	LogFile string
	// PidFile, when set, records the pid so that another process can stop
	// the manager (Detached).
	PidFile string
	// Detached runs the manager in its own session so it outlives the caller.
	Detached bool
	// ReadyTimeout bounds the wait for the manager's readiness probe.
	ReadyTimeout time.Duration
}

// Operator is a running manager.
type Operator struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	opts    Options
}

// Start runs the manager and waits until its readiness endpoint answers.
func Start(ctx context.Context, opts Options) (*Operator, error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = time.Minute
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("manager binary: %w", err)
	}
	probePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.LogFile), 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory: %w", err)
	}
	logFile, err := os.Create(opts.LogFile)
	if err != nil {
		return nil, fmt.Errorf("creating the manager log: %w", err)
	}
	defer logFile.Close()

	args := append([]string{
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(probePort),
		"--metrics-bind-address=0",
	}, opts.Args...)
	cmd := exec.Command(opts.Binary, args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+opts.Kubeconfig,
		"WATCH_NAMESPACE="+opts.WatchNamespace,
	)
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(opts.Detached)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	o := &Operator{cmd: cmd, exited: make(chan struct{}), opts: opts}
	go func() {
		o.waitErr = cmd.Wait()
		close(o.exited)
	}()
	if opts.PidFile != "" {
		if err := os.WriteFile(opts.PidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			_ = o.Stop()
			return nil, fmt.Errorf("writing %s: %w", opts.PidFile, err)
		}
	}
	if err := o.waitReady(ctx, probePort); err != nil {
		_ = o.Stop()
		return nil, err
	}
	return o, nil
}

func (o *Operator) waitReady(ctx context.Context, port int) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	deadline := time.Now().Add(o.opts.ReadyTimeout)
	for {
		select {
		case <-o.exited:
			return fmt.Errorf("the manager exited before it was ready (%v); its log %s ends with:\n%s", o.waitErr, o.opts.LogFile, logtail.Tail(o.opts.LogFile, 20))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager was not ready after %s; its log %s ends with:\n%s", o.opts.ReadyTimeout, o.opts.LogFile, logtail.Tail(o.opts.LogFile, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pid is the manager's process id.
func (o *Operator) Pid() int { return o.cmd.Process.Pid }

// Exited is closed when the manager exits.
func (o *Operator) Exited() <-chan struct{} { return o.exited }

// ExitErr is how the manager exited (nil for status 0); call it once Exited
// is closed.
func (o *Operator) ExitErr() error {
	<-o.exited
	return o.waitErr
}

// Stop sends SIGTERM, waits for the manager to exit (SIGKILL after 15s) and
// removes its pid file.
func (o *Operator) Stop() error {
	defer func() {
		if o.opts.PidFile != "" {
			_ = os.Remove(o.opts.PidFile)
		}
	}()
	select {
	case <-o.exited:
		return nil
	default:
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.exited
		return fmt.Errorf("the manager did not stop within 15s of SIGTERM and was killed")
	}
}

// Kill stops the manager at once with SIGKILL, as a crash would.
func (o *Operator) Kill() {
	_ = o.cmd.Process.Kill()
	<-o.exited
}

// StopFromPidFile stops a detached manager recorded in pidFile. A missing
// pid file or a process already gone is not an error: there is nothing to stop.
func StopFromPidFile(pidFile string, timeout time.Duration) (stopped bool, err error) {
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", pidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return false, fmt.Errorf("%s: not a pid: %w", pidFile, err)
	}
	defer os.Remove(pidFile)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return false, nil // already gone
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return true, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return true, fmt.Errorf("the manager (pid %d) did not stop within %s of SIGTERM and was killed", pid, timeout)
}

// FreePort returns a loopback port nothing listens on at the moment.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// BuildRelease compiles the manager of an earlier release: the operator
// module as it was in the commit that recorded releases/<version> in
// repoRoot's git history. Upgrade tests run that binary before the upgrade,
// with the permissions its own CSV granted.
func BuildRelease(ctx context.Context, repoRoot, version, out string) error {
	path := "releases/" + version
	logCmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%H", "--", path)
	logCmd.Dir = repoRoot
	commit, err := logCmd.Output()
	if err != nil || len(strings.TrimSpace(string(commit))) == 0 {
		return fmt.Errorf("finding the commit that recorded %s in the git history of %s (a full clone is needed): %v", path, repoRoot, err)
	}
	src, err := os.MkdirTemp("", "operator-"+version+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	rev := strings.TrimSpace(string(commit))
	archive := exec.CommandContext(ctx, "sh", "-c", `git archive "$0" operator | tar -x -C "$1"`, rev, src)
	archive.Dir = repoRoot
	if output, err := archive.CombinedOutput(); err != nil {
		return fmt.Errorf("extracting the operator of %s from commit %s: %w\n%s", path, rev, err, output)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd")
	build.Dir = filepath.Join(src, "operator")
	build.Env = append(os.Environ(), "GOWORK=off")
	if output, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager of release %s (commit %s): %w\n%s", version, rev, err, output)
	}
	return nil
}
