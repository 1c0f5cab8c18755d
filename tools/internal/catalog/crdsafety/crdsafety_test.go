package crdsafety

import (
	"strings"
	"testing"

	"github.com/blang/semver/v4"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/problem"
)

func rel(t *testing.T, version string, edits ...fixture.Edit) Release {
	t.Helper()
	b, err := fixture.Build(version, edits...)
	if err != nil {
		t.Fatal(err)
	}
	return Release{Bundle: "memcached-operator.v" + version, Version: semver.MustParse(version), Objects: b.Objects()}
}

// expectProblem fails unless exactly one problem is about bundle, has a
// field containing field, and mentions every fragment.
func expectProblem(t *testing.T, problems problem.List, bundle, field string, fragments ...string) {
	t.Helper()
	n := 0
	for _, p := range problems {
		msg := p.Error()
		if p.Bundle != bundle || !strings.Contains(p.Field, field) || !strings.Contains(msg, bundle) {
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

const crdField = "CRD memcacheds.cache.example.com"

func TestSafeUpgrades(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"),
		// A new optional field, a looser maximum, a new required field with a
		// default, a new served version: all safe.
		rel(t, "0.1.1", fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose"}}
			props["size"].(map[string]any)["maximum"] = int64(5000)
			props["port"] = map[string]any{"type": "integer", "default": int64(11211)}
			spec["required"] = []any{"size", "port"}
		})),
		rel(t, "0.2.0", func(b *fixture.Bundle) {
			v1 := b.CRDVersion(0)
			v1beta1 := b.CRDVersion(0)
			v1beta1["name"] = "v1beta1"
			v1beta1["storage"] = false
			b.SetCRDVersions(v1, v1beta1)
		}),
	}
	if p := Check("memcached-operator", releases, nil); len(p) > 0 {
		t.Errorf("safe upgrades reported: %v", p.Err("crd"))
	}
}

func TestDroppedStoredVersion(t *testing.T) {
	// 0.1.0 stores v1alpha1; 0.1.1 stores v1 and keeps v1alpha1 unserved;
	// 0.2.0 drops v1alpha1, which upgraded clusters still list in
	// status.storedVersions.
	v1alpha1 := func(b *fixture.Bundle) {
		v := b.CRDVersion(0)
		v["name"] = "v1alpha1"
		b.SetCRDVersions(v)
		b.CSV.SetAnnotations(map[string]string{"alm-examples": `[{"apiVersion":"cache.example.com/v1alpha1","kind":"Memcached","metadata":{"name":"old"},"spec":{"size":1}}]`})
	}
	both := func(b *fixture.Bundle) {
		v1 := b.CRDVersion(0)
		old := b.CRDVersion(0)
		old["name"], old["storage"], old["served"] = "v1alpha1", false, false
		b.SetCRDVersions(v1, old)
	}
	releases := []Release{rel(t, "0.1.0", v1alpha1), rel(t, "0.1.1", both), rel(t, "0.2.0")}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" spec.versions", "stored version v1alpha1 was dropped", "memcached-operator.v0.1.1")
	// 0.1.1 stopped serving v1alpha1, which 0.1.0 served.
	expectProblem(t, p, "memcached-operator.v0.1.1", crdField+" spec.versions[v1alpha1].served", "no longer served")
	if len(p) != 2 {
		t.Errorf("want 2 problems, got %v", p.Err("crd"))
	}
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
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.replicasPerZone", "new required field", "memcached-operator.v0.1.0")
	// The old alm-example lacks the field too, but that is the same problem:
	// reported once.
	if len(p) != 1 {
		t.Errorf("want 1 problem, got %v", p.Err("crd"))
	}
}

func TestTightenedMinimumFailsOlderExample(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"), // example: size 3
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["size"].(map[string]any)["minimum"] = int64(5)
		}), fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"five"},"spec":{"size":5}}]`)),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.size", `alm-examples Memcached "memcached-sample" of memcached-operator.v0.1.0`, "greater than or equal to 5")
}

func TestAddedPatternFailsOlderExample(t *testing.T) {
	withImage := fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"custom-image"},"spec":{"size":1,"image":"Memcached:Latest"}}]`)
	releases := []Release{
		rel(t, "0.1.0", withImage),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["image"].(map[string]any)["pattern"] = "^[a-z0-9./:@-]+$"
		})),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", `"custom-image" of memcached-operator.v0.1.0`, "should match")
}

func TestNarrowedEnumAndCELRuleFailOlderExamples(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose", "debug"}}
		}), fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"debug"},"spec":{"size":7,"verbosity":"debug"}}]`)),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["verbosity"] = map[string]any{"type": "string", "enum": []any{"quiet", "verbose"}}
			spec["x-kubernetes-validations"] = []any{map[string]any{"rule": "self.size % 2 == 0", "message": "size must be even"}}
		}), fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"even"},"spec":{"size":2,"verbosity":"quiet"}}]`)),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.verbosity", "Unsupported value")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec", "size must be even")
}

func TestExamplesOfEveryOlderRelease(t *testing.T) {
	// 0.1.0's example (size 3) still validates against 0.1.1, whose example
	// is size 8; 0.2.0 lowers the maximum to 4: 0.1.0's example passes and
	// 0.1.1's fails.
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.1.1", fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"big"},"spec":{"size":8}}]`)),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			spec["properties"].(map[string]any)["size"].(map[string]any)["maximum"] = int64(4)
		})),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.size", `"big" of memcached-operator.v0.1.1`, "less than or equal to 4")
	if len(p) != 1 {
		t.Errorf("want 1 problem, got %v", p.Err("crd"))
	}
}

func TestRemovedCRDAndScopeChange(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0"),
		rel(t, "0.1.1", func(b *fixture.Bundle) { b.CRD.Object["spec"].(map[string]any)["scope"] = "Cluster" }),
		rel(t, "0.2.0", func(b *fixture.Bundle) { b.CRD = nil }),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.1.1", crdField+" spec.scope", "Namespaced")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField, "the CRD is gone")
}

func TestEdgesAreChecked(t *testing.T) {
	// 0.1.0 → 0.1.1 → 0.2.0 are each safe, but 0.1.1 makes a field required
	// with a default and 0.2.0 drops the default: the skip edge 0.1.0 → 0.2.0
	// and the consecutive pair 0.1.1 → 0.2.0 both see a new required field
	// without default; reported once per bundle and field.
	required := func(withDefault bool) fixture.Edit {
		return fixture.EditSpecSchema(func(spec map[string]any) {
			p := map[string]any{"type": "integer"}
			if withDefault {
				p["default"] = int64(1)
			}
			spec["properties"].(map[string]any)["threads"] = p
			spec["required"] = []any{"size", "threads"}
		})
	}
	withThreads := fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"threads"},"spec":{"size":3,"threads":4}}]`)
	releases := []Release{rel(t, "0.1.0"), rel(t, "0.1.1", required(true)), rel(t, "0.2.0", required(false), withThreads)}
	p := Check("memcached-operator", releases, []Edge{{From: "memcached-operator.v0.1.0", To: "memcached-operator.v0.2.0"}})
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.threads", "new required field")
}

func TestEveryProblemAtOnce(t *testing.T) {
	releases := []Release{
		rel(t, "0.1.0", fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"a"},"spec":{"size":3,"image":"a-very-long-image-name"}}]`)),
		rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
			props := spec["properties"].(map[string]any)
			props["size"].(map[string]any)["minimum"] = int64(4)
			props["image"].(map[string]any)["maxLength"] = int64(8)
			props["zone"] = map[string]any{"type": "string"}
			spec["required"] = []any{"size", "zone"}
		}), func(b *fixture.Bundle) {
			v := b.CRDVersion(0)
			v["name"] = "v2"
			b.SetCRDVersions(v)
		}),
	}
	p := Check("memcached-operator", releases, nil)
	t.Log(p.Err("crd"))
	// v1 is gone: stored version dropped; nothing else can be compared.
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" spec.versions", "stored version v1 was dropped")

	// Same changes, keeping v1.
	releases[1] = rel(t, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
		props := spec["properties"].(map[string]any)
		props["size"].(map[string]any)["minimum"] = int64(4)
		props["image"].(map[string]any)["maxLength"] = int64(8)
		props["zone"] = map[string]any{"type": "string"}
		spec["required"] = []any{"size", "zone"}
	}), fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"b"},"spec":{"size":4,"zone":"a"}}]`))
	p = Check("memcached-operator", releases, nil)
	t.Log(p.Err("crd"))
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.zone", "new required field")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.size", "greater than or equal to 4")
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.image", "may not be more than 8")
	if len(p) != 3 {
		t.Errorf("want 3 problems, got %d", len(p))
	}
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
	if len(p) != 1 {
		t.Errorf("want 1 problem, got %v", p.Err("crd"))
	}
}

// TestRemovedFieldFailsOlderExample: a field an older example sets and the
// newer schema no longer has would be pruned from existing resources.
func TestRemovedFieldFailsOlderExample(t *testing.T) {
	withVerbosity := fixture.EditSpecSchema(func(spec map[string]any) {
		spec["properties"].(map[string]any)["verbosity"] = map[string]any{"type": "string"}
	})
	releases := []Release{
		rel(t, "0.1.0", withVerbosity, fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"chatty"},"spec":{"size":1,"verbosity":"debug"}}]`)),
		rel(t, "0.2.0"),
	}
	p := Check("memcached-operator", releases, nil)
	expectProblem(t, p, "memcached-operator.v0.2.0", crdField+" v1 spec.verbosity", `"chatty" of memcached-operator.v0.1.0`, "prunes it")
	if len(p) != 1 {
		t.Errorf("want 1 problem, got %v", p.Err("crd"))
	}
}

// TestOwnExampleWithUnknownField: an example that sets a field its own CRD
// does not have is broken (the API server drops the field or refuses it).
func TestOwnExampleWithUnknownField(t *testing.T) {
	p := Check("memcached-operator", []Release{
		rel(t, "0.1.0", fixture.SetExamples(`[{"apiVersion":"cache.example.com/v1","kind":"Memcached","metadata":{"name":"typo"},"spec":{"size":1,"sise":2}}]`)),
	}, nil)
	expectProblem(t, p, "memcached-operator.v0.1.0", crdField+" v1 spec.sise", "own alm-examples", "prunes it")
}
