// Command pause is the sandbox ("infra") container of every pod on the
// local cluster's real node, standing in for registry.k8s.io/pause: it
// holds the pod's namespaces, reaps the zombies of processes that the
// pod's containers orphan into its PID namespace, and exits on SIGTERM or
// SIGINT. The real one is a C program; nothing here can fetch it.
//
// It must not do anything else: no output, no files, no network.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited; one SIGCHLD can stand for
// several.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
