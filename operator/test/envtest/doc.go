// Package envtest holds the operator's integration tests against a real
// kube-apiserver and etcd (controller-runtime's envtest). The package itself
// is empty: everything lives in its _test.go files.
//
// The tests start the API server once (TestMain), install the Memcached CRD
// from config/crd/bases and, per test, a namespace of their own and a
// controller-runtime manager wired like cmd/main.go: the same cache options
// (namespace-restricted, Deployments, Pods, Services, PodDisruptionBudgets
// and, where served, ServiceMonitors and PrometheusRules selected by the
// managed-by label), the same MemcachedReconciler and SetupWithManager,
// metrics and health probes off, no leader election. The monitoring test
// installs minimal ServiceMonitor and PrometheusRule CRDs itself, and
// removes them when it ends.
//
// envtest runs no kube-controller-manager: no ReplicaSet or pod is ever
// created for a Deployment and no garbage collection runs. Tests that need
// pods create them from the Deployment's pod template and set their status
// through the status subresource; tests that need a ready Deployment write
// its status subresource themselves; ownership is checked through owner
// references instead of garbage collection.
//
// The binaries are found through KUBEBUILDER_ASSETS; when it is unset the
// tests use the repository's bin/k8s, built by `make k8s-binaries`:
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s go test -count=1 ./operator/test/envtest/...
//
// TEST_ASSET_KUBE_APISERVER and TEST_ASSET_ETCD name single binaries over
// it, as envtest reads them, so that an older kube-apiserver runs with this
// repository's etcd; the suite prints the server's version and passes on
// 1.25 (docs/compatibility.md names the assertions that ask for it). The
// extraArgs tests also run Debian's memcached, unpacked into bin/debs by
// `make debs` ($MEMCACHED_BIN overrides it).
//
// MEMCACHED_ENVTEST_LOG=1 sends the managers' logs to stderr.
package envtest
