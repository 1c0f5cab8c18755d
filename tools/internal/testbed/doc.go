// Package testbed is where the operator's demos, end-to-end tests, fault
// tests and benchmarks run: a real, throwaway Kubernetes control plane on the
// loopback interface, and everything the scenarios (walkthrough, demo,
// olmflow, bench, faults) start on it.
//
//   - One process supervisor (StartProcess, Process, StopProcesses,
//     FindProcesses) runs every process: log file, log tail in errors,
//     process group, SIGTERM then SIGKILL, ports proven closed after stop,
//     pid files for detached runs, and leftovers of an earlier run found
//     through them. A recorded pid is signalled only while it runs the
//     recorded command line, never found by name. A spec can carry extra
//     environment, a working directory and a wrapper command (unshare, sh)
//     that execs the process in the same pid.
//   - The local cluster (StartCluster): etcd, kube-apiserver,
//     kube-controller-manager, kube-scheduler from `make k8s-binaries`, and
//     kwok, which plays the kubelet for fake Nodes so that Pods get scheduled,
//     become Running and receive IPs without a container runtime. Every
//     further process (OLM's operators, the operator's manager) joins it
//     through Cluster.StartProcess: its files go to the state directory and
//     the cluster's Stop, or ClusterDown, stops it in its tier.
//   - Identities (Cluster.Identity): ServiceAccount-token kubeconfigs, so a
//     process runs with the RBAC a Deployment would give it.
//   - Typed clients: a controller-runtime client whose Scheme knows OLM v0's
//     kinds from operator-framework/api, and MemcachedClient with the few
//     Memcached fields the scenarios use, declared once with the names
//     config/ installs (namespace, ServiceAccount, labels).
//   - OLM v0 (Cluster.StartOLM) and the operator's manager
//     (Cluster.StartOperator, BuildOperator, BuildReleasedOperator).
//   - A real node (ClusterOptions.RealNode; Linux and root): a kubelet
//     with containerd, runc and the CNI bridge plugin on a bridge of its
//     own (198.18.0.1/16; the API server binds there), kube-proxy in
//     nftables mode, CoreDNS, and a loopback OCI registry (Registry,
//     `tools registry serve`) that containerd's mirror configuration sends
//     every pull of quay.io, docker.io, registry.k8s.io, ... to, so that
//     unmodified image references run images built here (ProgramImage,
//     the pause image). kwok's nodes are then tainted (KwokTaint). Its
//     daemons run in a cgroup of their own; a machine-wide lock allows one
//     real node at a time. Before the first change to the host it records
//     a ledger (sysctls, iptables and nftables, links, cgroups, host
//     directories) in the state directory; teardown, or `tools local down`
//     after a crash, puts the host back from it.
//   - The real node's images (NodeImages): the operator and bundle images
//     of every release and of the version under development, the catalog
//     image, and stand-ins for the upstream images the manifests, OLM and
//     operator-sdk name (memcached from Debian's package, the exporter, opm,
//     OLM's util image, scorecard's images, UBI), declared once, built with
//     package images for the host's platform and cached as OCI layouts by
//     the stamps of their inputs. Pushing them is the registry's job.
//
// It exists so that the scenarios talk to a genuine API server (RBAC
// enforced, garbage collection, ReplicaSets, an audit log to count requests
// from) while staying cheap enough to start in seconds without Docker.
//
// Two modes share one state-directory layout:
//
//   - StartCluster with ClusterOptions.Detached unset is for Go tests: the
//     processes are children of the calling process, die with it even if it
//     panics (on Linux), and Cluster.Stop tears them down.
//   - With Detached set it is for `tools local up` and `make demo KEEP=1`:
//     the processes run in their own sessions and outlive the caller;
//     ClusterStatus and ClusterDown find them again through the pid files.
//
// Every process listens on 127.0.0.1 only, on ports picked at start, so
// several clusters (parallel test packages) can run side by side; a real
// node adds its bridge address. kwok's fake Pods and Nodes take addresses
// in 198.18.128.0/17, real pods 198.18.0.0/17 and Services 198.19.0.0/16.
//
// It must not: import the operator module (it reads config/ and runs the
// manager binary); signal a process it cannot prove is its own (a recorded
// pid running its recorded command line, or a member of the node's own
// cgroup); touch the host outside its state directory and loopback ports,
// except for a real node's changes, each recorded in its ledger first and
// undone at teardown; send anything to an address outside 127.0.0.0/8 and
// 198.18.0.0/15, or let any process of it query the host's DNS server;
// assert anything (scenarios and tests do); or hold scenario steps, which
// live in the scenario packages. The package targets Linux, and builds on
// macOS (without a real node).
package testbed
