// Package bench measures the operator as it runs for real, as a scenario on
// the testbed: a local cluster with its audit log on, the CRD and the
// operator's RBAC from config/, and the manager binary as a separate process
// under a ServiceAccount of its own, so that the audit log tells its requests
// from everyone else's.
//
// Run is `tools bench`: convergence time of N Memcacheds created at once
// (over one namespace or several, of mixed sizes or one), mutating requests
// per Memcached and during an idle window, the manager's CPU time and its
// memory at start, at convergence and after thousands of unrelated objects
// appear, where the time went (request rates and API latency from the audit
// log, reconcile and queue figures from the manager's metrics), and a sweep
// of --max-concurrent-reconciles and --kube-api-qps. It prints figures; it
// asserts nothing about time.
//
// With a baseline (Config.Baseline: any manager binary of the Memcached API
// that takes controller-runtime's conventional flags, such as the
// tutorial's controller), the same measurements run against it on a fresh
// cluster after ours, and the report puts the two side by side with ratios
// (Comparison). Both are then judged by the NodesNamed criterion, which is
// all such a controller promises; both run under the ServiceAccount and
// roles of config/, which cover what the tutorial's controller does
// (TestOurRoleCoversTheBaseline). One code path measures both: the
// operator under test is a Subject, not a branch.
//
// The building blocks (Env, Tracker, AuditReader, CheckOwnership, ReadMemory)
// are exported for the fault tests in tools/internal/faults, which assert
// outcomes on the same harness.
//
// It must not start processes or declare the operator's names itself (the
// testbed supervises every process and declares the Memcached API, the
// namespace and the labels once), nor turn a figure into a pass or a fail.
package bench
