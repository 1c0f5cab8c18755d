package testbed

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts each process in a process group of its own, so stopping
// it reaches everything it spawned and a Ctrl-C aimed at the caller's
// terminal does not race with an orderly stop.
//
// Attached processes get SIGKILL when the thread that started them exits,
// which in practice means when the calling process exits, even through a
// panic that skips every deferred Stop. (The Go runtime retires a thread only
// when a goroutine locked to it with runtime.LockOSThread exits, so
// StartProcess must not be called from such a goroutine.) Elsewhere than on
// Linux, attached processes of a test binary that crashes are left running;
// `tools local down --state-dir` finds them through their pid files.
//
// Detached processes start a new session instead: they have no controlling
// terminal, so closing the shell that ran `tools local up` does not hang them
// up, and nothing ties their life to the CLI's.
func sysProcAttr(detached bool) *syscall.SysProcAttr {
	if detached {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// owned reports whether pid is alive (not a zombie) and runs exactly the
// command line argv. A pid file can outlive its process (a crash, a reboot)
// and the pid be reused by anything else, which must never be signalled;
// processes are never recognised by name.
func owned(pid int, argv []string) bool {
	cmdline, ok := liveCmdline(pid)
	return ok && slices.Equal(strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"), argv)
}

// liveCmdline returns the command line of pid, unless it does not exist or
// is a zombie.
func liveCmdline(pid int) ([]byte, bool) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(proc, "stat"))
	if err != nil {
		return nil, false
	}
	// The state follows the command name, which is parenthesised and may
	// itself contain parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return nil, false
	}
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	return cmdline, err == nil
}

// exiting reports whether pid is a process in the middle of exiting: the
// kernel empties its command line when it releases its memory, a moment
// before the process turns into a zombie. owned is already false then; a
// stop waits this moment out, so that the process is really gone when Stop
// returns.
func exiting(pid int) bool {
	cmdline, ok := liveCmdline(pid)
	return ok && len(cmdline) == 0
}

// unmountDetach detaches a mount even while it is busy (a process of a
// pod that was killed a moment ago); the kernel finishes when the last
// user lets go.
func unmountDetach(path string) error { return syscall.Unmount(path, syscall.MNT_DETACH) }
