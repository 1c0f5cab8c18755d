// Package demo is `make demo`: on the testbed it starts the local cluster,
// installs the CRD, runs the operator binary as a process and performs the
// tutorial's walk-through against it, then stops everything (or, with Keep,
// leaves the cluster and the operator running for the user, for `make
// local-down` to stop). Given a NodeConfig, it runs the pods on a real node
// where the host can run one (Linux, root, the Debian packages), building
// the node and memcached's image first with one line per step, so that
// memcached really answers; elsewhere on kwok's nodes, saying why in one
// line.
//
// It must not start or stop processes other than through the testbed's
// cluster, so that nothing it starts escapes `make local-down`.
package demo
