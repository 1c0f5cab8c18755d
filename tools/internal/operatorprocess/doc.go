// Package operatorprocess builds the operator's manager binary and runs it as
// a separate process against a cluster, the way `make run` does, so the demo
// and the end-to-end tests exercise the real binary, its flags and its
// environment rather than a controller wired up inside a test.
package operatorprocess
