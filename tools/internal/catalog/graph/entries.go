// Package graph computes the upgrade edges of a file-based catalog's channels
// and checks the upgrade graph the way OperatorHub's CI does, beyond what
// `opm validate` checks: no dangling bundle, no loop, every bundle reaches its
// channel head, every replaces/skips target exists, every skipRange parses,
// is bounded and agrees with replaces.
package graph

import (
	"fmt"
	"slices"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
)

// Release is one bundle of a channel: its name (the CSV's name) and version.
type Release struct {
	Name    string
	Version semver.Version
}

// Entries returns the entries of a channel holding releases, in ascending
// version order. Edges are computed, never hand-written: every release but the
// oldest replaces the release before it (the channel head it supersedes) and
// carries a bounded skipRange from the start of the replaced release's
// z-stream up to, not including, itself (see SkipRange), so that users on any
// release of that z-stream upgrade to it in one step. The oldest release has
// neither.
//
// Two releases whose versions differ only in build metadata are an error, as
// in opm's semver template: semver ignores build metadata when ordering.
func Entries(releases []Release) ([]declcfg.ChannelEntry, error) {
	sorted := slices.Clone(releases)
	slices.SortStableFunc(sorted, func(a, b Release) int { return a.Version.Compare(b.Version) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i-1].Version.Compare(sorted[i].Version) == 0 {
			return nil, fmt.Errorf("bundles %q (%s) and %q (%s) have the same version: versions that differ only in build metadata cannot be ordered",
				sorted[i-1].Name, sorted[i-1].Version, sorted[i].Name, sorted[i].Version)
		}
	}
	entries := make([]declcfg.ChannelEntry, 0, len(sorted))
	for i, r := range sorted {
		e := declcfg.ChannelEntry{Name: r.Name}
		if i > 0 {
			prev := sorted[i-1]
			e.Replaces = prev.Name
			e.SkipRange = SkipRange(prev.Version, r.Version)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// SkipRange returns the skipRange of a release of version v that replaces a
// release of version replaced: ">=X.Y.0 <v" where X.Y is the replaced
// release's minor version (">=replaced <v" when replaced is a pre-release of
// X.Y.0). The range is bounded, holds replaced, and never holds v.
//
//	SkipRange(0.1.0, 0.2.0) == ">=0.1.0 <0.2.0"
//	SkipRange(0.1.0, 0.1.1) == ">=0.1.0 <0.1.1"
//	SkipRange(0.1.1, 0.1.2) == ">=0.1.0 <0.1.2"
func SkipRange(replaced, v semver.Version) string {
	replaced.Build = nil
	v.Build = nil
	lower := semver.Version{Major: replaced.Major, Minor: replaced.Minor}
	if replaced.LT(lower) {
		lower = replaced
	}
	return fmt.Sprintf(">=%s <%s", lower, v)
}
