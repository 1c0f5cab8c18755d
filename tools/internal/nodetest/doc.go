// Package nodetest is what the end-to-end tests that start a real node
// share (realnode, olmflow's and sdkflow's real-node tests): the binaries
// `make test` passes them, the start of a cluster with a real node that
// queues on the machine-wide lock, and the proof that the host is as before
// once the node is down (a snapshot of every aspect a node may change,
// taken holding the lock, and the node's leftover processes).
//
// It is imported by tests only. It fails the calling test where a real node
// cannot run (not Linux, not root, a binary missing) instead of skipping:
// the tests exist to prove it runs, and CI runs them as root on Linux. It
// must not start or stop a node itself beyond what testbed offers, nor
// change the host: it only observes it.
package nodetest
