package operatorprocess

import "syscall"

// sysProcAttr ties a non-detached manager to its parent's life: if the
// parent (a test) dies, so does the manager, and nothing is left running.
func sysProcAttr(detached bool) *syscall.SysProcAttr {
	if detached {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
