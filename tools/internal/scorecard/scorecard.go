package scorecard

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	scapiv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	apimanifests "github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	apivalidation "github.com/operator-framework/api/pkg/validation"
	registrybundle "github.com/operator-framework/operator-registry/pkg/lib/bundle"
	"github.com/sirupsen/logrus"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The default tests, as operator-sdk names them.
const (
	BasicCheckSpec         = "basic-check-spec"
	OLMBundleValidation    = "olm-bundle-validation"
	OLMCRDsHaveValidation  = "olm-crds-have-validation"
	OLMCRDsHaveResources   = "olm-crds-have-resources"
	OLMSpecDescriptors     = "olm-spec-descriptors"
	OLMStatusDescriptors   = "olm-status-descriptors"
	configTest             = "config"
	configFile             = "tests/scorecard/config.yaml"
	configAPIVersion       = "scorecard.operatorframework.io/v1alpha3"
	configKind             = "Configuration"
	scorecardTestEntrypont = "scorecard-test"
)

// DefaultTests are the tests `operator-sdk init` scaffolds, in order.
var DefaultTests = []string{
	BasicCheckSpec, OLMBundleValidation, OLMCRDsHaveValidation,
	OLMCRDsHaveResources, OLMSpecDescriptors, OLMStatusDescriptors,
}

// Failure is one reason a test would fail.
type Failure struct {
	// Test is the scorecard test (or "config" for the configuration).
	Test string
	// File is relative to the bundle directory, slash-separated.
	File string
	// Field locates the problem in File, if known.
	Field   string
	Message string
}

func (f Failure) String() string {
	parts := []string{f.File}
	if f.Field != "" {
		parts = append(parts, f.Field)
	}
	return fmt.Sprintf("%s: %s [scorecard/%s]", strings.Join(parts, ": "), f.Message, f.Test)
}

// Run makes the checks of every default test against the bundle in dir and
// returns every failure, sorted by test.
func Run(dir string) []Failure {
	fs := bundleValidation(dir, findCSVFile(dir))
	fs = append(fs, Examples(dir)...)
	sort.SliceStable(fs, func(i, j int) bool { return testOrder(fs[i].Test) < testOrder(fs[j].Test) })
	return fs
}

// Examples makes the checks of every default test but
// olm-bundle-validation (basic-check-spec, olm-crds-have-validation,
// olm-crds-have-resources, olm-spec-descriptors, olm-status-descriptors)
// and of the scorecard configuration.
func Examples(dir string) []Failure {
	csvFile := findCSVFile(dir)
	var fs []Failure
	b, err := apimanifests.GetBundleFromDir(dir)
	if err != nil || b == nil || b.CSV == nil {
		msg := "no bundle"
		if err != nil {
			msg = err.Error()
		}
		// Every other test needs the CSV; scorecard would error on all.
		for _, t := range DefaultTests {
			if t != OLMBundleValidation {
				fs = append(fs, Failure{Test: t, File: "manifests", Message: "cannot load the bundle: " + msg})
			}
		}
		return fs
	}
	crs, err := examples(b.CSV)
	if err != nil {
		for _, t := range []string{BasicCheckSpec, OLMCRDsHaveValidation, OLMSpecDescriptors, OLMStatusDescriptors} {
			fs = append(fs, Failure{Test: t, File: csvFile, Field: "metadata.annotations.alm-examples", Message: err.Error()})
		}
		crs = nil
	}
	fs = append(fs, checkSpec(crs, csvFile)...)
	fs = append(fs, crdsHaveValidation(crs, b.V1CRDs, csvFile)...)
	fs = append(fs, crdsHaveResources(b.CSV, csvFile)...)
	fs = append(fs, descriptors(crs, b.CSV, csvFile)...)
	return append(fs, checkConfig(dir)...)
}

func testOrder(t string) int {
	for i, d := range DefaultTests {
		if d == t {
			return i
		}
	}
	return len(DefaultTests)
}

// bundleValidation is olm-bundle-validation: operator-registry's format
// and content checks, then the default validators of operator-framework/api.
// Their warnings are only suggestions to scorecard.
func bundleValidation(dir, csvFile string) []Failure {
	fs := FormatAndContent(dir)
	if len(fs) > 0 {
		return fs
	}
	b, err := apimanifests.GetBundleFromDir(filepath.Join(dir, "manifests"))
	if err != nil {
		return append(fs, Failure{Test: OLMBundleValidation, File: "manifests", Message: err.Error()})
	}
	objs := []any{b, b.CSV}
	for _, crd := range b.V1CRDs {
		objs = append(objs, crd)
	}
	for _, r := range apivalidation.DefaultBundleValidators.Validate(objs...) {
		for _, e := range r.Errors {
			fs = append(fs, Failure{Test: OLMBundleValidation, File: csvFile, Field: e.Field, Message: e.Detail})
		}
	}
	return fs
}

// FormatAndContent is the part of olm-bundle-validation that is
// operator-registry's: the bundle's format (directories, annotations, media
// type), then its content (kinds OLM supports, objects a cluster accepts).
// bundle.Validate runs it, and the default validators once, itself.
func FormatAndContent(dir string) []Failure {
	var fs []Failure
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	v := registrybundle.NewImageValidator(nil, logrus.NewEntry(logger))
	add := func(file string, err error) {
		if err == nil {
			return
		}
		errs := []error{err}
		if verr, ok := err.(registrybundle.ValidationError); ok {
			errs = verr.Errors
		}
		for _, e := range errs {
			fs = append(fs, Failure{Test: OLMBundleValidation, File: file, Message: e.Error()})
		}
	}
	add("metadata/annotations.yaml", v.ValidateBundleFormat(dir))
	if len(fs) == 0 {
		add("manifests", v.ValidateBundleContent(filepath.Join(dir, "manifests")))
	}
	return fs
}

func examples(csv *v1alpha1.ClusterServiceVersion) ([]unstructured.Unstructured, error) {
	raw := csv.GetAnnotations()["alm-examples"]
	if raw == "" {
		return nil, nil
	}
	var crs []unstructured.Unstructured
	if err := json.Unmarshal([]byte(raw), &crs); err != nil {
		return nil, fmt.Errorf("not a JSON array of objects: %v", err)
	}
	return crs, nil
}

func exampleField(i int, rest string) string {
	f := fmt.Sprintf("metadata.annotations.alm-examples[%d]", i)
	if rest != "" {
		f += "." + rest
	}
	return f
}

// checkSpec is basic-check-spec: every example has a spec. (operator-sdk
// accepts an empty one; an empty spec shows users nothing, so it fails here.)
func checkSpec(crs []unstructured.Unstructured, csvFile string) []Failure {
	var fs []Failure
	for i, cr := range crs {
		spec, ok := cr.Object["spec"].(map[string]any)
		if !ok || len(spec) == 0 {
			fs = append(fs, Failure{Test: BasicCheckSpec, File: csvFile, Field: exampleField(i, "spec"),
				Message: fmt.Sprintf("%s %s has no spec", cr.GetKind(), cr.GetName())})
		}
	}
	return fs
}

// crdsHaveValidation is olm-crds-have-validation: each top-level spec and
// status key of each example is a property of the CRD version's schema.
func crdsHaveValidation(crs []unstructured.Unstructured, crds []*apiextensionsv1.CustomResourceDefinition, csvFile string) []Failure {
	var fs []Failure
	for i, cr := range crs {
		gvk := cr.GroupVersionKind()
		found := false
		for _, crd := range crds {
			if crd.Spec.Group != gvk.Group || !strings.EqualFold(crd.Spec.Names.Kind, gvk.Kind) {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if !strings.EqualFold(v.Name, gvk.Version) {
					continue
				}
				found = true
				if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
					fs = append(fs, Failure{Test: OLMCRDsHaveValidation, File: "manifests", Field: crd.Name,
						Message: fmt.Sprintf("version %s has no openAPIV3Schema", v.Name)})
					continue
				}
				for _, block := range []string{"spec", "status"} {
					values, _ := cr.Object[block].(map[string]any)
					props := v.Schema.OpenAPIV3Schema.Properties[block].Properties
					for _, key := range sortedKeys(values) {
						if _, ok := props[key]; !ok {
							fs = append(fs, Failure{Test: OLMCRDsHaveValidation, File: csvFile, Field: exampleField(i, block+"."+key),
								Message: fmt.Sprintf("%s/%s %s has no schema for %s.%s", gvk.Kind, gvk.Version, crd.Name, block, key)})
						}
					}
				}
			}
		}
		if !found {
			fs = append(fs, Failure{Test: OLMCRDsHaveValidation, File: csvFile, Field: exampleField(i, "apiVersion"),
				Message: fmt.Sprintf("no CRD in the bundle serves %s", gvk)})
		}
	}
	return fs
}

// crdsHaveResources is olm-crds-have-resources: every owned CRD lists the
// resources the operator creates for it.
func crdsHaveResources(csv *v1alpha1.ClusterServiceVersion, csvFile string) []Failure {
	var fs []Failure
	for i, d := range csv.Spec.CustomResourceDefinitions.Owned {
		if len(d.Resources) == 0 {
			fs = append(fs, Failure{Test: OLMCRDsHaveResources, File: csvFile,
				Field:   fmt.Sprintf("spec.customresourcedefinitions.owned[%d].resources", i),
				Message: fmt.Sprintf("owned CRD %s lists no resources", d.Name)})
		}
	}
	return fs
}

// descriptors is olm-spec-descriptors and olm-status-descriptors: each
// top-level spec key of each example has a specDescriptor with that path,
// and an example with a status belongs to a CRD with status descriptors.
func descriptors(crs []unstructured.Unstructured, csv *v1alpha1.ClusterServiceVersion, csvFile string) []Failure {
	var fs []Failure
	for i, cr := range crs {
		var owned *v1alpha1.CRDDescription
		for j := range csv.Spec.CustomResourceDefinitions.Owned {
			if csv.Spec.CustomResourceDefinitions.Owned[j].Kind == cr.GetKind() {
				owned = &csv.Spec.CustomResourceDefinitions.Owned[j]
				break
			}
		}
		if owned == nil {
			for _, t := range []string{OLMSpecDescriptors, OLMStatusDescriptors} {
				fs = append(fs, Failure{Test: t, File: csvFile, Field: exampleField(i, "kind"),
					Message: fmt.Sprintf("no owned CRD of kind %s", cr.GetKind())})
			}
			continue
		}
		spec, ok := cr.Object["spec"].(map[string]any)
		if !ok {
			fs = append(fs, Failure{Test: OLMSpecDescriptors, File: csvFile, Field: exampleField(i, "spec"),
				Message: fmt.Sprintf("%s %s has no spec", cr.GetKind(), cr.GetName())})
		}
		paths := map[string]bool{}
		for _, d := range owned.SpecDescriptors {
			paths[d.Path] = true
		}
		for _, key := range sortedKeys(spec) {
			if !paths[key] {
				fs = append(fs, Failure{Test: OLMSpecDescriptors, File: csvFile, Field: exampleField(i, "spec."+key),
					Message: fmt.Sprintf("%s has no spec descriptor with path %s", owned.Name, key)})
			}
		}
		if status, ok := cr.Object["status"].(map[string]any); ok && len(status) > 0 && len(owned.StatusDescriptors) == 0 {
			fs = append(fs, Failure{Test: OLMStatusDescriptors, File: csvFile, Field: exampleField(i, "status"),
				Message: fmt.Sprintf("%s has a status but %s has no status descriptors", cr.GetName(), owned.Name)})
		}
	}
	return fs
}

// checkConfig checks that the bundle's scorecard configuration runs the six
// default tests with the scorecard-test image.
func checkConfig(dir string) []Failure {
	var fs []Failure
	fail := func(field, format string, args ...any) {
		fs = append(fs, Failure{Test: configTest, File: configFile, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(configFile)))
	if err != nil {
		fail("", "cannot read the scorecard configuration: %v", err)
		return fs
	}
	var cfg scapiv1alpha3.Configuration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		fail("", "not a scorecard Configuration: %v", err)
		return fs
	}
	if cfg.APIVersion != configAPIVersion || cfg.Kind != configKind {
		fail("apiVersion", "%s %s; want %s %s", cfg.APIVersion, cfg.Kind, configAPIVersion, configKind)
	}
	have := map[string]bool{}
	for i, stage := range cfg.Stages {
		for j, t := range stage.Tests {
			at := fmt.Sprintf("stages[%d].tests[%d]", i, j)
			if t.Image == "" {
				fail(at+".image", "required")
			}
			if len(t.Entrypoint) < 2 || t.Entrypoint[0] != scorecardTestEntrypont {
				continue
			}
			name := t.Entrypoint[1]
			if have[name] {
				fail(at+".entrypoint", "%s runs twice", name)
			}
			have[name] = true
			if t.Labels["test"] == "" || t.Labels["suite"] == "" {
				fail(at+".labels", "suite and test labels are required to select %s", name)
			}
		}
	}
	for _, t := range DefaultTests {
		if !have[t] {
			fail("stages", "the default test %s is missing", t)
		}
	}
	return fs
}

// findCSVFile names the file of the bundle's CSV, for messages.
func findCSVFile(dir string) string {
	entries, _ := os.ReadDir(filepath.Join(dir, "manifests"))
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, "manifests", e.Name()))
		if err != nil {
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if yaml.Unmarshal(data, &head) == nil && head.Kind == "ClusterServiceVersion" {
			return "manifests/" + e.Name()
		}
	}
	return "manifests"
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
