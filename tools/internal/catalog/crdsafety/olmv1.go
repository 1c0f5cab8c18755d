package crdsafety

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/crdify/pkg/config"
	"sigs.k8s.io/crdify/pkg/runner"
	"sigs.k8s.io/crdify/pkg/validations"
	"sigs.k8s.io/crdify/pkg/validations/property"
	"sigs.k8s.io/crdify/pkg/validators/version"
)

// PreflightConfig is the crdify configuration of OLM v1's CRD upgrade-safety
// preflight (operator-controller v1.11.0,
// internal/operator-controller/rukpak/preflights/crdupgradesafety, defaultConfig),
// which runs by default (ClusterExtension
// spec.install.preflight.crdUpgradeSafety.enforcement: Strict). Copied, not
// imported: the package is internal to operator-controller. With the same
// crdify version (tools/go.mod pins the one operator-controller v1.11.0
// requires) the same CRD pair gives the same verdict.
func PreflightConfig() *config.Config {
	return &config.Config{
		Conversion:           config.ConversionPolicyIgnore,
		UnhandledEnforcement: config.EnforcementPolicyError,
		Validations: []config.ValidationConfig{
			{Name: "description", Enforcement: config.EnforcementPolicyNone},
			{Name: "enum", Enforcement: config.EnforcementPolicyError, Configuration: map[string]any{
				"additionPolicy": property.AdditionPolicyAllow,
			}},
		},
	}
}

// Unhandled is crdify's name for a schema change that none of its
// validations classifies; OLM v1 refuses it.
const Unhandled = "unhandled"

// Finding is one reason crdify, configured as OLM v1's preflight, refuses
// the upgrade of a CRD.
type Finding struct {
	// Version is the CRD version ("v1"), a pair of served versions
	// ("v1 -> v2"), or empty for a change of the whole CRD.
	Version string
	// Path is the schema path ("spec.image", "(root)"), or the CRD field
	// for a change of the whole CRD ("spec.scope", "spec.versions").
	Path string
	// Validation is the crdify validation that failed ("type",
	// "storedVersionRemoval", Unhandled, ...).
	Validation string
	// Message is crdify's message; for Unhandled, the schema keywords that
	// changed instead of its Go diff.
	Message string
}

// newRunner builds the crdify runner with OLM v1's configuration.
func newRunner() (*runner.Runner, error) {
	return runner.New(PreflightConfig(), runner.DefaultRegistry())
}

// preflight runs crdify on an upgrade from old (as a cluster holds it: API
// server defaults, storedVersions) to cur and returns what OLM v1 refuses.
func preflight(r *runner.Runner, old, cur *apiextensionsv1.CustomResourceDefinition, storedVersions []string) []Finding {
	o := old.DeepCopy()
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(o)
	o.Status.StoredVersions = slices.Clone(storedVersions)
	res := r.Run(o, cur.DeepCopy())
	var out []Finding
	for _, c := range res.CRDValidation {
		for _, e := range c.Errors {
			out = append(out, crdWideFinding(c.Name, e))
		}
	}
	out = append(out, versionFindings(res.SameVersionValidation)...)
	out = append(out, versionFindings(res.ServedVersionValidation)...)
	slices.SortFunc(out, func(a, b Finding) int {
		return strings.Compare(a.Version+" "+a.Path+" "+a.Validation+" "+a.Message, b.Version+" "+b.Path+" "+b.Validation+" "+b.Message)
	})
	return out
}

func versionFindings(results []version.VersionedPropertyComparisonResult) []Finding {
	var out []Finding
	for _, vr := range results {
		for _, pr := range vr.PropertyComparisons {
			for _, cr := range pr.ComparisonResults {
				for _, e := range cr.Errors {
					if cr.Name == Unhandled {
						e = unhandledSummary(e)
					}
					out = append(out, Finding{Version: vr.Version, Path: schemaPath(pr.Property), Validation: cr.Name, Message: e})
				}
			}
		}
	}
	return out
}

// schemaPath turns crdify's "^.spec.image" into "spec.image".
func schemaPath(p string) string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "^"), ".")
	if p == "" {
		return "(root)"
	}
	return p
}

// crdWideFinding locates a finding about the whole CRD: a removed field
// ("removed field : v1.^.spec.foo") at its version and path, the others at
// the CRD field they are about.
func crdWideFinding(validation, msg string) Finding {
	f := Finding{Validation: validation, Message: msg}
	switch validation {
	case "scope":
		f.Path = "spec.scope"
	case "storedVersionRemoval":
		f.Path = "spec.versions"
	case "existingFieldRemoval":
		what, where, ok := strings.Cut(msg, " : ")
		version, path, found := strings.Cut(where, ".^")
		if ok && found {
			f.Version, f.Path, f.Message = version, schemaPath("^"+path), what
		}
	}
	if f.Path == "" {
		f.Path = "spec.versions"
	}
	return f
}

// diffField matches a line of the Go diff crdify prints for unhandled
// changes: "- \tXValidations: nil," or "+ \tFormat: ...".
// go-cmp indents with non-breaking spaces on purpose.
var diffField = regexp.MustCompile(`^[\s\x{00a0}]*[-+][\s\x{00a0}]*(\w+):`)

// unhandledSummary replaces crdify's Go diff of an unhandled change by the
// schema keywords that changed ("x-kubernetes-validations"), which is what a
// reader needs to find the change in the CRD.
func unhandledSummary(raw string) string {
	var keywords []string
	for _, line := range strings.Split(raw, "\n") {
		m := diffField.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if k, ok := jsonName(m[1]); ok && !slices.Contains(keywords, k) {
			keywords = append(keywords, k)
		}
	}
	msg := validations.ErrUnhandledChangesFound.Error()
	if len(keywords) > 0 {
		msg += " (" + strings.Join(keywords, ", ") + " changed)"
	}
	return msg
}

var schemaType = reflect.TypeFor[apiextensionsv1.JSONSchemaProps]()

// jsonName is the schema keyword of a JSONSchemaProps Go field; the
// fields of nested values (a rule's Message) are not keywords.
func jsonName(goField string) (string, bool) {
	f, ok := schemaType.FieldByName(goField)
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name, name != ""
}

// String renders a finding for a problem message.
func (f Finding) String() string {
	return fmt.Sprintf("%s: %s", f.Validation, f.Message)
}
