package localcluster

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts each component in a process group of its own, so stopping
// it reaches everything it spawned and a Ctrl-C aimed at the caller's
// terminal does not race with an orderly stop.
//
// Attached components get SIGKILL when the thread that started them exits,
// which in practice means when the calling process exits, even through a
// panic that skips every deferred Stop. (The Go runtime retires a thread only
// when a goroutine locked to it with runtime.LockOSThread exits, so Start must
// not be called from such a goroutine.)
//
// Detached components start a new session instead: they have no controlling
// terminal, so closing the shell that ran `tools local up` does not hang them
// up, and nothing ties their life to the CLI's.
func sysProcAttr(detached bool) *syscall.SysProcAttr {
	if detached {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// owned reports whether pid is a live (not zombie) component of this state
// directory. A pid file can outlive its process (a crash, a reboot) and the
// pid be reused by anything else, which must never be signalled.
func owned(pid int, component, stateDir string) bool {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(proc, "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name, which is parenthesised and may
	// itself contain parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		return false
	}
	return cmdlineMatches(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), component, stateDir)
}
