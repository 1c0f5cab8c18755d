//go:build e2e

package faults_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

const (
	rolloutCRs = 200
	kills      = 4
	// resized Memcacheds change size while the operator is down.
	resized = 20
)

// TestKilledDuringRollout SIGKILLs the operator at random moments while it
// rolls out 200 Memcacheds, and restarts it each time; some Memcacheds are
// resized while no operator runs. In the end every Memcached converges, each
// has exactly one Deployment (created once, named like it, controlled by it),
// and nothing is orphaned.
func TestKilledDuringRollout(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FAULTS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (rerun with FAULTS_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	ns := newNamespace(t, "kill")
	id := identity(t, testbed.OperatorServiceAccount)
	tr := tracker(t, ns)
	audit := auditFrom(t)

	want := bench.WantFor(rolloutCRs)
	op := startOperator(t, id, ns)
	created := make(chan error, 1)
	go func() { created <- bench.CreateMemcacheds(t.Context(), env.Memcacheds(ns), want) }()

	// A kill lands between 0.1 and 3 s after the operator (re)started: while
	// Memcacheds are still being created, while Deployments are created, and
	// while pods come up and status is written.
	for i := range kills {
		time.Sleep(time.Duration(100+rng.IntN(2900)) * time.Millisecond)
		p := tr.Check(want)
		t.Logf("kill %d: SIGKILL pid %d with %d/%d Memcacheds converged", i+1, op.Pid(), len(p.Converged), rolloutCRs)
		op.Kill()
		if i == 1 {
			if err := <-created; err != nil {
				t.Fatal(err)
			}
			for _, j := range rng.Perm(rolloutCRs)[:resized] {
				name := bench.MemcachedName(j)
				size := bench.SizeFor(j)%3 + 1 // another size in 1..3
				if err := env.Memcacheds(ns).Resize(t.Context(), name, size); err != nil {
					t.Fatal(err)
				}
				want[name] = size
			}
			t.Logf("resized %d Memcacheds while no operator ran", resized)
		}
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		op = startOperator(t, id, ns)
	}
	if kills < 2 {
		if err := <-created; err != nil {
			t.Fatal(err)
		}
	}

	waitConverged(t, tr, want, "after the last restart")
	requireOwnership(t, ns)

	// Each Deployment and Service was created once: a restarted operator
	// found what its predecessor created instead of making it again, and
	// nothing was deleted to be made again. A create cut short by a kill
	// may be committed yet answered 504, so it counts as "maybe".
	creates, maybe := map[string]int{}, map[string]int{}
	for _, e := range auditEvents(t, audit) {
		if !e.Mutating() || e.Namespace() != ns || (e.Resource() != "deployments" && e.Resource() != "services") {
			continue
		}
		key := e.Resource() + "/" + e.ObjectRef.Name
		switch {
		case e.Verb == "delete" || e.Verb == "deletecollection":
			t.Errorf("%s deleted %s", e.User.Username, key)
		case e.Verb != "create":
		case !e.Failed():
			creates[key]++
		case e.ResponseStatus.Code >= 500:
			maybe[key]++
		}
	}
	for name := range want {
		for _, key := range []string{"deployments/" + name, "services/" + name, "services/" + name + "-headless"} {
			if creates[key] > 1 || creates[key]+maybe[key] == 0 {
				t.Errorf("%s was created %d times (%d more maybe), want once", key, creates[key], maybe[key])
			}
		}
	}
	if len(creates) > 3*len(want) {
		t.Errorf("%d Deployments and Services were created for %d Memcacheds", len(creates), len(want))
	}
}
