// Package realnode holds the end-to-end tests of the local cluster's real
// node (testbed.RealNodeOptions), run with the e2e build tag as root on
// Linux: the host is exactly as before once the node is down (also after a
// crash, and after a start that failed half-way), a pod of an image built
// here runs on the node (logs, exec, port-forward, the API server through
// the `kubernetes` Service, cluster DNS for host processes), and bad input
// (not root, no apt-get) fails in seconds with one line.
//
// TestDeployOnRealNode is what a user runs against a cluster, on the real
// node: `make deploy` (the operator's Deployment, probes, RBAC, restricted
// Pod Security), the tutorial's walk-through (package walkthrough) with
// memcached answering through a port-forward, the exporter's metrics and
// `make undeploy`. TestDemoOnRealNode is `make demo` as root: its pods on
// the real node, memcached answering at the end. Both live here to share
// the host snapshot of the node's own tests.
//
// probe/ is the program those pods run. The package holds no other code:
// the node itself is the testbed's, and scenarios that use it (operator-sdk,
// OLM) live in their own packages.
package realnode
