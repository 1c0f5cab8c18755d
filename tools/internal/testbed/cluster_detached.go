package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ClusterState is what ClusterStatus finds in a state directory.
type ClusterState struct {
	StateDir string
	// Server and Kubeconfig are empty when the cluster file is missing, for
	// example after a start that failed before writing it.
	Server     string
	Kubeconfig string
	AuditLog   string
	// Processes are the components and every other process recorded in the
	// state directory, in start order.
	Processes []ProcessInfo
}

// Running reports whether any process runs.
func (s *ClusterState) Running() bool {
	for _, p := range s.Processes {
		if p.Running {
			return true
		}
	}
	return false
}

// ClusterStatus describes the cluster recorded in stateDir, including
// processes whose pid file outlived them. It returns ErrNothingRunning when
// stateDir has no pid file at all.
func ClusterStatus(stateDir string) (*ClusterState, error) {
	l, info, procs, err := recorded(stateDir)
	if err != nil {
		return nil, err
	}
	if len(procs) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNothingRunning, l.dir)
	}
	return &ClusterState{
		StateDir:   l.dir,
		Server:     info.Server,
		Kubeconfig: info.Kubeconfig,
		AuditLog:   info.AuditLog,
		Processes:  describe(procs),
	}, nil
}

// ClusterDown stops the cluster recorded in stateDir, typically one started
// with ClusterOptions.Detached by another process, with every process started
// on it (an operator a demo left running, say): by tiers, SIGTERM, SIGKILL
// after timeout (0 means 15s), then it waits until all are gone and their
// ports are free, and removes the pid files and the kubeconfig. Logs stay
// for post-mortems. It returns the processes it stopped, or
// ErrNothingRunning when none ran; stale pid files are removed either way.
func ClusterDown(stateDir string, timeout time.Duration) ([]ProcessInfo, error) {
	if l, err := stateLayout(stateDir); err == nil && !l.owned() {
		// Nothing of a cluster here: touch nothing (a user's kubeconfig).
		return nil, fmt.Errorf("%w in %s", ErrNothingRunning, l.dir)
	}
	l, _, procs, err := recorded(stateDir)
	if err != nil {
		return nil, err
	}
	var running []*Process
	for _, p := range procs {
		if p.Running() {
			running = append(running, p)
		}
	}
	stopped := describe(running)
	ledger, err := readLedger(l.ledgerFile())
	if err != nil {
		return stopped, err
	}
	if err := teardown(l, procs, timeout, nil); err != nil {
		return stopped, err
	}
	// A dead real node's host changes undone count as something done.
	if len(running) == 0 && ledger == nil {
		return nil, fmt.Errorf("%w in %s", ErrNothingRunning, l.dir)
	}
	return stopped, nil
}

// recorded reads what a state directory records: the cluster file and the
// pid files.
func recorded(stateDir string) (layout, clusterInfo, []*Process, error) {
	l, err := stateLayout(stateDir)
	if err != nil {
		return l, clusterInfo{}, nil, err
	}
	info, err := readClusterFile(l)
	if err != nil {
		return l, info, nil, err
	}
	procs, err := FindProcesses(l.runDir())
	return l, info, procs, err
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
