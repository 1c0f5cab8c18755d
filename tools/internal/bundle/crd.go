package bundle

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// crdVersion is one served version of a CRD of the bundle.
type crdVersion struct {
	src     source
	crd     *apiextensionsv1.CustomResourceDefinition
	version apiextensionsv1.CustomResourceDefinitionVersion
}

func (v crdVersion) gvk() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: v.crd.Spec.Group, Version: v.version.Name, Kind: v.crd.Spec.Names.Kind}
}

// parseCRDs decodes the rendered CRDs and lists their served versions.
func parseCRDs(srcs []source) ([]crdVersion, map[string]bool, problem.List) {
	var ps problem.List
	var out []crdVersion
	clusterScopedCRDs := map[string]bool{}
	for _, src := range srcs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(src.obj.Object, crd); err != nil {
			ps.Errorf(checkGenerate, src.file, "", "%s: %v", src.describe(), err)
			continue
		}
		if crd.Spec.Scope == apiextensionsv1.ClusterScoped {
			clusterScopedCRDs[crd.Spec.Group+"/"+crd.Spec.Names.Plural] = true
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			out = append(out, crdVersion{src: src, crd: crd, version: v})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].crd.Name != out[j].crd.Name {
			return out[i].crd.Name < out[j].crd.Name
		}
		return out[i].version.Name < out[j].version.Name
	})
	return out, clusterScopedCRDs, ps
}

// ownedCRDs completes the base's owned CRD entries from the CRDs: kind and
// descriptions come from the schema unless the base sets them, and every
// top-level spec and status field must have a descriptor, so that the
// console shows all of them and the scorecard's descriptor tests pass for
// any example.
func ownedCRDs(base []v1alpha1.CRDDescription, baseFile string, versions []crdVersion) ([]v1alpha1.CRDDescription, problem.List) {
	var ps problem.List
	const field = "spec.customresourcedefinitions.owned"
	byKey := map[string]int{}
	for i, d := range base {
		key := d.Name + "/" + d.Version
		if _, dup := byKey[key]; dup {
			ps.Errorf(checkGenerate, baseFile, fmt.Sprintf("%s[%d]", field, i), "CRD %s version %s is described twice", d.Name, d.Version)
			continue
		}
		byKey[key] = i
	}
	var out []v1alpha1.CRDDescription
	matched := map[int]bool{}
	for _, v := range versions {
		key := v.crd.Name + "/" + v.version.Name
		i, ok := byKey[key]
		if !ok {
			ps.Errorf(checkGenerate, baseFile, field, "no entry for CRD %s version %s (from %s): add one with displayName, resources, specDescriptors and statusDescriptors", v.crd.Name, v.version.Name, v.src.file)
			continue
		}
		matched[i] = true
		d := base[i]
		at := fmt.Sprintf("%s[%d]", field, i)
		if d.Kind == "" {
			d.Kind = v.crd.Spec.Names.Kind
		} else if d.Kind != v.crd.Spec.Names.Kind {
			ps.Errorf(checkGenerate, baseFile, at+".kind", "%q, but CRD %s defines kind %q", d.Kind, v.crd.Name, v.crd.Spec.Names.Kind)
		}
		var root *apiextensionsv1.JSONSchemaProps
		if v.version.Schema != nil {
			root = v.version.Schema.OpenAPIV3Schema
		}
		if root == nil {
			ps.Errorf(checkGenerate, v.src.file, "spec.versions["+v.version.Name+"].schema.openAPIV3Schema", "CRD %s has no schema: the API would accept anything", v.crd.Name)
			continue
		}
		if d.DisplayName == "" {
			d.DisplayName = d.Kind
		}
		if d.Description == "" {
			d.Description = firstParagraph(root.Description)
		}
		if d.Description == "" {
			ps.Errorf(checkGenerate, baseFile, at+".description", "empty, and the schema of CRD %s has no description either: document the type", v.crd.Name)
		}
		if len(d.Resources) == 0 {
			ps.Errorf(checkGenerate, baseFile, at+".resources", "empty: list the kinds the operator creates for a %s (e.g. Deployment v1, Pod v1)", d.Kind)
		}
		for j, r := range d.Resources {
			if r.Kind == "" || r.Version == "" {
				ps.Errorf(checkGenerate, baseFile, fmt.Sprintf("%s.resources[%d]", at, j), "kind and version are required")
			}
		}
		ps = append(ps, fillDescriptors(baseFile, at+".specDescriptors", "spec", root, specPaths(d.SpecDescriptors), func(j int, desc string) {
			if d.SpecDescriptors[j].Description == "" {
				d.SpecDescriptors[j].Description = desc
			}
		})...)
		ps = append(ps, fillDescriptors(baseFile, at+".statusDescriptors", "status", root, statusPaths(d.StatusDescriptors), func(j int, desc string) {
			if d.StatusDescriptors[j].Description == "" {
				d.StatusDescriptors[j].Description = desc
			}
		})...)
		out = append(out, d)
	}
	for i, d := range base {
		if !matched[i] {
			ps.Errorf(checkGenerate, baseFile, fmt.Sprintf("%s[%d]", field, i), "CRD %s version %s is not in config/crd (or not served)", d.Name, d.Version)
		}
	}
	return out, ps
}

func specPaths(ds []v1alpha1.SpecDescriptor) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Path
	}
	return out
}

func statusPaths(ds []v1alpha1.StatusDescriptor) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Path
	}
	return out
}

// fillDescriptors checks the descriptors of one block (spec or status)
// against the schema: each path must exist, and each top-level field must
// have a descriptor. describe fills a descriptor's description from the
// schema.
func fillDescriptors(file, field, block string, root *apiextensionsv1.JSONSchemaProps, paths []string, describe func(int, string)) problem.List {
	var ps problem.List
	blockSchema, ok := root.Properties[block]
	if !ok {
		if len(paths) > 0 {
			ps.Errorf(checkGenerate, file, field, "the CRD has no %s, so it can have no %s descriptors", block, block)
		}
		return ps
	}
	seen := map[string]bool{}
	for j, p := range paths {
		at := fmt.Sprintf("%s[%d].path", field, j)
		if seen[p] {
			ps.Errorf(checkGenerate, file, at, "%q has two descriptors", p)
			continue
		}
		seen[p] = true
		s, err := schemaAt(&blockSchema, p)
		if err != nil {
			ps.Errorf(checkGenerate, file, at, "%q: %v", p, err)
			continue
		}
		describe(j, firstParagraph(s.Description))
	}
	keys := make([]string, 0, len(blockSchema.Properties))
	for k := range blockSchema.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !seen[k] {
			ps.Errorf(checkGenerate, file, field, "no descriptor for %s.%s: add {path: %s, displayName: ..., x-descriptors: [...]}", block, k, k)
		}
	}
	return ps
}

// schemaAt follows a descriptor path (a.b.c, with [n] for array items)
// through the schema.
func schemaAt(s *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, error) {
	if path == "" {
		return nil, fmt.Errorf("empty path")
	}
	cur := s
	walked := ""
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		next, ok := cur.Properties[name]
		if !ok {
			where := "the schema"
			if walked != "" {
				where = walked
			}
			return nil, fmt.Errorf("%s has no field %q", where, name)
		}
		cur = &next
		walked = strings.TrimPrefix(walked+"."+name, ".")
		for rest != "" {
			if cur.Items == nil || cur.Items.Schema == nil {
				return nil, fmt.Errorf("%s is not an array", walked)
			}
			cur = cur.Items.Schema
			_, rest, _ = strings.Cut(rest, "[")
		}
	}
	return cur, nil
}

// sampleChecker validates examples against the schema of their CRD version,
// as the API server would on create (unknown fields included, as with
// kubectl's strict field validation).
type sampleChecker struct {
	byGVK map[schema.GroupVersionKind]*sampleSchema
}

type sampleSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
}

func newSampleChecker(versions []crdVersion) (*sampleChecker, problem.List) {
	var ps problem.List
	c := &sampleChecker{byGVK: map[schema.GroupVersionKind]*sampleSchema{}}
	for _, v := range versions {
		if v.version.Schema == nil || v.version.Schema.OpenAPIV3Schema == nil {
			continue
		}
		s, err := newSampleSchema(v.version.Schema.OpenAPIV3Schema)
		if err != nil {
			ps.Errorf(checkGenerate, v.src.file, "spec.versions["+v.version.Name+"].schema", "%v", err)
			continue
		}
		c.byGVK[v.gvk()] = s
	}
	return c, ps
}

// newSampleSchema prepares a CRD version's schema for validating objects
// as the API server does.
func newSampleSchema(schema *apiextensionsv1.JSONSchemaProps) (*sampleSchema, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(schema, internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("not a structural schema: %w", err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	return &sampleSchema{structural: s, validator: validator}, nil
}

// check reports every way sample differs from its CRD's schema.
func (c *sampleChecker) check(sample source) problem.List {
	var ps problem.List
	obj := sample.obj
	what := sample.describe()
	s, ok := c.byGVK[obj.GroupVersionKind()]
	if !ok {
		ps.Errorf(checkGenerate, sample.file, "apiVersion", "%s: no CRD of the bundle serves %s", what, obj.GetAPIVersion())
		return ps
	}
	spec, hasSpec := obj.Object["spec"].(map[string]any)
	if !hasSpec || len(spec) == 0 {
		ps.Errorf(checkGenerate, sample.file, "spec", "%s has no spec: an example without spec only suggests a name (scorecard basic-check-spec)", what)
	}
	pruned := runtime.DeepCopyJSON(obj.Object)
	unknown := pruning.PruneWithOptions(pruned, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	sort.Strings(unknown)
	for _, p := range unknown {
		ps.Errorf(checkGenerate, sample.file, p, "%s: unknown field: the CRD's schema has no %s", what, p)
	}
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj.Object, s.validator) {
		ps.Errorf(checkGenerate, sample.file, e.Field, "%s: %s", what, strings.TrimPrefix(e.ErrorBody(), e.Field+": "))
	}
	return ps
}

// almExamples is the alm-examples annotation: the samples as a JSON array,
// sorted by apiVersion, kind and name.
func almExamples(samples []source) (string, error) {
	sorted := append([]source(nil), samples...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].obj, sorted[j].obj
		if a.GetAPIVersion() != b.GetAPIVersion() {
			return a.GetAPIVersion() < b.GetAPIVersion()
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		return a.GetName() < b.GetName()
	})
	examples := make([]map[string]any, 0, len(sorted))
	for _, s := range sorted {
		obj := s.obj.DeepCopy()
		unstructured.RemoveNestedField(obj.Object, "metadata", "namespace")
		examples = append(examples, obj.Object)
	}
	data, err := json.MarshalIndent(examples, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding alm-examples: %w", err)
	}
	return string(data), nil
}

// firstParagraph is the description up to its first blank line, on one
// line: Go doc comments wrap at 80 columns, the console wraps by itself.
func firstParagraph(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}
