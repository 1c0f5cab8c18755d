// Package demo is `make demo`: it starts the local cluster, installs the CRD,
// runs the operator binary as a process and performs the tutorial's
// walk-through against it, then stops everything (or, with Keep, leaves the
// cluster and the operator running for the user).
package demo
