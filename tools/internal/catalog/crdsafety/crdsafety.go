package crdsafety

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/crdify/pkg/runner"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// Release is one released bundle: its name, version and manifests.
type Release struct {
	Bundle  string
	Version semver.Version
	Objects []*unstructured.Unstructured
	// Deprecation is the bundle's olm.deprecations message, empty when it is
	// not deprecated. On an upgrade from a deprecated bundle, schema changes
	// crdify cannot classify (Unhandled) are accepted: OLM v1 refuses them,
	// and the deprecation message is where the catalog tells admins what to
	// do (see docs/crd-upgrade-safety.md).
	Deprecation string
}

// Edge is an upgrade from one bundle to another (bundle names).
type Edge struct {
	From, To string
}

// Check checks every upgrade between consecutive releases (in version order)
// and along every edge; edges that go to an older version are ignored (the
// graph checks report them). pkg is used to locate problems.
func Check(pkg string, releases []Release, edges []Edge) problem.List {
	c := &checker{pkg: pkg, schemas: map[string]*versionSchema{}, results: map[string]field.ErrorList{},
		reported: map[string]bool{}, verdicts: map[string][]Finding{}}
	r, err := newRunner()
	if err != nil {
		c.problems.Addf(problem.Problem{Package: pkg, Field: "crdify"}, "cannot configure crdify as OLM v1's preflight: %v", err)
		return c.problems
	}
	c.runner = r
	c.load(releases)
	c.run(edges)
	return c.problems
}

type release struct {
	Release
	crds     map[string]*crd // by CRD name
	examples []*example
}

type crd struct {
	obj  *apiextensionsv1.CustomResourceDefinition
	hash string
}

type example struct {
	bundle string // the oldest release that ships it
	gvk    schema.GroupVersionKind
	name   string
	obj    map[string]any
	key    string
}

type checker struct {
	pkg      string
	runner   *runner.Runner
	releases []*release
	byName   map[string]int
	schemas  map[string]*versionSchema  // by CRD name/version/schema hash
	results  map[string]field.ErrorList // by example key + schema key
	verdicts map[string][]Finding       // crdify's, by CRD pair and stored versions
	reported map[string]bool            // schema errors reported, by bundle + schema key
	problems problem.List
}

func (c *checker) at(bundle, field string) problem.Problem {
	return problem.Problem{Package: c.pkg, Bundle: bundle, Field: field}
}

func (c *checker) load(in []Release) {
	sorted := slices.Clone(in)
	slices.SortStableFunc(sorted, func(a, b Release) int { return a.Version.Compare(b.Version) })
	c.byName = map[string]int{}
	for _, r := range sorted {
		rel := &release{Release: r, crds: map[string]*crd{}}
		for _, o := range r.Objects {
			switch {
			case o.GetKind() == "CustomResourceDefinition" && o.GetAPIVersion() == apiextensionsv1.SchemeGroupVersion.String():
				var obj apiextensionsv1.CustomResourceDefinition
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &obj); err != nil {
					c.problems.Addf(c.at(r.Bundle, "CRD "+o.GetName()), "cannot read the CRD: %v", err)
					continue
				}
				raw, _ := json.Marshal(obj.Spec)
				rel.crds[obj.Name] = &crd{obj: &obj, hash: hash(raw)}
			case o.GetKind() == "CustomResourceDefinition":
				c.problems.Addf(c.at(r.Bundle, "CRD "+o.GetName()), "%s CRDs cannot be checked (and are not served since Kubernetes 1.22): use apiextensions.k8s.io/v1", o.GetAPIVersion())
			case o.GetKind() == "ClusterServiceVersion":
				rel.examples = c.examples(r.Bundle, o)
			}
		}
		c.byName[r.Bundle] = len(c.releases)
		c.releases = append(c.releases, rel)
	}
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:12])
}

// storedVersions returns, for each release index, the storage versions of
// each CRD up to and including that release: what status.storedVersions
// holds on a cluster that installed the oldest release of the catalog and
// upgraded along to that one.
func (c *checker) storedVersions() []map[string][]string {
	stored := make([]map[string][]string, len(c.releases))
	acc := map[string]map[string]bool{}
	for i, r := range c.releases {
		for name, d := range r.crds {
			for _, v := range d.obj.Spec.Versions {
				if v.Storage {
					if acc[name] == nil {
						acc[name] = map[string]bool{}
					}
					acc[name][v.Name] = true
				}
			}
		}
		stored[i] = map[string][]string{}
		for name, set := range acc {
			stored[i][name] = sortedKeys(set)
		}
	}
	return stored
}

type pair struct{ from, to int }

// pairs are the upgrades to check, by target then source: consecutive
// releases and every edge to a newer release.
func (c *checker) pairs(edges []Edge) []pair {
	seen := map[pair]bool{}
	var pairs []pair
	add := func(p pair) {
		if p.from < p.to && !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	for i := 1; i < len(c.releases); i++ {
		add(pair{i - 1, i})
	}
	for _, e := range edges {
		f, fok := c.byName[e.From]
		t, tok := c.byName[e.To]
		if fok && tok {
			add(pair{f, t})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].to != pairs[j].to {
			return pairs[i].to < pairs[j].to
		}
		return pairs[i].from < pairs[j].from
	})
	return pairs
}

func (c *checker) run(edges []Edge) {
	if len(c.releases) == 0 {
		return
	}
	stored := c.storedVersions()
	// flagged[to] holds "CRD/version/path" crdify reported for release to,
	// so that the alm-examples check does not report them again.
	flagged := make([]map[string]bool, len(c.releases))
	for i := range flagged {
		flagged[i] = map[string]bool{}
	}
	pairs := c.pairs(edges)
	for start := 0; start < len(pairs); {
		end := start
		for end < len(pairs) && pairs[end].to == pairs[start].to {
			end++
		}
		c.checkUpgradesTo(pairs[start:end], stored, flagged[pairs[start].to])
		start = end
	}

	// Every alm-example of every older release against each newer release.
	var older []*example
	seenExample := map[string]bool{}
	for i, r := range c.releases {
		if i > 0 {
			c.checkExamples(r, older, flagged[i])
		}
		for _, ex := range c.checkOwnExamples(r) {
			if !seenExample[ex.key] {
				seenExample[ex.key] = true
				older = append(older, ex)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// refusal is what crdify finds at one CRD field on the upgrades to a
// release, and the releases it refuses the upgrade from.
type refusal struct {
	crd, version, path string
	findings           []Finding
	from               []string
}

// checkUpgradesTo checks the upgrades to one release (every pair has the same
// target) and reports each refused CRD field once, naming the releases the
// upgrade is refused from.
func (c *checker) checkUpgradesTo(pairs []pair, stored []map[string][]string, flagged map[string]bool) {
	cur := c.releases[pairs[0].to]
	var refusals []*refusal
	byKey := map[string]*refusal{}
	for _, p := range pairs {
		old := c.releases[p.from]
		for _, name := range sortedKeys(old.crds) {
			nd, ok := cur.crds[name]
			if !ok {
				c.problems.Addf(c.at(cur.Bundle, "CRD "+name), "the CRD is gone (%s ships it): its custom resources would be left without an owner, and an uninstall of the CRD deletes them", old.Bundle)
				continue
			}
			for _, f := range c.verdict(old.crds[name], nd, stored[p.from][name]) {
				if f.Validation == Unhandled && old.Deprecation != "" {
					continue // accepted: the deprecation tells admins what to do
				}
				key := name + "/" + f.Version + "/" + f.Path
				r := byKey[key]
				if r == nil {
					r = &refusal{crd: name, version: f.Version, path: f.Path}
					byKey[key] = r
					refusals = append(refusals, r)
				}
				if !slices.Contains(r.findings, f) {
					r.findings = append(r.findings, f)
				}
				if !slices.Contains(r.from, old.Bundle) {
					r.from = append(r.from, old.Bundle)
				}
			}
		}
	}
	for _, r := range refusals {
		flagged[r.crd+"/"+r.version+"/"+r.path] = true
		c.report(cur, r)
	}
}

// verdict runs crdify (cached: the same CRD pair with the same stored
// versions gives the same findings).
func (c *checker) verdict(old, cur *crd, stored []string) []Finding {
	key := old.hash + "/" + cur.hash + "/" + strings.Join(stored, ",")
	if f, ok := c.verdicts[key]; ok {
		return f
	}
	f := preflight(c.runner, old.obj, cur.obj, stored)
	c.verdicts[key] = f
	return f
}

func (c *checker) report(cur *release, r *refusal) {
	field := strings.Join(slices.DeleteFunc([]string{"CRD " + r.crd, r.version, r.path}, func(s string) bool { return s == "" }), " ")
	from := strings.Join(r.from, ", ")
	what := make([]string, len(r.findings))
	unhandled, stored := true, false
	for i, f := range r.findings {
		what[i] = f.String()
		unhandled = unhandled && f.Validation == Unhandled
		stored = stored || f.Validation == "storedVersionRemoval"
	}
	var advice string
	switch {
	case stored:
		advice = fmt.Sprintf("clusters that run %s store objects in these versions (status.storedVersions), and OLM and the API server refuse a CRD that drops one: keep each in spec.versions with served: false and storage: false (OLM's path to retire a version) until no release that stores it can upgrade to %s", from, cur.Bundle)
	case unhandled:
		advice = fmt.Sprintf("crdify cannot tell whether the change is safe, so OLM v1 (CRD upgrade-safety preflight, Strict by default) refuses the upgrade from %s: leave the change out, or deprecate those releases in olm.deprecations with a message that tells admins how to upgrade", from)
	default:
		advice = fmt.Sprintf("existing resources may break, and OLM v1 (CRD upgrade-safety preflight, Strict by default) refuses the upgrade from %s", from)
	}
	c.problems.Addf(c.at(cur.Bundle, field), "%s: %s", strings.Join(what, "; "), advice)
}
