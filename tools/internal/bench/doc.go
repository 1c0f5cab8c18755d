// Package bench measures the operator as it runs for real: a local cluster
// (localcluster) with its audit log on, the CRD and the operator's RBAC from
// config/, and the manager binary as a separate process (operatorprocess)
// under a ServiceAccount of its own, so that the audit log tells its requests
// from everyone else's.
//
// Run is `tools bench`: convergence time of N Memcacheds created at once,
// mutating requests per Memcached and during an idle window, the manager's
// memory before and after thousands of unrelated objects appear, and a sweep
// of --max-concurrent-reconciles and --kube-api-qps. It prints figures; it
// asserts nothing about time.
//
// The building blocks (Env, Tracker, AuditReader, CheckOwnership, ReadMemory)
// are exported for the fault tests in tools/internal/faults, which assert
// outcomes on the same harness.
package bench
