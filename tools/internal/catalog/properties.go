package catalog

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// MaxOpenShiftVersionProperty is the bundle property that caps the OpenShift
// version a cluster may upgrade to while the operator is installed.
const MaxOpenShiftVersionProperty = "olm.maxOpenShiftVersion"

// checkBundleProperties checks bundle properties as OLM parses them: a
// value OLM cannot parse makes it block every cluster upgrade (it fails
// closed). Only olm.maxOpenShiftVersion is checked here, as OLM's
// openshift controller parses it (operator-lifecycle-manager
// pkg/controller/operators/openshift, maxOpenShiftVersion): one property at
// most, a non-empty <major>.<minor> version.
//
// TODO: use the check of package bundleformat (the bundle format's owner)
// once it exports one, so that bundle and catalog validation share it.
func checkBundleProperties(cfg *declcfg.DeclarativeConfig) problem.List {
	var problems problem.List
	for _, b := range cfg.Bundles {
		n := 0
		for i, p := range b.Properties {
			if p.Type != MaxOpenShiftVersionProperty {
				continue
			}
			at := problem.Problem{Package: b.Package, Bundle: b.Name, Field: fmt.Sprintf("properties[%d] %s", i, MaxOpenShiftVersionProperty)}
			if n++; n == 2 {
				problems.Addf(at, "defined more than once: OLM refuses that")
			}
			if err := parseMaxOpenShiftVersion(p.Value); err != nil {
				problems.Addf(at, "%v: OLM cannot parse it and blocks every cluster upgrade while the operator is installed", err)
			}
		}
	}
	return problems
}

func parseMaxOpenShiftVersion(raw json.RawMessage) error {
	value := strings.Trim(string(raw), `"`)
	if value == "" {
		return fmt.Errorf(`value cannot be "" (an empty string)`)
	}
	v, err := semver.ParseTolerant(value)
	if err != nil {
		return fmt.Errorf("%q is not a version: %v", value, err)
	}
	if !v.EQ(semver.Version{Major: v.Major, Minor: v.Minor}) {
		return fmt.Errorf("%q must be only <major>.<minor>, such as \"4.18\"", value)
	}
	return nil
}
