package graph

import (
	"strings"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// catalogOf builds a one-package catalog: bundles by name → version.
func catalogOf(bundles map[string]string, channels ...declcfg.Channel) *declcfg.DeclarativeConfig {
	cfg := &declcfg.DeclarativeConfig{
		Packages: []declcfg.Package{{Schema: declcfg.SchemaPackage, Name: "op", DefaultChannel: "alpha"}},
		Channels: channels,
	}
	for name, v := range bundles {
		cfg.Bundles = append(cfg.Bundles, declcfg.Bundle{
			Schema: declcfg.SchemaBundle, Name: name, Package: "op", Image: "example.com/op-bundle:v" + v,
			Properties: []property.Property{property.MustBuildPackage("op", v)},
		})
	}
	return cfg
}

func channel(name string, entries ...declcfg.ChannelEntry) declcfg.Channel {
	return declcfg.Channel{Schema: declcfg.SchemaChannel, Name: name, Package: "op", Entries: entries}
}

var threeBundles = map[string]string{"op.v0.1.0": "0.1.0", "op.v0.1.1": "0.1.1", "op.v0.2.0": "0.2.0"}

// expectProblem fails unless exactly one problem mentions bundle, field and
// every fragment.
func expectProblem(t *testing.T, problems problem.List, bundle, field string, fragments ...string) {
	t.Helper()
	var found []problem.Problem
	for _, p := range problems {
		msg := p.Error()
		if p.Bundle != bundle || !strings.Contains(p.Field, field) || !strings.Contains(msg, bundle) || !strings.Contains(msg, field) {
			continue
		}
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(msg, f)
		}
		if ok {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Errorf("want exactly one problem for bundle %q field %q containing %q; got %d in:\n%v", bundle, field, fragments, len(found), problems.Err("graph"))
	}
}

func TestCheckUnboundedSkipRange(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0", SkipRange: ">=0.1.0 <0.1.1"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1", SkipRange: ">=0.1.0"},
	))
	p := Check(cfg)
	expectProblem(t, p, "op.v0.2.0", "skipRange", "no upper bound")
	// ">=0.1.0" also holds 0.2.0 itself.
	expectProblem(t, p, "op.v0.2.0", "skipRange", "holds the bundle's own version")
}

func TestCheckDanglingBundle(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.0", SkipRange: ">=0.1.0 <0.2.0"},
	))
	p := Check(cfg)
	expectProblem(t, p, "op.v0.1.1", "channels", "dangling")
	if len(p) != 1 {
		t.Errorf("want only the dangling bundle, got %v", p.Err("graph"))
	}
}

func TestCheckLoop(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0", Replaces: "op.v0.1.1"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1"},
	))
	p := Check(cfg)
	expectProblem(t, p, "op.v0.1.0", "replaces", "upgrade loop", "op.v0.1.0 -> op.v0.1.1 (by its replaces) -> op.v0.1.0 (by its replaces)")
}

func TestCheckSkipRangeLoop(t *testing.T) {
	// 0.1.0 skipRange-covers 0.1.1, which replaces 0.1.0.
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0", SkipRange: ">=0.1.1 <0.1.2"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1"},
	))
	expectProblem(t, Check(cfg), "op.v0.1.0", "replaces/skipRange", "upgrade loop")
}

func TestCheckMistypedReplacesTarget(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.9", Skips: []string{"op.v0.0.1"}},
	))
	p := Check(cfg)
	// A target that is not in the catalog may be a pruned release; with its
	// replaces pointing nowhere, 0.2.0 is a second head.
	if len(p) != 1 || !strings.Contains(p.Err("graph").Error(), "2 channel heads (op.v0.1.1, op.v0.2.0)") {
		t.Errorf("want only a two-heads problem, got %v", p.Err("graph"))
	}
}

// TestCheckPrunedOldestRelease is input 6 of issue 13: the oldest release
// was pruned (its olm.bundle and channel entry removed) while the next one
// still replaces and skips it. opm accepts that and OLM resolves it.
func TestCheckPrunedOldestRelease(t *testing.T) {
	cfg := catalogOf(map[string]string{"op.v0.1.1": "0.1.1", "op.v0.2.0": "0.2.0"}, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1", Skips: []string{"op.v0.1.0"}, SkipRange: ">=0.1.0 <0.2.0"},
	))
	if p := Check(cfg); len(p) != 0 {
		t.Errorf("a pruned oldest release is refused: %v", p.Err("graph"))
	}
}

// TestCheckDefaultChannel is input 7 of issue 13: the problem names
// defaultChannel, not only opm's "channel must contain at least one bundle".
func TestCheckDefaultChannel(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1"},
	))
	cfg.Packages[0].DefaultChannel = "stable"
	p := Check(cfg)
	if len(p) != 1 || p[0].Field != "defaultChannel" || !strings.Contains(p[0].Error(), `package "op": defaultChannel: "stable" is not a channel of the package (its channels: alpha)`) {
		t.Errorf("want one defaultChannel problem, got %v", p.Err("graph"))
	}
}

func TestCheckReplacesTargetOutsideChannel(t *testing.T) {
	cfg := catalogOf(threeBundles,
		channel("alpha",
			declcfg.ChannelEntry{Name: "op.v0.1.0"},
			declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"}),
		channel("stable",
			declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1"}),
	)
	expectProblem(t, Check(cfg), "op.v0.2.0", "replaces", `not an entry of channel "stable"`)
}

func TestCheckSkipRangeInconsistentWithReplaces(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0", SkipRange: ">=0.1.0 <0.1.1"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1", SkipRange: ">=0.1.0 <0.1.1"},
	))
	expectProblem(t, Check(cfg), "op.v0.2.0", "skipRange", "does not hold 0.1.1", "disagree")
}

func TestCheckSkipRangeDoesNotParse(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1", SkipRange: "from 0.1 on"},
	))
	expectProblem(t, Check(cfg), "op.v0.2.0", "skipRange", "does not parse")
}

func TestCheckDowngrade(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.2.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.2.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.0", Replaces: "op.v0.1.1"},
	))
	p := Check(cfg)
	expectProblem(t, p, "op.v0.1.1", "replaces", "downgrade")
	expectProblem(t, p, "op.v0.1.0", "replaces", "downgrade")
}

func TestCheckUnreachableHead(t *testing.T) {
	// With one head, an entry can only miss it through a loop that has no
	// way out: 0.1.0 and 0.1.1 replace each other, nothing leads to 0.2.0.
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0", Replaces: "op.v0.1.1"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.2.0"},
	))
	p := Check(cfg)
	expectProblem(t, p, "op.v0.1.0", "replaces", `cannot upgrade to the channel head "op.v0.2.0"`)
	expectProblem(t, p, "op.v0.1.1", "replaces", `cannot upgrade to the channel head "op.v0.2.0"`)
	expectProblem(t, p, "op.v0.1.0", "replaces", "upgrade loop")
}

func TestCheckSkipsOnlyGraph(t *testing.T) {
	cfg := catalogOf(threeBundles, channel("alpha",
		declcfg.ChannelEntry{Name: "op.v0.1.0"},
		declcfg.ChannelEntry{Name: "op.v0.1.1", Skips: []string{"op.v0.1.0"}},
		declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1", Skips: []string{"op.v0.1.0"}},
	))
	if p := Check(cfg); len(p) != 0 {
		t.Errorf("every bundle reaches the head: %v", p.Err("graph"))
	}
}

func TestCheckReportsEveryProblemAtOnce(t *testing.T) {
	cfg := catalogOf(map[string]string{"op.v0.1.0": "0.1.0", "op.v0.1.1": "0.1.1", "op.v0.2.0": "0.2.0", "op.v0.3.0": "0.3.0", "op.v0.4.0": "0.4.0"},
		channel("alpha",
			declcfg.ChannelEntry{Name: "op.v0.1.0"},
			declcfg.ChannelEntry{Name: "op.v0.1.1", Replaces: "op.v0.1.0", SkipRange: ">=0.1.0"},
			declcfg.ChannelEntry{Name: "op.v0.2.0", Replaces: "op.v0.1.1", SkipRange: ">=0.3.0 <0.3.1"},
			declcfg.ChannelEntry{Name: "op.v0.3.0", Replaces: "op.v0.2.9"},
		))
	p := Check(cfg)
	expectProblem(t, p, "op.v0.1.1", "skipRange", "no upper bound")
	expectProblem(t, p, "op.v0.2.0", "skipRange", "disagree")
	expectProblem(t, p, "op.v0.2.0", "skipRange", "holds newer bundles of the channel (op.v0.3.0)")
	// op.v0.3.0 replaces op.v0.2.9, which is not in the catalog: a second head.
	if !strings.Contains(p.Err("graph").Error(), "2 channel heads (op.v0.2.0, op.v0.3.0)") {
		t.Errorf("want a two-heads problem, got %v", p.Err("graph"))
	}
	expectProblem(t, p, "op.v0.4.0", "channels", "dangling")
	if len(p) < 4 {
		t.Errorf("want at least 4 problems, got %v", p.Err("graph"))
	}
	err := p.Err("graph")
	t.Log(err)
	if !strings.Contains(err.Error(), "problems:") {
		t.Errorf("the error lists the problems: %v", err)
	}
}

func TestAnalyzeEdgesAndHeads(t *testing.T) {
	entries := []declcfg.ChannelEntry{
		{Name: "op.v0.1.0"},
		{Name: "op.v0.1.1", Replaces: "op.v0.1.0", SkipRange: ">=0.1.0 <0.1.1"},
		{Name: "op.v0.2.0", Replaces: "op.v0.1.1", SkipRange: ">=0.1.0 <0.2.0"},
	}
	g, p := Analyze(catalogOf(threeBundles, channel("alpha", entries...)))
	if len(p) > 0 {
		t.Fatal(p.Err("graph"))
	}
	if h := g.Heads["op"]["alpha"]; h != "op.v0.2.0" {
		t.Errorf("head = %q, want op.v0.2.0", h)
	}
	var got []string
	for _, e := range g.Edges {
		got = append(got, e.From+">"+e.To+":"+string(e.Kind))
	}
	// In entry order: each entry's replaces, then its skipRange edges.
	want := "op.v0.1.0>op.v0.1.1:replaces op.v0.1.0>op.v0.1.1:skipRange op.v0.1.1>op.v0.2.0:replaces op.v0.1.0>op.v0.2.0:skipRange op.v0.1.1>op.v0.2.0:skipRange"
	if strings.Join(got, " ") != want {
		t.Errorf("edges:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}
