//go:build !linux

package testbed

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr is the Linux variant without Pdeathsig, which only Linux has.
func sysProcAttr(detached bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: detached, Setpgid: !detached}
}

// owned reports whether pid is alive and runs the command line argv, asking
// ps since there is no /proc. ps joins the arguments with spaces, so the
// comparison is on the joined line.
func owned(pid int, argv []string) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	out, err := exec.Command("ps", "-ww", "-o", "state=,command=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return false
	}
	state, command, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok || strings.HasPrefix(state, "Z") {
		return false
	}
	return strings.TrimSpace(command) == strings.Join(argv, " ")
}

// exiting is Linux's concern: ps shows an exiting process as a zombie.
func exiting(int) bool { return false }

// unmountDetach is never reached: a real node needs Linux (preflight).
func unmountDetach(path string) error {
	return fmt.Errorf("unmounting %s: a real node needs Linux", path)
}
