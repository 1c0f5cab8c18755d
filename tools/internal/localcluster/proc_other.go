//go:build !linux

package localcluster

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts each component in a process group of its own (see the
// Linux variant). Without Pdeathsig, attached components of a test binary
// that crashes are left running; `tools local down --state-dir` finds them
// through their pid files.
func sysProcAttr(detached bool) *syscall.SysProcAttr {
	if detached {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true}
}

// owned reports whether pid is a live component of this state directory,
// asking ps for its command line since there is no /proc.
func owned(pid int, component, stateDir string) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	out, err := exec.Command("ps", "-o", "state=,command=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return false
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 || strings.HasPrefix(fields[0], "Z") {
		return false
	}
	return cmdlineMatches(fields[1:], component, stateDir)
}
