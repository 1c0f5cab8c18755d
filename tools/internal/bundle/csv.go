package bundle

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
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

// The capability levels OperatorHub accepts (the standardcapabilities
// validator checks the value).
var (
	capabilityLevels = []string{"Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot"}
	installModes     = []v1alpha1.InstallModeType{
		v1alpha1.InstallModeTypeOwnNamespace, v1alpha1.InstallModeTypeSingleNamespace,
		v1alpha1.InstallModeTypeMultiNamespace, v1alpha1.InstallModeTypeAllNamespaces,
	}
)

// parseCSV decodes a CSV, reporting fields the CSV type does not have
// (typos such as dispalyName would otherwise vanish silently).
func parseCSV(src source, check string) (*v1alpha1.ClusterServiceVersion, problem.List) {
	var ps problem.List
	csv := &v1alpha1.ClusterServiceVersion{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(src.obj.Object, csv, true); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "unknown field") {
			for _, f := range unknownFields(msg) {
				ps.Errorf(check, src.file, f, "unknown field: the ClusterServiceVersion type has no such field")
			}
			if len(ps) > 0 {
				// Decode again, ignoring them, to check the rest.
				csv = &v1alpha1.ClusterServiceVersion{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(src.obj.Object, csv); err == nil {
					return csv, ps
				}
			}
		}
		ps.Errorf(check, src.file, "", "not a valid ClusterServiceVersion: %v", err)
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

// checkCSV makes the checks of a CSV that no validator of
// operator-framework/api makes (runValidators runs those): OperatorHub's
// pipeline and this project's requirements, the relatedImages, and the
// version as written (obj). Every problem is located in file. OLM's CSV
// schema is checkSchema's, which also reads a CSV the CSV type cannot.
func checkCSV(csv *v1alpha1.ClusterServiceVersion, obj map[string]any, file string) problem.List {
	var ps problem.List
	ps.Add(checkListing(csv, file)...)
	ps.Add(checkAnnotations(csv.GetAnnotations(), file)...)
	ps.Add(checkImages(csv, file)...)
	ps.Add(checkVersion(csv, obj, file)...)
	if csv.Spec.Replaces != "" {
		ps.Errorf(checkCSVName, file, "spec.replaces", "set, but the catalog owns the upgrade edges (olm.channel entries): leave it out")
	}
	return ps
}

// checkVersion checks spec.version as written: the CSV type reads it
// tolerantly (v0.3.1 becomes 0.3.1), but opm and OLM order bundles by it
// and the catalog names the bundle <package>.v<version>, so it must be a
// strict semantic version, the one the CSV's name ends in.
func checkVersion(csv *v1alpha1.ClusterServiceVersion, obj map[string]any, file string) problem.List {
	var ps problem.List
	raw, _, _ := unstructured.NestedFieldNoCopy(obj, "spec", "version")
	written, _ := raw.(string)
	if written == "" {
		return ps // the validators report a missing version
	}
	if _, err := semver.Parse(written); err != nil {
		hint := ""
		if strings.HasPrefix(written, "v") {
			hint = " (no leading v: the name's .v is not part of the version)"
		}
		ps.Errorf(checkCSVName, file, "spec.version", "%q is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE]%s: %v", written, hint, err)
		return ps
	}
	if v := csv.Spec.Version.String(); !strings.HasSuffix(csv.Name, ".v"+v) {
		ps.Errorf(checkCSVName, file, "metadata.name", "%q does not end in .v%s (spec.version)", csv.Name, v)
	}
	return ps
}

// checkCSVName is the name of this project's CSV checks in problems.
const checkCSVName = "operatorhub"

// checkListing checks what OperatorHub shows of the operator.
func checkListing(csv *v1alpha1.ClusterServiceVersion, file string) problem.List {
	var ps problem.List
	const check = checkCSVName
	spec := csv.Spec
	if n := utf8.RuneCountInString(strings.TrimSpace(spec.DisplayName)); n > 0 && (n < 3 || n > 50) {
		ps.Errorf(check, file, "spec.displayName", "%q has %d characters; OperatorHub wants 3 to 50", spec.DisplayName, n)
	}
	if n := len(strings.TrimSpace(spec.Description)); n == 0 {
		ps.Errorf(check, file, "spec.description", "required: a markdown description of what the operator does and how to use it")
	} else if n < 20 {
		ps.Errorf(check, file, "spec.description", "%d characters; OperatorHub wants at least 20", n)
	}
	if spec.Provider.URL != "" {
		checkURL(&ps, check, file, "spec.provider.url", spec.Provider.URL)
	}
	if len(spec.Maintainers) == 0 {
		ps.Errorf(check, file, "spec.maintainers", "required: at least one maintainer with name and email")
	}
	if len(spec.Links) == 0 {
		ps.Errorf(check, file, "spec.links", "required: at least one link (name and url), e.g. to the source code")
	}
	for i, l := range spec.Links {
		checkURL(&ps, check, file, fmt.Sprintf("spec.links[%d].url", i), l.URL)
	}
	for i, icon := range spec.Icon {
		at := fmt.Sprintf("spec.icon[%d].base64data", i)
		if data, err := base64.StdEncoding.DecodeString(icon.Data); err != nil {
			ps.Errorf(check, file, at, "not base64: %v", err)
		} else if icon.MediaType == "image/svg+xml" && !strings.Contains(string(data), "<svg") {
			ps.Errorf(check, file, at, "the mediatype is image/svg+xml but the data is no SVG")
		}
	}
	if len(spec.Keywords) == 0 {
		ps.Errorf(check, file, "spec.keywords", "required: words users search OperatorHub with")
	}
	for i, k := range spec.Keywords {
		if strings.TrimSpace(k) == "" {
			ps.Errorf(check, file, fmt.Sprintf("spec.keywords[%d]", i), "empty keyword")
		}
	}
	if spec.Maturity == "" {
		ps.Errorf(check, file, "spec.maturity", "required: alpha, beta or stable")
	}
	checkInstallModes(&ps, check, file, spec.InstallModes)
	return ps
}

// checkAnnotations checks the CSV annotations OperatorHub and OpenShift's
// console read.
func checkAnnotations(ann map[string]string, file string) problem.List {
	var ps problem.List
	const check = checkCSVName
	required := func(key, what string) {
		if strings.TrimSpace(ann[key]) == "" {
			ps.Errorf(check, file, "metadata.annotations."+key, "required: %s", what)
		}
	}
	required(annDescription, "the one-line summary OperatorHub shows on the operator's tile")
	required(annCapabilities, "one of "+strings.Join(capabilityLevels, ", "))
	required(annCategories, "comma-separated OperatorHub categories, e.g. Database")
	required(annSupport, "who supports the operator")
	required(annProjectLayout, "the project layout (go.kubebuilder.io/v4)")
	if r := ann[annRepository]; r == "" {
		ps.Errorf(check, file, "metadata.annotations.repository", "required: the URL of the operator's source repository")
	} else {
		checkURL(&ps, check, file, "metadata.annotations.repository", r)
	}
	if c := ann[annCreatedAt]; c == "" {
		ps.Errorf(check, file, "metadata.annotations.createdAt", "required: the release time (RFC 3339), or pass --created-at")
	} else if _, err := time.Parse(time.RFC3339, c); err != nil {
		ps.Errorf(check, file, "metadata.annotations.createdAt", "%q is not an RFC 3339 time: %v", c, err)
	}
	for _, key := range featureAnnotations {
		switch v, ok := ann[key]; {
		case !ok:
			ps.Errorf(check, file, "metadata.annotations."+key, `required: "true" or "false"`)
		case v != "true" && v != "false":
			ps.Errorf(check, file, "metadata.annotations."+key, `%q: must be "true" or "false"`, v)
		}
	}
	if ns, ok := ann[annSuggestedNamespace]; !ok {
		ps.Errorf(check, file, "metadata.annotations."+annSuggestedNamespace, "required: the namespace OperatorHub proposes to install into")
	} else if errs := k8svalidation.IsDNS1123Label(ns); len(errs) > 0 {
		ps.Errorf(check, file, "metadata.annotations."+annSuggestedNamespace, "%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
	}
	if img := ann[annContainerImage]; img == "" {
		ps.Errorf(check, file, "metadata.annotations.containerImage", "required: the operator image")
	} else if _, err := imageref.Parse(img); err != nil {
		ps.Errorf(check, file, "metadata.annotations.containerImage", "%q is not an image reference: %v", img, err)
	}
	return ps
}

// checkImages checks that relatedImages lists every image the Deployments
// run or name in RELATED_IMAGE_*, and honestly says disconnected.
func checkImages(csv *v1alpha1.ClusterServiceVersion, file string) problem.List {
	var ps problem.List
	const check = checkCSVName
	if len(csv.Spec.RelatedImages) == 0 {
		ps.Errorf(check, file, "spec.relatedImages", "required: every image the operator runs, for mirroring")
	}
	listed := map[string]bool{}
	allDigests := true
	for _, ri := range csv.Spec.RelatedImages {
		listed[ri.Image] = true
		allDigests = allDigests && imageref.IsDigest(ri.Image)
	}
	for i, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		pod := d.Spec.Template.Spec
		for _, c := range append(refsOf("initContainers", pod.InitContainers), refsOf("containers", pod.Containers)...) {
			if !listed[c.image] {
				ps.Errorf(check, file, fmt.Sprintf("spec.install.spec.deployments[%d].spec.template.spec.%s", i, c.path),
					"%s is not in spec.relatedImages: mirroring for a disconnected cluster would miss it", c.image)
			}
		}
	}
	if csv.GetAnnotations()[annDisconnected] == "true" && !allDigests {
		ps.Errorf(check, file, "metadata.annotations."+annDisconnected, `"true" needs every related image pinned by digest`)
	}
	return ps
}

type containerRef struct{ path, image string }

func refsOf(kind string, cs []corev1.Container) []containerRef {
	var out []containerRef
	for i, c := range cs {
		out = append(out, containerRef{path: fmt.Sprintf("%s[%d].image", kind, i), image: c.Image})
		for j, e := range c.Env {
			if strings.HasPrefix(e.Name, relatedImagePrefix) && e.Value != "" {
				out = append(out, containerRef{path: fmt.Sprintf("%s[%d].env[%d].value", kind, i, j), image: e.Value})
			}
		}
	}
	return out
}

// checkInstallModes checks that each of OLM's install modes is listed, with
// a known type (the csv validator checks duplicates and that one is
// supported).
func checkInstallModes(ps *problem.List, check, file string, modes []v1alpha1.InstallMode) {
	seen := map[v1alpha1.InstallModeType]bool{}
	for i, m := range modes {
		if !containsMode(m.Type) {
			ps.Errorf(check, file, fmt.Sprintf("spec.installModes[%d].type", i), "%q is not an install mode", m.Type)
		}
		seen[m.Type] = true
	}
	for _, t := range installModes {
		if !seen[t] {
			ps.Errorf(check, file, "spec.installModes", "no entry for %s: say whether it is supported", t)
		}
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

// checkURL checks that s is an http(s) URL.
func checkURL(ps *problem.List, check, file, field, s string) {
	u, err := url.ParseRequestURI(s)
	if s != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		ps.Errorf(check, file, field, "%q is not an http(s) URL", s)
	}
}
