package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// nodeLockPath is the machine-wide lock of the real node: the bridge, its
// address, the DNS port and the kubelet's hard-coded host paths exist once
// per machine, so only one real node may run at a time, whichever state
// directory and test package it belongs to.
//
// The lock is a flock on the file; the file holds the state directory of
// the node that took it. Every process of that node inherits the locked
// descriptor, so the lock is free exactly when none of them runs. A file
// left behind names a run that died without its teardown: the next start
// (or `tools local down` for that directory) finds its host ledger there.
const nodeLockPath = "/run/memcached-operator-realnode.lock"

// ErrRealNodeBusy is returned when another real node holds the lock.
var ErrRealNodeBusy = errors.New("a real node already runs on this machine")

type nodeLock struct {
	file *os.File
	// previous is the state directory the file named when the lock was
	// taken: a dead run's, or "" after a clean teardown.
	previous string
	// owner is the state directory the file names now.
	owner string
}

// acquireNodeLock takes the lock; with wait it polls until ctx ends (tests
// of different packages queue on it), otherwise it fails at once naming
// the state directory of the node that holds it.
func acquireNodeLock(ctx context.Context, wait bool) (*nodeLock, error) {
	for {
		l, held, err := tryNodeLock()
		if err != nil || l != nil {
			return l, err
		}
		if !wait {
			return nil, fmt.Errorf("%w (state directory %s): stop it first with `make local-down` (or `bin/tools local down --state-dir %s`)", ErrRealNodeBusy, held, held)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the real node of %s to stop: %w", held, context.Cause(ctx))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// tryNodeLock returns the lock, or nil and the holder's state directory.
func tryNodeLock() (*nodeLock, string, error) {
	f, err := os.OpenFile(nodeLockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("opening the real node's lock: %w", err)
	}
	content, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("reading the real node's lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, strings.TrimSpace(string(content)), nil
		}
		return nil, "", fmt.Errorf("locking %s: %w", nodeLockPath, err)
	}
	// The holder removes the file on release; a lock on a file that is no
	// longer at the path locks nothing.
	var open, linked syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &open) != nil || syscall.Stat(nodeLockPath, &linked) != nil || open.Ino != linked.Ino {
		f.Close()
		return tryNodeLock()
	}
	// Read again under the lock: the holder may have written it since.
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		content, _ = io.ReadAll(f)
	}
	prev := strings.TrimSpace(string(content))
	return &nodeLock{file: f, previous: prev, owner: prev}, "", nil
}

// claim records stateDir as the lock's owner.
func (l *nodeLock) claim(stateDir string) error {
	if err := l.file.Truncate(0); err != nil {
		return fmt.Errorf("writing the real node's lock: %w", err)
	}
	if _, err := l.file.WriteAt([]byte(stateDir+"\n"), 0); err != nil {
		return fmt.Errorf("writing the real node's lock: %w", err)
	}
	l.owner = stateDir
	return nil
}

// done unlocks. After a clean teardown of stateDir's node the lock file is
// removed, so that nothing is left on the host; otherwise it stays, naming
// the run that still needs cleaning up.
func (l *nodeLock) done(clean bool, stateDir string) error {
	var err error
	if clean && (l.owner == "" || l.owner == stateDir) {
		if err = os.Remove(nodeLockPath); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	return errors.Join(err, l.file.Close())
}

// LockRealNode takes the machine-wide lock of the real node, waiting until
// ctx ends for a running one to be torn down, and returns its release. It
// is for tests that compare the host with no real node running before and
// after one (a running node of another test package would show as a
// difference).
func LockRealNode(ctx context.Context) (release func() error, err error) {
	l, err := acquireNodeLock(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := cleanDeadRun(l, l.previous, defaultStopTimeout, io.Discard); err != nil {
		return nil, errors.Join(err, l.done(false, ""))
	}
	l.owner = ""
	return func() error { return l.done(true, "") }, nil
}
