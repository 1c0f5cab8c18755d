package bundleformat

import (
	"fmt"
	"strings"

	"github.com/blang/semver/v4"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// CheckVersion checks an operator version as a bundle and a release take
// it: a semantic version without a leading v and without build metadata,
// which makes a valid CSV name <pkg>.v<version> (a Kubernetes object name:
// no '+', no upper case). OLM orders bundles by this version and ignores
// build metadata.
func CheckVersion(version, pkg string) error {
	v, err := semver.Parse(version)
	switch {
	case version == "":
		return fmt.Errorf("required: the operator's semantic version (VERSION), e.g. 0.1.0")
	case strings.HasPrefix(version, "v"):
		return fmt.Errorf("%q: give the version without the leading v (the CSV is named %s.v<version>)", version, pkg)
	case err != nil:
		return fmt.Errorf("%q is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE]): %w", version, err)
	case len(v.Build) > 0:
		return fmt.Errorf("%q has build metadata (+%s): the CSV is named %s.v<version>, a Kubernetes object name, which cannot hold '+'; OLM also ignores build metadata when it orders versions", version, strings.Join(v.Build, "."), pkg)
	}
	name := pkg + ".v" + version
	if errs := k8svalidation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%q makes the CSV name %q, which is not a Kubernetes object name: %s", version, name, strings.Join(errs, "; "))
	}
	return nil
}
