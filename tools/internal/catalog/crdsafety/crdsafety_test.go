package crdsafety

import (
	"strings"
	"testing"

	"github.com/blang/semver/v4"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

func rel(t *testing.T, version string, edits ...fixture.Edit) Release {
	t.Helper()
	b, err := fixture.Build(version, edits...)
	if err != nil {
		t.Fatal(err)
	}
	return Release{Bundle: "memcached-operator.v" + version, Version: semver.MustParse(version), Objects: b.Objects()}
}

// expectProblem fails unless exactly one problem is about bundle, has the
// field, and mentions every fragment.
func expectProblem(t *testing.T, problems problem.List, bundle, field string, fragments ...string) {
	t.Helper()
	n := 0
	for _, p := range problems {
		msg := p.Error()
		if p.Bundle != bundle || p.Field != field || !strings.Contains(msg, bundle) {
			continue
		}
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(msg, f)
		}
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("want exactly one problem for bundle %q field %q containing %q; got %d in:\n%v", bundle, field, fragments, n, problems.Err("crd"))
	}
}

func expectCount(t *testing.T, p problem.List, n int) {
	t.Helper()
	if len(p) != n {
		t.Errorf("want %d problem(s), got %v", n, p.Err("crd"))
	}
}

const crdField = "CRD memcacheds.cache.example.com"

func TestSafeUpgrades(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"),
		// A new optional field, a looser maximum, another description, a new
		// served version with the same schema: OLM v1 accepts all of them.
		rel(t, "0.1.1", fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose"}}
			props["size"].(map[string]any)["maximum"] = int64(5000)
			props["size"].(map[string]any)["description"] = "How many memcached pods run."
		})),
		// An enum value added: allowed (OLM v1's enum additionPolicy Allow).
		rel(t, "0.1.2", fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose", "debug"}}
			props["size"].(map[string]any)["maximum"] = int64(5000)
		})),
		rel(t, "0.2.0", func(b *fixture.Bundle) {
			v1 := b.CRDVersion(0)
			v1beta1 := b.CRDVersion(0)
			v1beta1["name"] = "v1beta1"
			v1beta1["storage"] = false
			b.SetCRDVersions(v1, v1beta1)
		}, fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose", "debug"}}
			props["size"].(map[string]any)["maximum"] = int64(5000)
		})),
	}
	expectCount(t, Check("memcached-operator", releases, nil), 0)
}

// TestRetireVersionByUnserving is input 1 of issue 13: a release keeps v1
// with served: false and storage: false and adds v2 (served, storage). That
// is OLM's documented first step to retire a version, and must pass; so must
// a later release that still keeps v1.
func TestRetireVersionByUnserving(t *testing.T) {
	releases := []Release{rel(t, "0.1.0"), rel(t, "0.2.0", fixture.RetireV1), rel(t, "0.3.0", fixture.RetireV1)}
	expectCount(t, Check("memcached-operator", releases, nil), 0)
}

func TestDroppedStoredVersion(t *testing.T) {
	// 0.1.0 stores v1; 0.2.0 retires it (kept, unserved); 0.3.0 drops it,
	// though clusters that ran 0.1.0 list it in status.storedVersions.
	dropV1 := func(b *fixture.Bundle) {
		v := b.CRDVersion(0)
		v["name"] = "v2"
		b.SetCRDVersions(v)
		fixture.SetExamples(`[{"apiVersion":"cache.example.com/v2","kind":"Memcached","metadata":{"name":"memcached-sample"},"spec":{"size":3}}]`)(b)
	}
	releases := []Release{rel(t, "0.1.0"), rel(t, "0.2.0", fixture.RetireV1), rel(t, "0.3.0", dropV1)}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.3.0", crdField+" spec.versions", "stored versions removed : [v1]",
		"memcached-operator.v0.2.0", "keep each in spec.versions with served: false and storage: false")
	expectCount(t, p, 1)
}

// TestTypeChange is input 2 of issue 13: spec.image changes from string to
// integer. No alm-example sets it; crdify compares the schemas themselves.
func TestTypeChange(t *testing.T) {
	p := Check("memcached-operator", []Release{rel(t, "0.1.0"), rel(t, "0.2.0", fixture.SetSpecFieldType("image", "integer"))}, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", `type changed : "string" -> "integer"`, "OLM v1", "memcached-operator.v0.1.0")
}

// TestCELRuleAdded: crdify cannot classify an added x-kubernetes-validations
// rule, and OLM v1 refuses it — unless the release upgraded from is
// deprecated (the deprecation message tells admins what to do). The rule is
// still checked against the older examples.
func TestCELRuleAdded(t *testing.T) {
	even := fixture.AddCELRule("self.size % 2 == 0", "size must be even")
	releases := []Release{rel(t, "0.1.0"), rel(t, "0.2.0", even, fixture.SetExamples(`[]`))}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec", "unhandled changes found (x-kubernetes-validations changed)", "deprecate")
	expectCount(t, p, 1)

	releases[0].Deprecation = "0.1.0 is deprecated: see the release notes for the upgrade under OLM v1"
	p = Check("memcached-operator", releases, nil)
	// 0.1.0's example (size 3) fails the rule: reported as data, not as schema.
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec", `alm-examples Memcached "memcached-sample" of memcached-operator.v0.1.0`, "size must be even")
	expectCount(t, p, 1)
}

func TestNewRequiredField(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["replicasPerZone"] = map[string]any{"type": "integer"}
			spec["required"] = []any{"size", "replicasPerZone"}
		}), fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"zoned"},"spec":{"size":3,"replicasPerZone":1}}]`)),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec", "new required fields: [replicasPerZone]", "memcached-operator.v0.1.0")
	// The old alm-example lacks the field too, but that is the same change:
	// reported once.
	expectCount(t, p, 1)
}

func TestTightenedConstraints(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose", "debug"}}
		})),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose"}}
			props["size"].(map[string]any)["minimum"] = int64(5)
			props["image"].(map[string]any)["pattern"] = "^[a-z0-9./:@-]+$"
		}), fixture.SetExamples(`[]`)),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.verbosity", `allowed enum values removed : ["debug"]`)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.size", "minimum increased : 0 -> 5")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", "pattern added")
	// 0.1.0's example (size 3) fails the new minimum: the same field, reported once.
	expectCount(t, p, 3)
}

func TestExamplesOfEveryOlderRelease(t *testing.T) {
	// A format crdify does not classify, from a deprecated release: accepted
	// as a schema change; 0.1.1's example (image "Big Image") fails it, 0.1.0's
	// (no image) does not.
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.1.1", fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"big"},"spec":{"size":8,"image":"Big Image"}}]`)),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["image"].(map[string]any)["x-kubernetes-validations"] = []any{map[string]any{"rule": "!self.contains(' ')", "message": "no spaces"}}
		})),
	}
	releases[0].Deprecation, releases[1].Deprecation = "old", "old"
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", `"big" of memcached-operator.v0.1.1`, "no spaces")
	expectCount(t, p, 1)
}

func TestRemovedCRDAndScopeChange(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.1.1", func(b *fixture.Bundle) { b.CRD.Object["spec"].(map[string]any)["scope"] = "Cluster" }),
		rel(t, "0.2.0", func(b *fixture.Bundle) { b.CRD = nil }),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.1.1", crdField+" spec.scope", `scope changed : "Namespaced" -> "Cluster"`)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField, "the CRD is gone")
}

func TestEdgesAreChecked(t *testing.T) {
	// 0.1.1 drops spec.image's maxLength, 0.2.0 sets a lower one: the
	// consecutive pair sees a new maximum, the skip edge 0.1.0 → 0.2.0 a
	// lower one. One problem for the field, naming both releases.
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.1.1", fixture.EditSpecSchema(func(spec map[string]any) {
			delete(spec["properties"].(map[string]any)["image"].(map[string]any), "maxLength")
		})),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["image"].(map[string]any)["maxLength"] = int64(128)
		})),
	}
	p := Check("memcached-operator", releases, []Edge{{From: "memcached-operator.v0.1.0", To: "memcached-operator.v0.2.0"}})
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", "512 -> 128", "memcached-operator.v0.1.0, memcached-operator.v0.1.1")
	expectCount(t, p, 1)
}

func TestEveryProblemAtOnce(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["size"].(map[string]any)["minimum"] = int64(4)
			props["image"].(map[string]any)["maxLength"] = int64(8)
			props["zone"] = map[string]any{"type": "string"}
			spec["required"] = []any{"size", "zone"}
		}), fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"b"},"spec":{"size":4,"zone":"a","sise":1}}]`)),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec", "new required fields: [zone]")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.size", "minimum increased")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", "512 -> 8")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.sise", "own alm-examples", "prunes it")
	expectCount(t, p, 4)
}

func TestOwnExampleFailingItsCRD(t *testing.T) {
	// 0.1.1's own example is invalid (size above its maximum): reported
	// against 0.1.1, and not held against 0.2.0.
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.1.1", fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"huge"},"spec":{"size":5000}}]`)),
		rel(t, "0.2.0"),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.1.1", crdField+" v1 spec.size", `own alm-examples Memcached "huge" fails its CRD`, "less than or equal to 1000")
	expectCount(t, p, 1)
}

// TestRemovedField: a field removed from the schema is refused by crdify;
// an older example that sets it would lose it (pruned): the same field,
// reported once.
func TestRemovedField(t *testing.T) {
	withVerbosity := fixture.EditSpecSchema(func(spec map[string]any) {
		spec["properties"].(map[string]any)["verbosity"] = map[string]any{"type": "string"}
	})
	releases := []Release{
		rel(t, "0.1.0", withVerbosity, fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"chatty"},"spec":{"size":1,"verbosity":"debug"}}]`)),
		rel(t, "0.2.0"),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.verbosity", "existingFieldRemoval: removed field")
	expectCount(t, p, 1)
}

func TestPreflightSummarizesUnhandledChanges(t *testing.T) {
	raw := "unhandled changes found :\n  &v1.JSONSchemaProps{\n\u00a0 \t... // 41 identical fields\n- \tXValidations: nil,\n+ \tXValidations: v1.ValidationRules{\n+ \tFormat: \"email\",\n"
	if got, want := unhandledSummary(raw), "unhandled changes found (x-kubernetes-validations, format changed)"; got != want {
		t.Errorf("unhandledSummary = %q, want %q", got, want)
	}
}
