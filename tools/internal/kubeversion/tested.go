package kubeversion

import (
	"fmt"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
)

// Tested are the Kubernetes versions the tests passed on, lowest first,
// each once.
type Tested []semver.Version

// ParseTested reads the versions the tests ran on, each v1.MINOR.PATCH or
// 1.MINOR.PATCH, in any order; an item may hold several separated by commas
// or blanks (a make variable passed as one flag). Every bad item is named.
func ParseTested(items []string) (Tested, error) {
	var t Tested
	var bad []string
	for _, item := range items {
		for _, s := range strings.FieldsFunc(item, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			v, err := Parse(s)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			t = append(t, v)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("no Kubernetes version given: list the versions the tests passed on (K8S_COMPAT_VERSIONS and the newest)")
	}
	slices.SortFunc(t, func(a, b semver.Version) int { return a.Compare(b) })
	return slices.CompactFunc(t, func(a, b semver.Version) bool { return a.EQ(b) }), nil
}

// Parse reads one Kubernetes release version, v1.MINOR.PATCH or
// 1.MINOR.PATCH, without pre-release or build parts: the versions tests run
// on are releases.
func Parse(s string) (semver.Version, error) {
	v, err := semver.Parse(strings.TrimPrefix(s, "v"))
	switch {
	case err != nil:
		return v, fmt.Errorf("%q is not a Kubernetes version (v1.MINOR.PATCH): %w", s, err)
	case v.Major != 1 || len(v.Pre) > 0 || len(v.Build) > 0:
		return v, fmt.Errorf("%q is not a Kubernetes release version (v1.MINOR.PATCH)", s)
	}
	return v, nil
}

// Floor is the lowest version the tests passed on.
func (t Tested) Floor() semver.Version { return t[0] }

// Newest is the highest version the tests passed on.
func (t Tested) Newest() semver.Version { return t[len(t)-1] }

// Covers reports whether the tests ran on exactly v.
func (t Tested) Covers(v semver.Version) bool {
	return slices.ContainsFunc(t, func(x semver.Version) bool { return x.EQ(v) })
}

// MinKubeVersion is the CSV's minKubeVersion: the floor itself, not its
// minor's .0, so that OLM installs the operator only where a tested
// version or a later one runs (docs/compatibility.md, "minKubeVersion").
func (t Tested) MinKubeVersion() string { return t.Floor().String() }

// String lists the versions: "1.25.15, 1.30.14, 1.37.2".
func (t Tested) String() string {
	s := make([]string, len(t))
	for i, v := range t {
		s[i] = v.String()
	}
	return strings.Join(s, ", ")
}
