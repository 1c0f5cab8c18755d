package bundle

import (
	"fmt"
	"strings"

	"github.com/blang/semver/v4"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/kubeversion"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// checkKubeVersions names the problems of the Kubernetes and OpenShift
// versions a bundle claims.
const checkKubeVersions = "kube-versions"

// fieldOpenShiftVersions is the annotation's field in annotations.yaml.
const fieldOpenShiftVersions = "annotations." + bundleformat.LabelOpenShiftVersions

// parseTested reads the --kube-versions flag; nil without it.
func parseTested(items []string) (kubeversion.Tested, problem.List) {
	var ps problem.List
	if len(items) == 0 {
		return nil, ps
	}
	tested, err := kubeversion.ParseTested(items)
	if err != nil {
		ps.Errorf("options", "--kube-versions", "", "%v", err)
		return nil, ps
	}
	if _, err := kubeversion.OpenShiftVersions(tested.Floor()); err != nil {
		ps.Errorf("options", "--kube-versions", "", "the lowest version, %s: %v", tested.Floor(), err)
	}
	return tested, ps
}

// versionClaims are what a bundle says about the versions it installs on:
// the CSV's spec.minKubeVersion and annotations.yaml's
// com.redhat.openshift.versions, with the files that say it.
type versionClaims struct {
	minKube, csvFile           string
	openShift, annotationsFile string
	// hasOpenShift is whether the annotation is there at all.
	hasOpenShift bool
}

// checkVersionClaims checks that minKubeVersion is a version the tests
// passed on (none lower than the floor) when tested is given, and that the
// OpenShift annotation is the release of minKubeVersion. A bundle without
// the annotation, validated without tested versions (a release made before
// they were derived), is not checked.
func checkVersionClaims(c versionClaims, tested kubeversion.Tested) problem.List {
	var ps problem.List
	if tested == nil && !c.hasOpenShift {
		return ps
	}
	const field = "spec.minKubeVersion"
	if c.minKube == "" {
		ps.Errorf(checkKubeVersions, c.csvFile, field, "missing: the bundle names the OpenShift releases it is for (%s), and OLM must refuse clusters older than the lowest Kubernetes version the tests passed on", bundleformat.LabelOpenShiftVersions)
		return ps
	}
	minKube, err := semver.Parse(c.minKube)
	if err != nil {
		return ps // the operatorhub validator reports a minKubeVersion that is not semver
	}
	if tested != nil {
		ps.Add(checkCovered(minKube, tested, c.csvFile)...)
	}
	want, err := kubeversion.OpenShiftVersions(minKube)
	switch {
	case err != nil:
		ps.Errorf(checkKubeVersions, c.csvFile, field, "%v", err)
	case !c.hasOpenShift:
		ps.Errorf(checkKubeVersions, c.annotationsFile, fieldOpenShiftVersions, "missing: spec.minKubeVersion %s of %s is OpenShift %s and later, so the value is %q", c.minKube, c.csvFile, strings.TrimPrefix(want, "v"), want)
	case c.openShift != want:
		ps.Errorf(checkKubeVersions, c.annotationsFile, fieldOpenShiftVersions, "%q disagrees with spec.minKubeVersion %s of %s: the first OpenShift release with Kubernetes 1.%d is %s, so the value is %q",
			c.openShift, c.minKube, c.csvFile, minKube.Minor, strings.TrimPrefix(want, "v"), want)
	}
	return ps
}

// checkCovered refuses a minKubeVersion below the floor or that no test ran on.
func checkCovered(minKube semver.Version, tested kubeversion.Tested, file string) problem.List {
	var ps problem.List
	const field = "spec.minKubeVersion"
	switch {
	case minKube.LT(tested.Floor()):
		ps.Errorf(checkKubeVersions, file, field, "%s is below %s, the lowest Kubernetes version the tests passed on (%s): OLM would install the operator where no test ran; `make bundle` writes %s",
			minKube, tested.Floor(), tested, tested.MinKubeVersion())
	case !tested.Covers(minKube):
		ps.Errorf(checkKubeVersions, file, field, "%s is not a Kubernetes version the tests passed on (%s); `make bundle` writes the lowest, %s",
			minKube, tested, tested.MinKubeVersion())
	}
	return ps
}

// baseMinKubeVersion refuses a CSV base that types minKubeVersion: it is
// derived from the versions the tests passed on, never typed.
func baseMinKubeVersion(typed, file string) problem.List {
	var ps problem.List
	if typed != "" {
		ps.Errorf(checkGenerate, file, "spec.minKubeVersion", "%q is typed in the CSV base: `make bundle` writes the lowest Kubernetes version the tests passed on (--kube-versions: K8S_COMPAT_VERSIONS and the newest); remove the field", typed)
	}
	return ps
}

// describeTested is how notes name the derived versions.
func describeTested(tested kubeversion.Tested, openShift string) string {
	return fmt.Sprintf("minKubeVersion %s (the lowest of %s), %s %s", tested.MinKubeVersion(), tested, bundleformat.LabelOpenShiftVersions, openShift)
}
