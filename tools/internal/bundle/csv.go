package bundle

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"go.podman.io/image/v5/docker/reference"
	"k8s.io/apimachinery/pkg/runtime"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Annotations of the CSV.
const (
	annAlmExamples        = "alm-examples"
	annCapabilities       = "capabilities"
	annCategories         = "categories"
	annContainerImage     = "containerImage"
	annCreatedAt          = "createdAt"
	annDescription        = "description"
	annRepository         = "repository"
	annSupport            = "support"
	annSuggestedNamespace = "operatorframework.io/suggested-namespace"
	annBuilder            = "operators.operatorframework.io/builder"
	annProjectLayout      = "operators.operatorframework.io/project_layout"
	annDisconnected       = "features.operators.openshift.io/disconnected"
)

// featureAnnotations are the OpenShift feature annotations every CSV must
// set to "true" or "false".
var featureAnnotations = []string{
	annDisconnected,
	"features.operators.openshift.io/fips-compliant",
	"features.operators.openshift.io/proxy-aware",
	"features.operators.openshift.io/tls-profiles",
	"features.operators.openshift.io/token-auth-aws",
	"features.operators.openshift.io/token-auth-azure",
	"features.operators.openshift.io/token-auth-gcp",
}

// The values OperatorHub accepts (operator-framework/api's capabilities and
// categories validators).
var (
	capabilityLevels = []string{"Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot"}
	categories       = []string{
		"AI/Machine Learning", "Application Runtime", "Big Data", "Cloud Provider", "Database",
		"Developer Tools", "Integration & Delivery", "Logging & Tracing", "Modernization & Migration",
		"Monitoring", "Networking", "Observability", "OpenShift Optional", "Security", "Storage",
		"Streaming & Messaging",
	}
	iconMediaTypes = []string{"image/gif", "image/jpeg", "image/png", "image/svg+xml"}
	installModes   = []v1alpha1.InstallModeType{
		v1alpha1.InstallModeTypeOwnNamespace, v1alpha1.InstallModeTypeSingleNamespace,
		v1alpha1.InstallModeTypeMultiNamespace, v1alpha1.InstallModeTypeAllNamespaces,
	}
)

// parseCSV decodes a CSV, reporting fields the CSV type does not have
// (typos such as dispalyName would otherwise vanish silently).
func parseCSV(src source, check string) (*v1alpha1.ClusterServiceVersion, Problems) {
	var ps Problems
	csv := &v1alpha1.ClusterServiceVersion{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(src.obj.Object, csv, true); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "unknown field") {
			for _, f := range unknownFields(msg) {
				ps.errorf(check, src.file, f, "unknown field: the ClusterServiceVersion type has no such field")
			}
			if len(ps) > 0 {
				// Decode again, ignoring them, to check the rest.
				csv = &v1alpha1.ClusterServiceVersion{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(src.obj.Object, csv); err == nil {
					return csv, ps
				}
			}
		}
		ps.errorf(check, src.file, "", "not a valid ClusterServiceVersion: %v", err)
		return nil, ps
	}
	return csv, ps
}

// unknownFields extracts the field paths from the converter's
// `unknown field "a.b"` errors.
func unknownFields(msg string) []string {
	var out []string
	for {
		i := strings.Index(msg, `unknown field "`)
		if i < 0 {
			return out
		}
		msg = msg[i+len(`unknown field "`):]
		j := strings.Index(msg, `"`)
		if j < 0 {
			return out
		}
		out = append(out, msg[:j])
		msg = msg[j:]
	}
}

// hubChecks are the checks OperatorHub (its validators and its pipeline's
// static tests) makes on a CSV, each naming the field. generated adds the
// fields the generator fills in, which a base need not have.
func hubChecks(csv *v1alpha1.ClusterServiceVersion, file, check string, generated bool) Problems {
	var ps Problems
	spec := csv.Spec
	ann := csv.GetAnnotations()

	if n := utf8.RuneCountInString(strings.TrimSpace(spec.DisplayName)); n == 0 {
		ps.errorf(check, file, "spec.displayName", "required: the operator's name as OperatorHub shows it")
	} else if n < 3 || n > 50 {
		ps.errorf(check, file, "spec.displayName", "%q has %d characters; OperatorHub wants 3 to 50", spec.DisplayName, n)
	}
	if n := len(strings.TrimSpace(spec.Description)); n == 0 {
		ps.errorf(check, file, "spec.description", "required: a markdown description of what the operator does and how to use it")
	} else if n < 20 {
		ps.errorf(check, file, "spec.description", "%d characters; OperatorHub wants at least 20", n)
	}
	if strings.TrimSpace(ann[annDescription]) == "" {
		ps.errorf(check, file, "metadata.annotations.description", "required: the one-line summary OperatorHub shows on the operator's tile")
	}
	if strings.TrimSpace(spec.Provider.Name) == "" {
		ps.errorf(check, file, "spec.provider.name", "required: who publishes the operator")
	}
	if spec.Provider.URL != "" {
		checkURL(&ps, check, file, "spec.provider.url", spec.Provider.URL)
	}
	if len(spec.Maintainers) == 0 {
		ps.errorf(check, file, "spec.maintainers", "required: at least one maintainer with name and email")
	}
	for i, m := range spec.Maintainers {
		at := fmt.Sprintf("spec.maintainers[%d]", i)
		if strings.TrimSpace(m.Name) == "" {
			ps.errorf(check, file, at+".name", "required")
		}
		if m.Email == "" {
			ps.errorf(check, file, at+".email", "required")
		} else if _, err := mail.ParseAddress(m.Email); err != nil {
			ps.errorf(check, file, at+".email", "%q is not an email address: %v", m.Email, err)
		}
	}
	if len(spec.Links) == 0 {
		ps.errorf(check, file, "spec.links", "required: at least one link (name and url), e.g. to the source code")
	}
	for i, l := range spec.Links {
		at := fmt.Sprintf("spec.links[%d]", i)
		if strings.TrimSpace(l.Name) == "" {
			ps.errorf(check, file, at+".name", "required")
		}
		if l.URL == "" {
			ps.errorf(check, file, at+".url", "required")
		} else {
			checkURL(&ps, check, file, at+".url", l.URL)
		}
	}
	switch len(spec.Icon) {
	case 0:
		ps.errorf(check, file, "spec.icon", "required: one icon (base64data and mediatype)")
	case 1:
	default:
		ps.errorf(check, file, "spec.icon", "%d icons; OperatorHub wants exactly one", len(spec.Icon))
	}
	for i, icon := range spec.Icon {
		at := fmt.Sprintf("spec.icon[%d]", i)
		if !contains(iconMediaTypes, icon.MediaType) {
			ps.errorf(check, file, at+".mediatype", "%q is not one of %s", icon.MediaType, strings.Join(iconMediaTypes, ", "))
		}
		data, err := base64.StdEncoding.DecodeString(icon.Data)
		switch {
		case icon.Data == "":
			ps.errorf(check, file, at+".base64data", "required")
		case err != nil:
			ps.errorf(check, file, at+".base64data", "not base64: %v", err)
		case icon.MediaType == "image/svg+xml" && !strings.Contains(string(data), "<svg"):
			ps.errorf(check, file, at+".base64data", "the mediatype is image/svg+xml but the data is no SVG")
		}
	}
	if len(spec.Keywords) == 0 {
		ps.errorf(check, file, "spec.keywords", "required: words users search OperatorHub with")
	}
	for i, k := range spec.Keywords {
		if strings.TrimSpace(k) == "" {
			ps.errorf(check, file, fmt.Sprintf("spec.keywords[%d]", i), "empty keyword")
		}
	}
	if spec.Maturity == "" {
		ps.errorf(check, file, "spec.maturity", "required: alpha, beta or stable")
	}
	if spec.MinKubeVersion == "" {
		ps.errorf(check, file, "spec.minKubeVersion", "required: the oldest Kubernetes version the operator supports, e.g. 1.27.0")
	} else if _, err := semver.Parse(spec.MinKubeVersion); err != nil {
		ps.errorf(check, file, "spec.minKubeVersion", "%q is not a semantic version: %v", spec.MinKubeVersion, err)
	}
	checkInstallModes(&ps, check, file, spec.InstallModes)

	if c, ok := ann[annCapabilities]; !ok {
		ps.errorf(check, file, "metadata.annotations.capabilities", "required: one of %s", strings.Join(capabilityLevels, ", "))
	} else if !contains(capabilityLevels, c) {
		ps.errorf(check, file, "metadata.annotations.capabilities", "%q is not one of %s", c, strings.Join(capabilityLevels, ", "))
	}
	if c, ok := ann[annCategories]; !ok {
		ps.errorf(check, file, "metadata.annotations.categories", "required: comma-separated OperatorHub categories, e.g. Database")
	} else {
		for _, cat := range strings.Split(c, ",") {
			if !contains(categories, strings.TrimSpace(cat)) {
				ps.errorf(check, file, "metadata.annotations.categories", "%q is not a standard category (%s)", strings.TrimSpace(cat), strings.Join(categories, ", "))
			}
		}
	}
	if r := ann[annRepository]; r == "" {
		ps.errorf(check, file, "metadata.annotations.repository", "required: the URL of the operator's source repository")
	} else {
		checkURL(&ps, check, file, "metadata.annotations.repository", r)
	}
	if strings.TrimSpace(ann[annSupport]) == "" {
		ps.errorf(check, file, "metadata.annotations.support", "required: who supports the operator")
	}
	if c, ok := ann[annCreatedAt]; !ok || c == "" {
		ps.errorf(check, file, "metadata.annotations.createdAt", "required: the release time (RFC 3339), or pass --created-at")
	} else if _, err := time.Parse(time.RFC3339, c); err != nil {
		ps.errorf(check, file, "metadata.annotations.createdAt", "%q is not an RFC 3339 time: %v", c, err)
	}
	for _, key := range featureAnnotations {
		switch v, ok := ann[key]; {
		case !ok:
			ps.errorf(check, file, "metadata.annotations."+key, `required: "true" or "false"`)
		case v != "true" && v != "false":
			ps.errorf(check, file, "metadata.annotations."+key, `%q: must be "true" or "false"`, v)
		}
	}
	if ns, ok := ann[annSuggestedNamespace]; !ok {
		ps.errorf(check, file, "metadata.annotations."+annSuggestedNamespace, "required: the namespace OperatorHub proposes to install into")
	} else if errs := k8svalidation.IsDNS1123Label(ns); len(errs) > 0 {
		ps.errorf(check, file, "metadata.annotations."+annSuggestedNamespace, "%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
	}
	if ann[annProjectLayout] == "" {
		ps.errorf(check, file, "metadata.annotations."+annProjectLayout, "required: the project layout (go.kubebuilder.io/v4)")
	}

	if !generated {
		if spec.Replaces != "" {
			ps.errorf(check, file, "spec.replaces", "remove it: the catalog owns the upgrade edges (olm.channel entries)")
		}
		return ps
	}
	if img := ann[annContainerImage]; img == "" {
		ps.errorf(check, file, "metadata.annotations.containerImage", "required: the operator image")
	} else if _, err := reference.ParseNormalizedNamed(img); err != nil {
		ps.errorf(check, file, "metadata.annotations.containerImage", "%q is not an image reference: %v", img, err)
	}
	if spec.Version.Equals(semver.Version{}) {
		ps.errorf(check, file, "spec.version", "required")
	}
	if len(spec.RelatedImages) == 0 {
		ps.errorf(check, file, "spec.relatedImages", "required: every image the operator runs, for mirroring")
	}
	if ex := ann[annAlmExamples]; ex == "" {
		ps.errorf(check, file, "metadata.annotations.alm-examples", "required: an example of every owned CRD")
	} else {
		var examples []map[string]any
		if err := json.Unmarshal([]byte(ex), &examples); err != nil {
			ps.errorf(check, file, "metadata.annotations.alm-examples", "not a JSON array of objects: %v", err)
		}
	}
	return ps
}

func checkInstallModes(ps *Problems, check, file string, modes []v1alpha1.InstallMode) {
	seen := map[v1alpha1.InstallModeType]int{}
	supported := 0
	for i, m := range modes {
		if !containsMode(m.Type) {
			ps.errorf(check, file, fmt.Sprintf("spec.installModes[%d].type", i), "%q is not an install mode", m.Type)
		}
		seen[m.Type]++
		if m.Supported {
			supported++
		}
	}
	for _, t := range installModes {
		switch seen[t] {
		case 0:
			ps.errorf(check, file, "spec.installModes", "no entry for %s: say whether it is supported", t)
		case 1:
		default:
			ps.errorf(check, file, "spec.installModes", "%s is listed %d times", t, seen[t])
		}
	}
	if len(modes) > 0 && supported == 0 {
		ps.errorf(check, file, "spec.installModes", "no install mode is supported: OLM could not install the operator")
	}
}

func containsMode(t v1alpha1.InstallModeType) bool {
	for _, m := range installModes {
		if m == t {
			return true
		}
	}
	return false
}

func checkURL(ps *Problems, check, file, field, s string) {
	u, err := url.ParseRequestURI(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.errorf(check, file, field, "%q is not an http(s) URL", s)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
