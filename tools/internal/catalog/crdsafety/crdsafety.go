// Package crdsafety checks that upgrading from one release of an operator to
// a later one cannot break the custom resources that already exist, from the
// CRDs and alm-examples embedded in each release's bundle:
//
//   - a CRD of the older release is still in the newer one, with the same scope;
//   - every version that was ever a storage version (what status.storedVersions
//     holds on an upgraded cluster) is still in the newer CRD's spec.versions —
//     the API server rejects the CRD update otherwise;
//   - every version the older CRD serves is still served;
//   - no field becomes required (without a default) inside an object that
//     existed before;
//   - no field that an older alm-examples custom resource sets is gone from the
//     newer schema (the API server would prune it: silent data loss);
//   - every alm-examples custom resource of every older release still validates
//     against the newer CRD, after the pruning and defaulting the API server
//     applies to stored objects: validated with k8s.io/apiextensions-apiserver's
//     own schema validator (and CEL rules), so tightened enums, minimums,
//     maximums, patterns, lengths or formats are caught the way OLM's
//     "error validating existing CRs against new CRD's schema" catches them.
//
// Every problem is reported, with the newer bundle and the CRD field.
package crdsafety

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/problem"
)

// Release is one released bundle: its name, version and manifests.
type Release struct {
	Bundle  string
	Version semver.Version
	Objects []*unstructured.Unstructured
}

// Edge is an upgrade from one bundle to another (bundle names).
type Edge struct {
	From, To string
}

// Check checks every upgrade between consecutive releases (in version order)
// and along every edge; edges that go to an older version are ignored (the
// graph checks report them). pkg is used to locate problems.
func Check(pkg string, releases []Release, edges []Edge) problem.List {
	c := &checker{pkg: pkg, schemas: map[string]*versionSchema{}, results: map[string]field.ErrorList{}, reported: map[string]bool{}}
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

type versionSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaCreateValidator
	cel        *cel.Validator
}

type checker struct {
	pkg      string
	releases []*release
	byName   map[string]int
	schemas  map[string]*versionSchema  // by CRD name/version/schema hash
	results  map[string]field.ErrorList // by example key + schema key
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

func (c *checker) examples(bundle string, csv *unstructured.Unstructured) []*example {
	raw := csv.GetAnnotations()["alm-examples"]
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	var items []any
	if err := utiljson.Unmarshal([]byte(raw), &items); err != nil {
		c.problems.Addf(c.at(bundle, "metadata.annotations.alm-examples"), "not a JSON array of objects: %v", err)
		return nil
	}
	var out []*example
	for i, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			c.problems.Addf(c.at(bundle, fmt.Sprintf("metadata.annotations.alm-examples[%d]", i)), "not an object")
			continue
		}
		u := unstructured.Unstructured{Object: obj}
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil || u.GetKind() == "" {
			c.problems.Addf(c.at(bundle, fmt.Sprintf("metadata.annotations.alm-examples[%d]", i)), "apiVersion %q and kind %q do not name a resource", u.GetAPIVersion(), u.GetKind())
			continue
		}
		canonical, _ := json.Marshal(obj)
		out = append(out, &example{bundle: bundle, gvk: gv.WithKind(u.GetKind()), name: u.GetName(), obj: obj, key: hash(canonical)})
	}
	return out
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:12])
}

func (c *checker) run(edges []Edge) {
	if len(c.releases) == 0 {
		return
	}
	// storage versions ever used by releases up to index i, by CRD name.
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
			for v := range set {
				stored[i][name] = append(stored[i][name], v)
			}
			sort.Strings(stored[i][name])
		}
	}

	type pair struct{ from, to int }
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

	// newRequired[to] holds "CRD/version/path" of required fields reported by
	// the explicit check, so the example check does not report them again.
	newRequired := make([]map[string]bool, len(c.releases))
	for i := range newRequired {
		newRequired[i] = map[string]bool{}
	}
	for _, p := range pairs {
		c.checkPair(c.releases[p.from], c.releases[p.to], stored[p.from], newRequired[p.to])
	}

	// Every alm-example of every older release against each newer release.
	var older []*example
	seenExample := map[string]bool{}
	for i, r := range c.releases {
		if i > 0 {
			c.checkExamples(r, older, newRequired[i])
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

func (c *checker) checkPair(old, cur *release, stored map[string][]string, newRequired map[string]bool) {
	for _, name := range sortedKeys(old.crds) {
		oc := old.crds[name].obj
		nd, ok := cur.crds[name]
		field := "CRD " + name
		if !ok {
			c.problems.Addf(c.at(cur.Bundle, field), "the CRD is gone (%s ships it): its custom resources would be left without an owner", old.Bundle)
			continue
		}
		nc := nd.obj
		if oc.Spec.Scope != nc.Spec.Scope {
			c.problems.Addf(c.at(cur.Bundle, field+" spec.scope"), "changed from %s (%s) to %s: the scope of a CRD cannot change", oc.Spec.Scope, old.Bundle, nc.Spec.Scope)
		}
		newVersions := map[string]*apiextensionsv1.CustomResourceDefinitionVersion{}
		for i := range nc.Spec.Versions {
			newVersions[nc.Spec.Versions[i].Name] = &nc.Spec.Versions[i]
		}
		dropped := map[string]bool{}
		for _, sv := range stored[name] {
			if _, ok := newVersions[sv]; !ok {
				dropped[sv] = true
				c.problems.Addf(c.at(cur.Bundle, field+" spec.versions"),
					"stored version %s was dropped: clusters upgraded from %s list it in the CRD's status.storedVersions, and the API server rejects a CRD that drops a stored version (keep it, unserved, until the stored objects are migrated)", sv, old.Bundle)
			}
		}
		if old.crds[name].hash == nd.hash {
			continue // same spec: nothing else can differ
		}
		for _, ov := range oc.Spec.Versions {
			nv, ok := newVersions[ov.Name]
			switch {
			case !ok && ov.Served && !dropped[ov.Name]:
				c.problems.Addf(c.at(cur.Bundle, field+" spec.versions"), "served version %s was dropped: clients of %s that use it break", ov.Name, old.Bundle)
			case ok && ov.Served && !nv.Served:
				c.problems.Addf(c.at(cur.Bundle, fmt.Sprintf("%s spec.versions[%s].served", field, ov.Name)), "version %s is no longer served: clients of %s that use it break", ov.Name, old.Bundle)
			}
			if ok && ov.Schema != nil && nv.Schema != nil && ov.Schema.OpenAPIV3Schema != nil && nv.Schema.OpenAPIV3Schema != nil {
				requiredDiff(nil, ov.Schema.OpenAPIV3Schema, nv.Schema.OpenAPIV3Schema, func(path string) {
					key := name + "/" + ov.Name + "/" + path
					if newRequired[key] {
						return
					}
					newRequired[key] = true
					c.problems.Addf(c.at(cur.Bundle, fmt.Sprintf("%s %s %s", field, ov.Name, path)),
						"new required field without a default: %s objects created with %s may lack it, and every update of them would fail validation", oc.Spec.Names.Kind, old.Bundle)
				})
			}
		}
	}
}

// requiredDiff calls report with the path of every field that cur requires,
// old does not, and cur gives no default, inside every object that exists in
// both schemas.
func requiredDiff(path []string, old, cur *apiextensionsv1.JSONSchemaProps, report func(string)) {
	oldReq := map[string]bool{}
	for _, r := range old.Required {
		oldReq[r] = true
	}
	reqs := slices.Clone(cur.Required)
	sort.Strings(reqs)
	for _, r := range reqs {
		if oldReq[r] {
			continue
		}
		if p, ok := cur.Properties[r]; ok && p.Default != nil {
			continue
		}
		report(strings.Join(append(slices.Clone(path), r), "."))
	}
	for _, name := range sortedKeys(cur.Properties) {
		op, ok := old.Properties[name]
		if !ok {
			continue
		}
		np := cur.Properties[name]
		requiredDiff(append(slices.Clone(path), name), &op, &np, report)
	}
	if old.Items != nil && cur.Items != nil && old.Items.Schema != nil && cur.Items.Schema != nil {
		requiredDiff(appendIndex(path), old.Items.Schema, cur.Items.Schema, report)
	}
	if old.AdditionalProperties != nil && cur.AdditionalProperties != nil && old.AdditionalProperties.Schema != nil && cur.AdditionalProperties.Schema != nil {
		requiredDiff(appendIndex(path), old.AdditionalProperties.Schema, cur.AdditionalProperties.Schema, report)
	}
}

func appendIndex(path []string) []string {
	out := slices.Clone(path)
	if len(out) == 0 {
		return []string{"[*]"}
	}
	out[len(out)-1] += "[*]"
	return out
}

func (c *checker) checkExamples(cur *release, older []*example, newRequired map[string]bool) {
	for _, ex := range older {
		crdName, version, errs, ok := c.validateExample(cur, ex)
		if !ok {
			continue // not owned, dropped or unserved: reported by the CRD and version checks
		}
		for _, e := range errs {
			path := errorPath(e)
			if e.Type == field.ErrorTypeRequired && newRequired[crdName+"/"+version+"/"+path] {
				continue
			}
			c.problems.Addf(c.at(cur.Bundle, fmt.Sprintf("CRD %s %s %s", crdName, version, path)),
				"the alm-examples %s %q of %s fails the new schema, and so would existing resources like it: %s", ex.gvk.Kind, ex.name, ex.bundle, e.ErrorBody())
		}
	}
}

// checkOwnExamples reports the examples of r that fail r's own CRD, and
// returns the others: an example that never was valid says nothing about
// the safety of later releases.
func (c *checker) checkOwnExamples(r *release) []*example {
	var valid []*example
	for _, ex := range r.examples {
		crdName, version, errs, ok := c.validateExample(r, ex)
		if ok && len(errs) > 0 {
			for _, e := range errs {
				c.problems.Addf(c.at(r.Bundle, fmt.Sprintf("CRD %s %s %s", crdName, version, errorPath(e))),
					"the bundle's own alm-examples %s %q fails its CRD: %s", ex.gvk.Kind, ex.name, e.ErrorBody())
			}
			continue
		}
		valid = append(valid, ex)
	}
	return valid
}

func errorPath(e *field.Error) string {
	if e.Field == "<nil>" || e.Field == "" {
		return "(root)"
	}
	return e.Field
}

// validateExample validates ex against the schema r's CRDs give its kind and
// version. ok is false when r serves no schema for it.
func (c *checker) validateExample(r *release, ex *example) (crdName, version string, errs field.ErrorList, ok bool) {
	var target *crd
	for _, name := range sortedKeys(r.crds) {
		d := r.crds[name]
		if d.obj.Spec.Group == ex.gvk.Group && d.obj.Spec.Names.Kind == ex.gvk.Kind {
			target = d
			break
		}
	}
	if target == nil {
		return "", "", nil, false
	}
	var v *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range target.obj.Spec.Versions {
		if target.obj.Spec.Versions[i].Name == ex.gvk.Version {
			v = &target.obj.Spec.Versions[i]
		}
	}
	if v == nil || !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		return "", "", nil, false
	}
	vs, skey, err := c.schema(target.obj.Name, v)
	if err != nil {
		if at := r.Bundle + "/" + skey; !c.reported[at] {
			c.reported[at] = true
			c.problems.Addf(c.at(r.Bundle, fmt.Sprintf("CRD %s %s openAPIV3Schema", target.obj.Name, v.Name)), "%v", err)
		}
		return "", "", nil, false
	}
	rkey := ex.key + "/" + skey
	errs, cached := c.results[rkey]
	if !cached {
		errs = vs.validate(ex.obj)
		c.results[rkey] = errs
	}
	return target.obj.Name, v.Name, errs, true
}

func (c *checker) schema(crdName string, v *apiextensionsv1.CustomResourceDefinitionVersion) (*versionSchema, string, error) {
	raw, _ := json.Marshal(v.Schema.OpenAPIV3Schema)
	key := crdName + "/" + v.Name + "/" + hash(raw)
	if vs, ok := c.schemas[key]; ok {
		return vs, key, nil
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, key, fmt.Errorf("cannot convert the schema: %v", err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, key, fmt.Errorf("not a structural schema: %v", err)
	}
	validator, _, err := validation.NewSchemaValidator(internal)
	if err != nil {
		return nil, key, fmt.Errorf("cannot build a validator: %v", err)
	}
	vs := &versionSchema{structural: s, validator: validator, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
	c.schemas[key] = vs
	return vs, key, nil
}

// validate does to a copy of obj what the API server does to a stored object
// of an upgraded CRD — prune unknown fields, apply defaults — and validates it
// as on an update: OpenAPI schema, then x-kubernetes-validations rules.
// A field the schema does not know is an error too: the API server drops it
// (from a stored object when it is read), so a field removed from a newer
// schema is data that existing resources lose on upgrade.
func (vs *versionSchema) validate(obj map[string]any) field.ErrorList {
	o := runtime.DeepCopyJSON(obj)
	pruned := pruning.PruneWithOptions(o, vs.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	var errs field.ErrorList
	for _, path := range pruned {
		errs = append(errs, field.Forbidden(field.NewPath(path), "not in the schema: the API server prunes it, and existing resources that set it lose it"))
	}
	structuraldefaulting.Default(o, vs.structural)
	errs = append(errs, validation.ValidateCustomResource(nil, o, vs.validator)...)
	if vs.cel != nil {
		celErrs, _ := vs.cel.Validate(context.Background(), nil, vs.structural, o, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}
