// Package sdkflow holds the end-to-end tests of the README's operator-sdk
// commands on a real node (build tag e2e, root on Linux): `make run-bundle`,
// `make run-bundle-upgrade`, `make cleanup` and `make scorecard`, run as a
// user runs them, with KUBECONFIG pointing at a local cluster whose real
// node runs OLM's registry and unpack pods, the operator and the scorecard
// tests from the images the project ships, pushed under their upstream
// names to the node's loopback registry.
//
// operator-sdk itself pulls images on the host (the bundle, and the labels
// of its index image quay.io/operator-framework/opm:latest): it pulls them
// through the testbed's HostMirror, unchanged, so the bundle image a test
// names is the one a user names.
//
// The package holds no other code: the cluster, OLM and the images are the
// testbed's, the host checks nodetest's.
package sdkflow
