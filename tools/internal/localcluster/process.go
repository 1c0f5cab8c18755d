package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/logtail"
)

const (
	// killGrace is how long a SIGKILLed process may take to disappear; the
	// kernel needs milliseconds, so running out of it means something is
	// badly wrong (for example an unreaped zombie we do not own).
	killGrace = 5 * time.Second

	pollInterval = 50 * time.Millisecond
)

// process is one running component.
type process struct {
	component string
	pid       int
	logFile   string
	ports     []int

	// done is closed once the process exited and was reaped, when it is a
	// child of this process; it is nil for a process found via its pid file.
	done    chan struct{}
	exitErr error

	// stateDir identifies processes found via pid files (see owned).
	stateDir string
}

// startProcess launches a component with its output appended to its log
// file, then records its pid. The log file is handed over as the child's
// stdout and stderr, not copied through a pipe, so a detached component keeps
// logging after this process exits and never holds a caller's pipe (which
// would make `make local-up` wait for it).
func startProcess(l layout, binDir, component string, args, env []string, ports []int, detached bool) (*process, error) {
	logFile := l.logFile(component)
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", component, err)
	}
	defer out.Close() // the child holds its own descriptor

	cmd := exec.Command(filepath.Join(binDir, component), args...)
	cmd.Dir = l.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr(detached)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", component, err)
	}

	p := &process{
		component: component,
		pid:       cmd.Process.Pid,
		logFile:   logFile,
		ports:     ports,
		done:      make(chan struct{}),
		stateDir:  l.dir,
	}
	// Reaping in the background lets waits notice an early exit, and keeps a
	// stopped child from lingering as a zombie while this process lives.
	go func() {
		p.exitErr = cmd.Wait()
		close(p.done)
	}()

	if err := writePidFile(l.pidFile(component), p.pid); err != nil {
		_ = signalGroup(p.pid, syscall.SIGKILL)
		<-p.done
		return nil, err
	}
	return p, nil
}

// running reports whether the process is still alive.
func (p *process) running() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	return owned(p.pid, p.component, p.stateDir)
}

// exitedError describes a component that died while it was expected to run.
func (p *process) exitedError() error {
	reason := "exited"
	if p.exitErr != nil {
		reason = fmt.Sprintf("exited (%v)", p.exitErr)
	}
	return withLogTail(fmt.Errorf("%s %s during start", p.component, reason), p.logFile)
}

// stopTiers is the stop order: the clients of the apiserver together, then
// the apiserver, then etcd, so that no component spends its grace period
// retrying against a dependency that is already gone.
var stopTiers = [][]string{
	{Kwok, KubeScheduler, KubeControllerManager},
	{KubeAPIServer},
	{Etcd},
}

// stopProcesses stops every given process, tier by tier: SIGTERM to its
// process group, SIGKILL after timeout, and returns once all are gone.
func stopProcesses(procs []*process, timeout time.Duration) error {
	byComponent := map[string][]*process{}
	for _, p := range procs {
		byComponent[p.component] = append(byComponent[p.component], p)
	}
	var errs []error
	for _, tier := range stopTiers {
		var batch []*process
		for _, c := range tier {
			batch = append(batch, byComponent[c]...)
		}
		errs = append(errs, stopBatch(batch, timeout))
	}
	return errors.Join(errs...)
}

func stopBatch(procs []*process, timeout time.Duration) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range procs {
		wg.Go(func() {
			if err := stopProcess(p, timeout); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func stopProcess(p *process, timeout time.Duration) error {
	if !p.running() {
		return nil
	}
	if err := signalGroup(p.pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping %s (pid %d): %w", p.component, p.pid, err)
	}
	if p.waitExit(timeout) {
		return nil
	}
	if err := signalGroup(p.pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s (pid %d): %w", p.component, p.pid, err)
	}
	if p.waitExit(killGrace) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) still running %s after SIGKILL", p.component, p.pid, killGrace)
}

// waitExit reports whether the process exited within timeout.
func (p *process) waitExit(timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	if p.done != nil {
		select {
		case <-p.done:
			return true
		case <-deadline.C:
			return false
		}
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for p.running() {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// signalGroup signals the component's whole process group; each component
// leads its own group, so helpers it may spawn go with it. A group that no
// longer exists is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func writePidFile(path string, pid int) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s holds %q, not a pid", path, strings.TrimSpace(string(data)))
	}
	return pid, nil
}

// discover returns the processes recorded by pid files under the state
// directory, in start order, whether or not they still run.
func discover(l layout, ports map[string][]int) ([]*process, error) {
	var procs []*process
	for _, c := range components {
		pid, err := readPidFile(l.pidFile(c))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		procs = append(procs, &process{
			component: c,
			pid:       pid,
			logFile:   l.logFile(c),
			ports:     ports[c],
			stateDir:  l.dir,
		})
	}
	return procs, nil
}

// tailLines is how much of a log an error quotes: enough for a stack trace's
// head or the last few retries, short enough to read in a terminal.
const tailLines = 15

// withLogTail appends the end of a component's log to err, because the
// reason a component failed is almost always in its last lines.
func withLogTail(err error, logFile string) error {
	if _, statErr := os.Stat(logFile); statErr != nil {
		return fmt.Errorf("%w (no log %s)", err, logFile)
	}
	tail := logtail.Tail(logFile, tailLines)
	if tail == "" {
		return fmt.Errorf("%w (log %s is empty)", err, logFile)
	}
	return fmt.Errorf("%w; last lines of %s:\n    %s", err, logFile, strings.ReplaceAll(tail, "\n", "\n    "))
}

// cmdlineMatches reports whether a command line is the given component of
// the cluster in stateDir: every component is started from its binary's
// absolute path, and each gets at least one argument under the state
// directory (a data directory or a kubeconfig).
func cmdlineMatches(argv []string, component, stateDir string) bool {
	if len(argv) == 0 || filepath.Base(argv[0]) != component {
		return false
	}
	prefix := strings.TrimSuffix(stateDir, string(filepath.Separator)) + string(filepath.Separator)
	for _, arg := range argv[1:] {
		if strings.Contains(arg, prefix) {
			return true
		}
	}
	return false
}
