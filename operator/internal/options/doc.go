// Package options reads the manager's command line: it defines every flag,
// parses them and checks each value before anything starts, reporting every
// wrong flag at once by name, so that a bad value stops the manager with
// exit status 2 instead of a panic or a silently ignored setting later.
//
// It must not start anything, read the environment or contact a cluster:
// cmd/main.go wires what it returns.
package options
