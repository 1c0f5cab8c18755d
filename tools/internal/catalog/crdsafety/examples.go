package crdsafety

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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
)

// The check crdify does not make: every alm-examples custom resource of every
// older release must still validate against the newer CRD, after the pruning
// and defaulting the API server applies to stored objects. It stands for the
// existing resources of a cluster, the way OLM v0's "error validating
// existing CRs against new CRD's schema" check sees them.

type versionSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaCreateValidator
	cel        *cel.Validator
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

func (c *checker) checkExamples(cur *release, older []*example, flagged map[string]bool) {
	for _, ex := range older {
		crdName, version, errs, ok := c.validateExample(cur, ex)
		if !ok {
			continue // not owned, dropped or unserved: reported by the CRD and version checks
		}
		for _, e := range errs {
			path := errorPath(e)
			if flaggedPath(flagged, crdName, version, path, e.Type == field.ErrorTypeRequired) {
				continue // the schema change behind it is reported already
			}
			c.problems.Addf(c.at(cur.Bundle, fmt.Sprintf("CRD %s %s %s", crdName, version, path)),
				"the alm-examples %s %q of %s fails the new schema, and so would existing resources like it: %s", ex.gvk.Kind, ex.name, ex.bundle, e.ErrorBody())
		}
	}
}

// flaggedPath reports whether crdify already flagged path (or, for a
// missing required field, the object that requires it).
func flaggedPath(flagged map[string]bool, crdName, version, path string, required bool) bool {
	key := crdName + "/" + version + "/"
	if flagged[key+path] {
		return true
	}
	if !required {
		return false
	}
	parent := "(root)"
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent = path[:i]
	}
	return flagged[key+parent]
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
