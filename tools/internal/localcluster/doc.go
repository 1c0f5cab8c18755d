// Package localcluster runs a real, throwaway Kubernetes control plane on the
// loopback interface: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler from the binaries built by `make k8s-binaries`, plus kwok,
// which plays the kubelet for one or more fake Nodes so that Pods get
// scheduled, become Running and receive IPs without any container runtime.
//
// It exists so that the operator's end-to-end tests and benchmarks talk to a
// genuine API server (RBAC enforced, garbage collection, ReplicaSets, an audit
// log to count requests from) while staying cheap enough to start in a few
// seconds on a laptop or a CI runner without Docker.
//
// Two modes share one state-directory layout:
//
//   - Start with Options.Detached unset is for Go tests: the components are
//     children of the calling process, die with it even if it panics, and
//     Cluster.Stop tears them down.
//   - Start with Options.Detached set is for `tools local up`: the components
//     run in their own sessions and outlive the caller; Status and Down find
//     them again through the pid files in the state directory.
//
// Every component listens on 127.0.0.1 only, on ports picked at start, so
// several clusters (for example parallel test packages) can run side by side.
// The package targets Linux and macOS.
package localcluster
