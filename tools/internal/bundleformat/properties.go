package bundleformat

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/property"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// TypeMaxOpenShiftVersion is the property that caps the OpenShift minor
// version a cluster may upgrade to while the operator is installed.
const TypeMaxOpenShiftVersion = "olm.maxOpenShiftVersion"

// CheckPropertiesFile reads metadata/properties.yaml (file) and checks its
// properties; problems name display and the property's field.
func CheckPropertiesFile(file, display string) problem.List {
	var ps problem.List
	data, err := os.ReadFile(file)
	if err != nil {
		ps.Errorf("properties", display, "", "%v", err)
		return ps
	}
	var doc struct {
		Properties []property.Property `json:"properties"`
	}
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		ps.Errorf("properties", display, "", "not a bundle properties file (properties: [{type, value}]): %v", err)
		return ps
	}
	return CheckProperties(doc.Properties, func(i int) problem.Problem {
		return problem.Problem{Check: "properties", File: display, Field: fmt.Sprintf("properties[%d]", i)}
	})
}

// CheckProperties checks every property's value as OLM and opm parse it:
// the types operator-registry knows with its own parser, and
// olm.maxOpenShiftVersion as OLM's openshift controller does (one at most,
// a quoted or bare MAJOR.MINOR, nothing more), so that a value OLM fails
// closed on, blocking cluster upgrades, never ships. at locates the i-th
// property (a bundle file or a catalog's olm.bundle); every problem is
// reported. Catalog validation uses it for olm.bundle properties.
func CheckProperties(props []property.Property, at func(i int) problem.Problem) problem.List {
	var ps problem.List
	maxOCP := -1
	for i, p := range props {
		field := func(f string) problem.Problem {
			pr := at(i)
			pr.Field += f
			return pr
		}
		if err := p.Validate(); err != nil {
			ps.Addf(field(""), "%v", err)
			continue
		}
		if p.Type == TypeMaxOpenShiftVersion {
			if maxOCP >= 0 {
				ps.Addf(field(".type"), "a second %s (the first is properties[%d]): OLM refuses more than one", p.Type, maxOCP)
			}
			maxOCP = i
			if err := checkMaxOpenShiftVersion(p.Value); err != nil {
				ps.Addf(field(".value"), "%s %v: OLM fails closed on it and blocks cluster upgrades", p.Type, err)
			}
			continue
		}
		if _, err := property.Parse([]property.Property{p}); err != nil {
			ps.Addf(field(".value"), "%s: %v", p.Type, err)
		}
	}
	return ps
}

// checkMaxOpenShiftVersion parses an olm.maxOpenShiftVersion value as OLM
// v0.46.0 does (pkg/controller/operators/openshift/helpers.go,
// maxOpenShiftVersion): quotes trimmed, not empty, semver.ParseTolerant,
// and only MAJOR.MINOR.
func checkMaxOpenShiftVersion(raw json.RawMessage) error {
	var value string
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		value = s
	} else {
		value = string(raw) // a bare number, 4.14
	}
	value = strings.Trim(value, `"`)
	if value == "" {
		return fmt.Errorf(`value cannot be "" (an empty string)`)
	}
	v, err := semver.ParseTolerant(value)
	if err != nil {
		return fmt.Errorf("%q is not MAJOR.MINOR (OLM parses it as semver: %v)", value, err)
	}
	if truncated := (semver.Version{Major: v.Major, Minor: v.Minor}); !v.EQ(truncated) {
		return fmt.Errorf("%q must specify only MAJOR.MINOR (e.g. %d.%d)", value, v.Major, v.Minor)
	}
	return nil
}
