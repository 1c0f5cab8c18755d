// Package faults holds the operator's fault-tolerance tests (build tag e2e):
// the manager binary runs as a process on a local cluster while it is
// SIGKILLed mid-rollout, while the API server restarts under it, while a
// second replica takes over leadership, while someone edits its Deployments by
// hand, and while users send malformed Memcacheds. The tests assert outcomes
// (convergence, ownership, who wrote what according to the audit log), never
// timings; their waits are generous so that a loaded CI machine only makes
// them slower.
//
//	go test -tags e2e ./tools/internal/faults/...
//
// FAULTS_SEED fixes the random kill schedule; FAULTS_KEEP=1 keeps the work
// directory (operator logs, audit log) after a successful run too.
package faults
