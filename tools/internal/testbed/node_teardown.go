package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// criCleanupTimeout bounds removing the pods through CRI; what is left
// after it is killed through the node's cgroups.
const criCleanupTimeout = 30 * time.Second

// teardownNode stops a cluster with a real node and puts the host back as
// its ledger recorded it: the clients first (the kubelet among them, so
// that it restarts no pod), then every pod sandbox through containerd,
// then containerd, the registry and the control plane, then the host
// (hostLedger.undo) under the machine-wide lock. The ledger is removed
// only once every change is undone, so a failed teardown can be retried
// with `tools local down`. held is the lock when the caller holds it;
// otherwise teardownNode takes it, and refuses to touch the host while
// another real node holds it.
func teardownNode(l layout, ledger *hostLedger, procs []*Process, timeout time.Duration, held *nodeLock) error {
	var clients, rest []*Process
	containerdRuns := false
	for _, p := range procs {
		if p.rec.Tier == TierClients {
			clients = append(clients, p)
			continue
		}
		rest = append(rest, p)
		containerdRuns = containerdRuns || (p.Name() == Containerd && p.Running())
	}
	if err := StopProcesses(clients, timeout); err != nil {
		return err
	}
	if containerdRuns {
		ctx, cancel := context.WithTimeout(context.Background(), criCleanupTimeout)
		_ = removePodSandboxes(ctx, l.node().containerdSocket()) // the cgroup kill below is the fallback
		cancel()
	}
	if err := StopProcesses(rest, timeout); err != nil {
		return err
	}
	lock := held
	if lock == nil {
		var err error
		if lock, err = lockForTeardown(l, timeout); err != nil || lock == nil {
			return err
		}
	}
	stateDir, err := filepath.EvalSymlinks(l.dir)
	if err != nil {
		stateDir = l.dir
	}
	err = ledger.undo(stateDir)
	if err == nil {
		err = os.Remove(l.ledgerFile())
	}
	if held == nil {
		err = errors.Join(err, lock.done(err == nil, l.dir))
	}
	if err != nil {
		return fmt.Errorf("putting the host back after the real node (the ledger %s stays for `tools local down`): %w", l.ledgerFile(), err)
	}
	return nil
}

// lockFiles are the descriptors every process of a cluster with a real
// node inherits: the machine-wide lock.
func (c *Cluster) lockFiles() []*os.File {
	if c.node == nil || c.node.lock == nil {
		return nil
	}
	return []*os.File{c.node.lock.file}
}

// unlock releases the machine-wide lock after a teardown: the lock file is
// removed when no ledger remains, and otherwise keeps naming this state
// directory for the next start to clean up.
func (n *realNode) unlock(l layout) error {
	if n.lock == nil {
		return nil
	}
	_, err := os.Stat(l.ledgerFile())
	lock := n.lock
	n.lock = nil
	return lock.done(errors.Is(err, os.ErrNotExist), l.dir)
}

// releaseNode undoes what a failed prepare changed on the host, if its
// ledger was recorded, and releases the lock.
func (c *Cluster) releaseNode() error {
	if c.node == nil || c.node.lock == nil {
		return nil
	}
	var err error
	if c.node.recorded {
		var ledger *hostLedger
		if ledger, err = readLedger(c.layout.ledgerFile()); err == nil && ledger != nil {
			err = teardownNode(c.layout, ledger, nil, c.opts.StopTimeout, c.node.lock)
		}
	}
	return errors.Join(err, c.node.unlock(c.layout))
}

// lockForTeardown takes the machine-wide lock to put the host back after
// l's node, waiting up to timeout. It returns nil and no error when l's
// ledger is gone meanwhile: the processes of a crashed run are dead, so the
// lock was free, and the next node to start (or a test's snapshot) may
// have cleaned the run up first (cleanDeadRun); there is nothing left to
// undo then.
func lockForTeardown(l layout, timeout time.Duration) (*nodeLock, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if _, err := os.Stat(l.ledgerFile()); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		lock, held, err := tryNodeLock()
		if err != nil {
			return nil, fmt.Errorf("not putting the host back: %w", err)
		}
		if lock != nil {
			if _, err := os.Stat(l.ledgerFile()); errors.Is(err, os.ErrNotExist) {
				return nil, lock.done(false, l.dir)
			}
			return lock, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("not putting the host back: waiting for the real node of %s to stop: %w", held, context.Cause(ctx))
		case <-time.After(250 * time.Millisecond):
		}
	}
}
