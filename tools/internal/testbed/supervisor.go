package testbed

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// defaultStopTimeout is how long a process may take to exit after
	// SIGTERM before it gets SIGKILL.
	defaultStopTimeout = 15 * time.Second

	// killGrace is how long a SIGKILLed process may take to disappear, and
	// its ports to close; the kernel needs milliseconds, so running out of
	// it means something is badly wrong (for example an unreaped zombie we
	// do not own).
	killGrace = 5 * time.Second

	pollInterval = 50 * time.Millisecond
)

// ErrKilled says a process ignored SIGTERM for its whole stop timeout and
// was SIGKILLed; it is gone all the same.
var ErrKilled = errors.New("did not stop on SIGTERM and was killed")

// StopTier orders stops: every process of a lower tier is gone before any of
// a higher tier gets its SIGTERM, so that nothing spends its grace period
// retrying against a dependency that is already gone. Processes of one tier
// stop together.
type StopTier int

const (
	// TierClients are the API server's clients: controllers, kwok, the
	// operator, OLM's operators (and a kubelet, a proxy, DNS).
	TierClients StopTier = iota
	// TierServices serve those clients besides the API server (a container
	// runtime, a registry).
	TierServices
	// TierAPIServer is kube-apiserver.
	TierAPIServer
	// TierStore is etcd.
	TierStore
)

// ProcessSpec says how to run one supervised process.
type ProcessSpec struct {
	// Name identifies the process in errors and names its pid and log files;
	// it is unique among the processes of one state directory.
	Name string
	// Path is the binary, absolute; Args are its arguments.
	Path string
	Args []string
	// Env is added to the inherited environment.
	Env []string
	// Dir is the working directory; empty keeps the caller's.
	Dir string
	// Wrapper, when set, is a command that prepares the process's
	// environment and then execs its own trailing arguments, Path and Args,
	// in the same pid: for example
	//   unshare -m -- sh -c 'mount --bind X /etc/resolv.conf && exec "$@"' sh
	// Once it has exec'd, the process's command line is Path and Args,
	// which is what the pid file records and leftovers are matched against.
	Wrapper []string
	// LogFile receives stdout and stderr, appended; required.
	LogFile string
	// PidFile, when set, records the process so that another invocation
	// (`tools local down`) can find it, and check before signalling it that
	// the pid still runs this command.
	PidFile string
	// Ports are the ports the process listens on: Stop returns only once
	// they are closed.
	Ports []int
	// Host is the address Ports are on; empty means 127.0.0.1. A real
	// node's API server and kubelet listen on its bridge address instead.
	Host string
	// ExtraFiles are inherited as descriptors 3 onward. A real node's
	// processes inherit the machine-wide lock this way, so it stays held
	// exactly as long as any of them runs, detached or not.
	ExtraFiles []*os.File
	// Detached starts the process in a session of its own so that it
	// outlives the caller. Otherwise it dies with the caller (on Linux),
	// even if the caller panics.
	Detached bool
	// Tier is when Stop reaches it among other processes.
	Tier StopTier
}

// argv is the command line of the process itself, after any wrapper.
func (s ProcessSpec) argv() []string { return append([]string{s.Path}, s.Args...) }

// record is a pid file's content: enough to find the process again, to tell
// it from an unrelated process that got the same pid, and to stop it in
// order.
type record struct {
	PID     int       `json:"pid"`
	Argv    []string  `json:"argv"`
	Ports   []int     `json:"ports,omitempty"`
	Host    string    `json:"host,omitempty"`
	LogFile string    `json:"logFile,omitempty"`
	Tier    StopTier  `json:"tier"`
	Started time.Time `json:"started"`
}

// Process is one supervised process: started by this process, or found
// through its pid file.
type Process struct {
	name    string
	pidFile string
	rec     record
	spec    ProcessSpec // for restarts; zero for a process found via its pid file

	// done is closed once the process exited and was reaped, when it is a
	// child of this process; it is nil for a process found via its pid file.
	done    chan struct{}
	exitErr error
}

// StartProcess launches spec with its output appended to its log file, then
// records it in its pid file. The log file is handed over as the child's
// stdout and stderr, not copied through a pipe, so a detached process keeps
// logging after this one exits and never holds a caller's pipe (which would
// make `make local-up` wait for it).
func StartProcess(spec ProcessSpec) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(spec.LogFile), 0o755); err != nil {
		return nil, fmt.Errorf("creating the log directory of %s: %w", spec.Name, err)
	}
	out, err := os.OpenFile(spec.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", spec.Name, err)
	}
	defer out.Close() // the child holds its own descriptor

	command := append(slices.Clone(spec.Wrapper), spec.argv()...)
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = spec.ExtraFiles
	cmd.SysProcAttr = sysProcAttr(spec.Detached)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	p := &Process{
		name:    spec.Name,
		pidFile: spec.PidFile,
		spec:    spec,
		rec: record{PID: cmd.Process.Pid, Argv: spec.argv(), Ports: spec.Ports, Host: spec.Host,
			LogFile: spec.LogFile, Tier: spec.Tier, Started: time.Now()},
		done: make(chan struct{}),
	}
	// Reaping in the background lets waits notice an early exit, and keeps a
	// stopped child from lingering as a zombie while this process lives.
	go func() {
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	if spec.PidFile != "" {
		if err := writeRecord(spec.PidFile, p.rec); err != nil {
			_ = signalGroup(p.rec.PID, syscall.SIGKILL)
			<-p.done
			return nil, err
		}
	}
	return p, nil
}

// Name is the spec's name, or the pid file's for a process found through it.
func (p *Process) Name() string { return p.name }

// Pid is the process id.
func (p *Process) Pid() int { return p.rec.PID }

// LogFile is where its output goes.
func (p *Process) LogFile() string { return p.rec.LogFile }

// Ports are the loopback ports it listens on.
func (p *Process) Ports() []int { return slices.Clone(p.rec.Ports) }

// Running reports whether the process is alive. A process found through its
// pid file counts only while its pid runs the recorded command line.
func (p *Process) Running() bool {
	if p.done != nil {
		select {
		case <-p.done:
			return false
		default:
			return true
		}
	}
	return owned(p.rec.PID, p.rec.Argv)
}

// Exited is closed when a process started by this one exits.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ExitErr waits until a process started by this one exits and returns how
// (nil for status 0).
func (p *Process) ExitErr() error {
	<-p.done
	return p.exitErr
}

// ExitedError describes a process that died while it was expected to run,
// quoting the end of its log, where the reason almost always is.
func (p *Process) ExitedError(when string) error {
	reason := "exited"
	if p.exitErr != nil {
		reason = fmt.Sprintf("exited (%v)", p.exitErr)
	}
	return withLogTail(fmt.Errorf("%s %s %s", p.name, reason, when), p.rec.LogFile)
}

// Stop sends SIGTERM to the process's group, SIGKILL after timeout (0 means
// 15s), waits until it is gone and, if it ran, until its ports are closed,
// then removes its pid file. Stopping a process that is gone only removes
// the pid file. A process that needed SIGKILL is reported with ErrKilled
// (the operator's manager must stop on SIGTERM); StopProcesses accepts it.
func (p *Process) Stop(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = defaultStopTimeout
	}
	var killed error
	if p.Running() {
		if err := p.terminate(timeout); errors.Is(err, ErrKilled) {
			killed = err
		} else if err != nil {
			return err
		}
		if err := waitPortsClosed(p.rec.Host, p.rec.Ports, killGrace); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if p.pidFile != "" {
		if err := os.Remove(p.pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return killed
}

func (p *Process) terminate(timeout time.Duration) error {
	if err := signalGroup(p.rec.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping %s (pid %d): %w", p.name, p.rec.PID, err)
	}
	if p.waitExit(timeout) {
		return nil
	}
	if err := signalGroup(p.rec.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s (pid %d): %w", p.name, p.rec.PID, err)
	}
	if p.waitExit(killGrace) {
		return fmt.Errorf("%s (pid %d): %w after %s", p.name, p.rec.PID, ErrKilled, timeout)
	}
	return fmt.Errorf("%s (pid %d) still running %s after SIGKILL", p.name, p.rec.PID, killGrace)
}

// Kill stops a process started by this one at once with SIGKILL, as a crash
// would, and waits until it is gone. Its pid file stays, as after a crash.
func (p *Process) Kill() {
	_ = signalGroup(p.rec.PID, syscall.SIGKILL)
	<-p.done
}

// waitExit reports whether the process exited within timeout.
func (p *Process) waitExit(timeout time.Duration) bool {
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
	for p.Running() || exiting(p.rec.PID) {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// StopProcesses stops every given process, tier by tier (see StopTier), the
// processes of a tier together, and returns once all are gone, whether
// SIGTERM or SIGKILL ended them: an API server that drains its watches for
// longer than the timeout is not an error here.
func StopProcesses(procs []*Process, timeout time.Duration) error {
	byTier := map[StopTier][]*Process{}
	for _, p := range procs {
		byTier[p.rec.Tier] = append(byTier[p.rec.Tier], p)
	}
	var errs []error
	for _, tier := range slices.Sorted(maps.Keys(byTier)) {
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		for _, p := range byTier[tier] {
			wg.Go(func() {
				if err := p.Stop(timeout); err != nil && !errors.Is(err, ErrKilled) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// FindProcesses returns the processes recorded by the pid files (*.pid) in
// dir, in the order they started, whether or not they still run. Only those
// whose pid runs the recorded command line count as Running, so a stale pid
// file whose pid now belongs to something else is never signalled.
func FindProcesses(dir string) ([]*Process, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.pid"))
	if err != nil {
		return nil, err
	}
	var procs []*Process
	for _, f := range files {
		rec, err := readRecord(f)
		if err != nil {
			return nil, err
		}
		procs = append(procs, &Process{name: strings.TrimSuffix(filepath.Base(f), ".pid"), pidFile: f, rec: rec})
	}
	slices.SortStableFunc(procs, func(a, b *Process) int {
		return cmp.Or(a.rec.Started.Compare(b.rec.Started), cmp.Compare(a.name, b.name))
	})
	return procs, nil
}

func writeRecord(path string, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding pid file: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

func readRecord(path string) (record, error) {
	var rec record
	data, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.PID <= 0 || len(rec.Argv) == 0 {
		return record{}, fmt.Errorf("pid file %s holds %q, not a process record", path, strings.TrimSpace(string(data)))
	}
	return rec, nil
}

// signalGroup signals the process's whole group; each supervised process
// leads its own group, so helpers it may spawn go with it. A group that no
// longer exists is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// tailLines is how much of a log an error quotes: enough for a stack trace's
// head or the last few retries, short enough to read in a terminal.
const tailLines = 15

// withLogTail appends the end of a process's log to err.
func withLogTail(err error, logFile string) error {
	if _, statErr := os.Stat(logFile); statErr != nil {
		return fmt.Errorf("%w (no log %s)", err, logFile)
	}
	tail := Tail(logFile, tailLines)
	if tail == "" {
		return fmt.Errorf("%w (log %s is empty)", err, logFile)
	}
	return fmt.Errorf("%w; last lines of %s:\n    %s", err, logFile, strings.ReplaceAll(tail, "\n", "\n    "))
}
