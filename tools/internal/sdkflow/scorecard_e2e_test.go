//go:build e2e

package sdkflow_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// defaultScorecardTests are the six tests bundle/tests/scorecard/config.yaml
// runs, by the name of their results.
var defaultScorecardTests = []string{
	"basic-check-spec", "olm-bundle-validation", "olm-crds-have-validation",
	"olm-crds-have-resources", "olm-spec-descriptors", "olm-status-descriptors",
}

// testScorecard runs `make scorecard` on bundle/: each default test runs as
// a pod of the scorecard-test image the configuration names, pulled from
// the node's registry, and passes. The untar and storage images are named
// by flags: operator-sdk pins its own by upstream digests.
func (e *sdkEnv) testScorecard(t *testing.T) {
	// The test pods run as the namespace's default ServiceAccount, which
	// the controller manager creates a moment after the namespace.
	nodetest.Poll(t, "the default ServiceAccount", 2*time.Minute, func(ctx context.Context) error {
		return e.kube.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: "default"}, &corev1.ServiceAccount{})
	})
	out, err := e.makeTarget(t, 5*time.Minute, "scorecard",
		"SCORECARD_FLAGS=-o json --untar-image "+testbed.ScorecardUntarImage+" --storage-image "+testbed.ScorecardStorageImage)
	var list v1alpha3.TestList
	if jerr := json.Unmarshal([]byte(out), &list); jerr != nil {
		t.Fatalf("scorecard printed no JSON test list (%v); make: %v", jerr, err)
	}
	got := map[string]v1alpha3.TestResult{}
	for _, item := range list.Items {
		for _, r := range item.Status.Results {
			got[r.Name] = r
		}
	}
	for _, name := range defaultScorecardTests {
		r, ok := got[name]
		switch {
		case !ok:
			t.Errorf("scorecard test %s has no result", name)
		case r.State != v1alpha3.PassState:
			t.Errorf("scorecard test %s: %s: errors %v, suggestions %v", name, r.State, r.Errors, r.Suggestions)
		}
	}
	if len(got) != len(defaultScorecardTests) {
		t.Errorf("scorecard reported %d results, want the %d default tests", len(got), len(defaultScorecardTests))
	}
	if err != nil {
		t.Errorf("scorecard failed although its results were read: %v", err)
	}
}
