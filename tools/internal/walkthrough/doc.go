// Package walkthrough runs the tutorial's walk-through against a cluster
// where the operator already runs: apply the sample Memcached (size 3), see
// the Deployment reach 3/3 and status.nodes name the pods, patch size to 5,
// then delete the Memcached and see everything it owned go.
//
// Each step runs the kubectl command the tutorial shows and prints its real
// output; the waits in between read the cluster with a client, so the
// walk-through checks what it shows. `make demo` and the e2e test share it.
package walkthrough
