package bundle

import (
	"fmt"
	"regexp"
	"strings"

	apivalidation "github.com/operator-framework/api/pkg/validation"
	apierrors "github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// namedValidator is one of operator-framework/api's validators under the
// name operator-sdk gives it.
type namedValidator struct {
	name string
	v    interfaces.Validator
}

// csvValidators are the validators that look at the CSV alone: Build runs
// them on the CSV it made, before anything is written.
var csvValidators = []namedValidator{
	{"csv", apivalidation.ClusterServiceVersionValidator},
	{"operatorhub/v2", apivalidation.OperatorHubV2Validator},
	{"standardcapabilities", apivalidation.StandardCapabilitiesValidator},
	{"standardcategories", apivalidation.StandardCategoriesValidator},
}

// bundleValidators are every validator `operator-sdk bundle validate
// --select-optional suite=operatorframework` runs (operator-sdk v1.42.2:
// the default csv, crd and bundle validators, then the optional ones
// labelled suite=operatorframework): Validate runs each once, from the
// operator-framework/api of tools/go.mod (v0.45.0), not operator-sdk's
// v0.34.0, whose deprecated-API check also flags the CSV's RBAC rule for
// events.k8s.io events (a rule names no API version).
var bundleValidators = append(append([]namedValidator{}, csvValidators...),
	namedValidator{"crd", apivalidation.CustomResourceDefinitionValidator},
	namedValidator{"bundle", apivalidation.BundleValidator},
	namedValidator{"alpha-deprecated-apis", apivalidation.AlphaDeprecatedAPIsValidator},
	namedValidator{"good-practices", apivalidation.GoodPracticesValidator},
)

// fieldRule locates a validator message that names no field: the
// validators of operator-framework/api say "csv.Spec.Provider.Name not
// specified", this project's messages name the field (and say what it
// wants first).
type fieldRule struct {
	match *regexp.Regexp
	field string
	say   string
}

var fieldRules = []fieldRule{
	{regexp.MustCompile(`^csv\.Spec\.Provider\.Name`), "spec.provider.name", "required: who publishes the operator"},
	{regexp.MustCompile(`^csv\.Spec\.Maintainers`), "spec.maintainers", ""},
	{regexp.MustCompile(`^csv\.Spec\.Links`), "spec.links", ""},
	{regexp.MustCompile(`^csv\.Spec\.Icon`), "spec.icon", ""},
	{regexp.MustCompile(`(?i)^csv\.Spec\.MinKubeVersion has an invalid`), "spec.minKubeVersion", "not a semantic version"},
	{regexp.MustCompile(`(?i)^csv\.Spec\.minKubeVersion is not informed`), "spec.minKubeVersion", "required: the oldest Kubernetes version the operator supports"},
	{regexp.MustCompile(`^csv\.Spec\.Version`), "spec.version", "required"},
	{regexp.MustCompile(`^csv\.Metadata\.Annotations\.Capabilities`), "metadata.annotations.capabilities", ""},
	{regexp.MustCompile(`^csv\.Metadata\.Annotations\["categories"\]`), "metadata.annotations.categories", "not a standard category"},
	{regexp.MustCompile(`^csv\.metadata\.Name`), "metadata.name", ""},
	{regexp.MustCompile(`install modes|InstallModeType`), "spec.installModes", ""},
	{regexp.MustCompile(`^(example )?annotations not found|example|alm-examples`), "metadata.annotations.alm-examples", ""},
	{regexp.MustCompile(`resource requests`), "spec.install.spec.deployments", ""},
	{regexp.MustCompile(`CRD .* has an empty description`), "spec.customresourcedefinitions", ""},
	{regexp.MustCompile(`relatedImages`), "spec.relatedImages", ""},
}

// findingFiles say which file a validator finding is in.
type findingFiles struct {
	csv         string
	crds        map[string]string // CRD name -> file
	annotations string
}

// runValidators runs each validator once on objs and locates every
// finding. The validators overlap (csv and operatorhub/v2 both parse
// minKubeVersion): a fact two of them state in the same words at the same
// field is reported once, with the first validator's name.
func runValidators(vs []namedValidator, objs []any, files findingFiles) problem.List {
	var ps problem.List
	seen := map[string]bool{}
	for _, v := range vs {
		for _, res := range v.v.Validate(objs...) {
			for _, e := range append(append([]apierrors.Error{}, res.Errors...), res.Warnings...) {
				p := locate(v.name, res.Name, e, files)
				key := p.File + "\x00" + p.Field + "\x00" + p.Message
				if !seen[key] {
					seen[key] = true
					ps.Add(p)
				}
			}
		}
	}
	return ps
}

// locate turns a validator finding into a problem naming file and field.
func locate(check, subject string, e apierrors.Error, files findingFiles) problem.Problem {
	p := problem.Problem{Severity: problem.SeverityError, Check: check, File: files.csv, Field: jsonPath(e.Field)}
	if e.Level == apierrors.LevelWarn {
		p.Severity = problem.SeverityWarning
	}
	if f, ok := files.crds[subject]; ok && check == "crd" {
		p.File = f
	}
	msg := e.Detail
	if msg == "" {
		msg = e.Error()
	}
	// The file already says which CSV: drop the "(name) " prefix.
	msg = strings.TrimPrefix(msg, "("+subject+") ")
	if e.BadValue != nil && e.Field == "" && check != "bundle" {
		if s := fmt.Sprint(e.BadValue); s != subject && s != "" && !strings.Contains(msg, s) {
			msg = fmt.Sprintf("%s (%s)", msg, s)
		}
	}
	switch {
	case strings.Contains(msg, "channel(s)"):
		// good-practices reads the channels from the metadata.
		p.File, p.Field = files.annotations, "annotations."+bundleformat.LabelChannels
	case p.Field == "":
		for _, r := range fieldRules {
			if r.match.MatchString(msg) {
				p.Field = r.field
				if r.say != "" {
					msg = r.say + ": " + msg
				}
				break
			}
		}
	}
	p.Message = msg
	return p
}

// jsonPath turns a validator's Go field path (Spec.DisplayName) into the
// field's path in the manifest (spec.displayName).
func jsonPath(goPath string) string {
	parts := strings.Split(goPath, ".")
	for i, s := range parts {
		if s != "" {
			parts[i] = strings.ToLower(s[:1]) + s[1:]
		}
	}
	return strings.Join(parts, ".")
}
