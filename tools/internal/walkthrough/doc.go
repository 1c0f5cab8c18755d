// Package walkthrough runs the tutorial's walk-through against a cluster
// where the operator already runs: apply the sample Memcached (size 3), see
// the Deployment reach 3/3 and status.nodes name the pods, patch size to 5,
// then delete the Memcached and see everything it owned go. Where the pods
// really run (a real node; Config.SetGet), memcached in one of them stores
// and returns a value through a port-forward before the delete.
//
// Each step runs the kubectl command the tutorial shows (Kubectl, which
// `make demo` uses for its own steps too) and prints its real output; the
// waits in between read the cluster with the testbed's clients, so the
// walk-through checks what it shows. `make demo` and the e2e test share it.
//
// It must not start the cluster or the operator: it only drives and reads a
// cluster it is given.
package walkthrough
