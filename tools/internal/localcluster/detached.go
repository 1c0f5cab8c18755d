package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// State is what Status finds in a state directory.
type State struct {
	StateDir string
	// Server and Kubeconfig are empty when the cluster file is missing, for
	// example after a start that failed before writing it.
	Server     string
	Kubeconfig string
	AuditLog   string
	Processes  []Process
}

// Running reports whether any component runs.
func (s *State) Running() bool {
	for _, p := range s.Processes {
		if p.Running {
			return true
		}
	}
	return false
}

// Status describes the cluster recorded in stateDir, including components
// whose pid file outlived them. It returns ErrNothingRunning when stateDir
// has no pid file at all.
func Status(stateDir string) (*State, error) {
	l, err := stateLayout(stateDir)
	if err != nil {
		return nil, err
	}
	info, err := readClusterFile(l)
	if err != nil {
		return nil, err
	}
	procs, err := discover(l, info.Ports)
	if err != nil {
		return nil, err
	}
	if len(procs) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNothingRunning, l.dir)
	}
	return &State{
		StateDir:   l.dir,
		Server:     info.Server,
		Kubeconfig: info.Kubeconfig,
		AuditLog:   info.AuditLog,
		Processes:  describe(procs),
	}, nil
}

// Down stops the cluster recorded in stateDir, typically one started with
// Options.Detached by another process: SIGTERM to every component, SIGKILL
// after timeout (0 means 15s), then it waits until all are gone and their
// ports are free, and removes the pid files and the kubeconfig. Logs stay for
// post-mortems. It returns the components it stopped, or ErrNothingRunning
// when none ran; stale pid files are removed either way.
func Down(stateDir string, timeout time.Duration) ([]Process, error) {
	l, err := stateLayout(stateDir)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = defaultStopTimeout
	}
	info, err := readClusterFile(l)
	if err != nil {
		return nil, err
	}
	procs, err := discover(l, info.Ports)
	if err != nil {
		return nil, err
	}
	var running []*process
	for _, p := range procs {
		if p.running() {
			running = append(running, p)
		}
	}
	stopped := describe(running)
	if err := teardown(l, procs, timeout); err != nil {
		return stopped, err
	}
	if len(running) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNothingRunning, l.dir)
	}
	return stopped, nil
}

func stateLayout(stateDir string) (layout, error) {
	if stateDir == "" {
		return layout{}, errors.New("no state directory given")
	}
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return layout{}, fmt.Errorf("resolving state directory %q: %w", stateDir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return layout{}, fmt.Errorf("%w in %s (no such directory)", ErrNothingRunning, dir)
		}
		return layout{}, fmt.Errorf("reading state directory: %w", err)
	}
	return layout{dir: dir}, nil
}
