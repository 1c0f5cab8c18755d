//go:build unix

package atomicdir

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// inode identifies path's file or directory (not following a symlink).
func inode(path string) (uint64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode number", path)
	}
	return uint64(st.Ino), nil
}

// lockDirs takes an exclusive flock(2) on each directory, in the order
// given (sorted, so two processes cannot deadlock): a commit and the
// recovery of another process's journal never run at once.
func lockDirs(dirs []string) (unlock func(), err error) {
	var held []*os.File
	unlock = func() {
		for _, f := range held {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
			_ = f.Close()
		}
	}
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			unlock()
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			unlock()
			return nil, errors.Join(fmt.Errorf("locking %s: %w", d, err), f.Close())
		}
		held = append(held, f)
	}
	return unlock, nil
}
