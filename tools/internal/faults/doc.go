// Package faults holds the operator's fault-tolerance and security tests
// (build tag e2e), a scenario on the testbed and bench's harness: the
// manager binary runs as a process on a local cluster (RBAC enforced, audit
// log on) while it is SIGKILLed mid-rollout, while the API server restarts
// under it, while a second replica takes over leadership from a frozen one,
// while someone edits its Deployments by hand, while the monitoring APIs
// appear, while users send malformed Memcacheds, and while it idles after a
// rollout; and with its metrics endpoint secured and its RBAC confined to
// its namespaces (config/namespaced). The tests assert outcomes
// (convergence, ownership, who wrote what and what was refused according to
// the audit log, who may scrape), never timings; their waits are generous so
// that a loaded CI machine only makes them slower.
//
//	go test -tags e2e ./tools/internal/faults/...
//
// FAULTS_SEED fixes the random kill schedule; FAULTS_KEEP=1 keeps the work
// directory (operator logs, audit log) after a successful run too. It holds
// tests only: helpers that other packages need belong in the testbed or bench.
package faults
