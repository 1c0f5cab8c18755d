// Package cli holds the commands of the tools binary. Each command is thin:
// it parses flags and calls one of the packages beside this one, so the same
// work is reachable from Go tests without a shell.
//
// It must not hold the work itself (rendering, validation, releases, the
// testbed): a command that grows logic of its own belongs in the package it
// calls.
package cli
