package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// EdgeKind says which channel entry field makes an upgrade edge.
type EdgeKind string

// The three ways an entry can supersede another.
const (
	KindReplaces  EdgeKind = "replaces"
	KindSkips     EdgeKind = "skips"
	KindSkipRange EdgeKind = "skipRange"
)

// Edge is one possible upgrade in a channel: a cluster running From may
// upgrade to To, because To's entry replaces, skips or skipRange-covers From.
type Edge struct {
	Package string
	Channel string
	From    string
	To      string
	Kind    EdgeKind
}

// Graph is the upgrade graph of a catalog.
type Graph struct {
	// Versions maps package → bundle name → version (from olm.package).
	Versions map[string]map[string]semver.Version
	// Edges in a stable order: package, channel, entry order.
	Edges []Edge
	// Heads maps package → channel → the channel head, where there is exactly one.
	Heads map[string]map[string]string
}

// maxVersion is above any real version; a range that holds it has no upper bound.
var maxVersion = semver.Version{Major: math.MaxUint64, Minor: math.MaxUint64, Patch: math.MaxUint64}

// Bounded reports whether a parsed range has an upper bound.
func Bounded(r semver.Range) bool { return !r(maxVersion) }

// Analyze builds the upgrade graph of cfg and checks it. It reports every
// problem it finds, never only the first.
func Analyze(cfg *declcfg.DeclarativeConfig) (*Graph, problem.List) {
	var problems problem.List
	g := &Graph{
		Versions: map[string]map[string]semver.Version{},
		Heads:    map[string]map[string]string{},
	}

	bundlesByPkg := map[string][]string{}
	for _, b := range cfg.Bundles {
		if g.Versions[b.Package] == nil {
			g.Versions[b.Package] = map[string]semver.Version{}
		}
		bundlesByPkg[b.Package] = append(bundlesByPkg[b.Package], b.Name)
		v, err := bundleVersion(b)
		if err != nil {
			problems.Add(problem.Problem{Package: b.Package, Bundle: b.Name, Field: property.TypePackage, Message: err.Error()})
			continue
		}
		g.Versions[b.Package][b.Name] = v
	}

	channelsByPkg := map[string][]declcfg.Channel{}
	for _, c := range cfg.Channels {
		channelsByPkg[c.Package] = append(channelsByPkg[c.Package], c)
	}
	pkgs := map[string]bool{}
	for p := range bundlesByPkg {
		pkgs[p] = true
	}
	for p := range channelsByPkg {
		pkgs[p] = true
	}
	pkgNames := make([]string, 0, len(pkgs))
	for p := range pkgs {
		pkgNames = append(pkgNames, p)
	}
	sort.Strings(pkgNames)

	for _, p := range cfg.Packages {
		if p.DefaultChannel == "" {
			problems.Add(problem.Problem{Package: p.Name, Field: "defaultChannel", Message: "must be set: the channel a Subscription without a channel follows"})
		} else if !slices.ContainsFunc(channelsByPkg[p.Name], func(c declcfg.Channel) bool { return c.Name == p.DefaultChannel }) {
			problems.Add(problem.Problem{Package: p.Name, Field: "defaultChannel", Message: fmt.Sprintf("%q is not a channel of the package (its channels: %s)", p.DefaultChannel, strings.Join(channelNames(channelsByPkg[p.Name]), ", "))})
		}
	}
	for _, pkg := range pkgNames {
		channels := channelsByPkg[pkg]
		sort.SliceStable(channels, func(i, j int) bool { return channels[i].Name < channels[j].Name })
		bundleSet := map[string]bool{}
		for _, name := range bundlesByPkg[pkg] {
			bundleSet[name] = true
		}
		inChannel := map[string]bool{}
		for _, ch := range channels {
			cg := newChannelGraph(pkg, ch, bundleSet, g.Versions[pkg], &problems)
			for name := range cg.index {
				inChannel[name] = true
			}
			g.Edges = append(g.Edges, cg.edges...)
			if head := cg.check(&problems); head != "" {
				if g.Heads[pkg] == nil {
					g.Heads[pkg] = map[string]string{}
				}
				g.Heads[pkg][ch.Name] = head
			}
		}
		names := slices.Clone(bundlesByPkg[pkg])
		sort.Strings(names)
		for _, name := range names {
			if !inChannel[name] {
				problems.Add(problem.Problem{Package: pkg, Bundle: name, Field: "channels",
					Message: "dangling bundle: it is an entry of no olm.channel, so no subscription can install it or upgrade to it"})
			}
		}
	}
	return g, problems
}

func channelNames(channels []declcfg.Channel) []string {
	names := make([]string, 0, len(channels))
	for _, c := range channels {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return names
}

// Check is Analyze without the graph.
func Check(cfg *declcfg.DeclarativeConfig) problem.List {
	_, p := Analyze(cfg)
	return p
}

func bundleVersion(b declcfg.Bundle) (semver.Version, error) {
	var found *property.Package
	for _, p := range b.Properties {
		if p.Type != property.TypePackage {
			continue
		}
		if found != nil {
			return semver.Version{}, fmt.Errorf("more than one %s property", property.TypePackage)
		}
		var pp property.Package
		if err := json.Unmarshal(p.Value, &pp); err != nil {
			return semver.Version{}, fmt.Errorf("parse %s property: %v", property.TypePackage, err)
		}
		found = &pp
	}
	if found == nil {
		return semver.Version{}, fmt.Errorf("no %s property: the bundle has no version", property.TypePackage)
	}
	v, err := semver.Parse(found.Version)
	if err != nil {
		return semver.Version{}, fmt.Errorf("version %q is not semver: %v", found.Version, err)
	}
	return v, nil
}

type channelGraph struct {
	pkg, name string
	entries   []declcfg.ChannelEntry // unique, named entries in file order
	index     map[string]int
	versions  map[string]semver.Version
	edges     []Edge
	in, out   [][]int // edge indexes into edges, by entry index (To, From)
	// targeted marks entries some other entry replaces or skips (OLM's and
	// opm's definition of "not the head").
	targeted map[string]bool
	bundles  map[string]bool // the package's bundles
	problems *problem.List
}

func newChannelGraph(pkg string, ch declcfg.Channel, bundles map[string]bool, versions map[string]semver.Version, problems *problem.List) *channelGraph {
	cg := &channelGraph{pkg: pkg, name: ch.Name, index: map[string]int{}, versions: versions, targeted: map[string]bool{}, bundles: bundles, problems: problems}
	for i, e := range ch.Entries {
		_, dup := cg.index[e.Name]
		switch {
		case e.Name == "":
			problems.Addf(cg.at("", fmt.Sprintf("entries[%d].name", i)), "empty entry name")
			continue
		case dup:
			problems.Addf(cg.at(e.Name, "entries"), "listed more than once in the channel")
			continue
		case !bundles[e.Name]:
			problems.Addf(cg.at(e.Name, "entries"), "no olm.bundle of that name in package %q", pkg)
		}
		cg.index[e.Name] = len(cg.entries)
		cg.entries = append(cg.entries, e)
	}
	cg.in = make([][]int, len(cg.entries))
	cg.out = make([][]int, len(cg.entries))
	for _, e := range cg.entries {
		if e.Replaces != "" {
			cg.target(e, e.Replaces, KindReplaces, "replaces")
		}
		for i, s := range e.Skips {
			if s == "" {
				problems.Addf(cg.at(e.Name, fmt.Sprintf("skips[%d]", i)), "empty bundle name")
				continue
			}
			cg.target(e, s, KindSkips, fmt.Sprintf("skips[%d]", i))
		}
		if e.SkipRange != "" {
			cg.skipRange(e)
		}
	}
	return cg
}

func (cg *channelGraph) at(bundle, field string) problem.Problem {
	return problem.Problem{Package: cg.pkg, Channel: cg.name, Bundle: bundle, Field: field}
}

func (cg *channelGraph) addEdge(from, to string, kind EdgeKind) {
	cg.edges = append(cg.edges, Edge{Package: cg.pkg, Channel: cg.name, From: from, To: to, Kind: kind})
	i := len(cg.edges) - 1
	cg.in[cg.index[to]] = append(cg.in[cg.index[to]], i)
	cg.out[cg.index[from]] = append(cg.out[cg.index[from]], i)
}

// target checks the target t of a replaces or skips of e and adds the edge.
func (cg *channelGraph) target(e declcfg.ChannelEntry, t string, kind EdgeKind, field string) {
	cg.targeted[t] = true
	switch {
	case t == e.Name:
		cg.problems.Addf(cg.at(e.Name, field), "upgrade loop: the bundle %s itself", kind)
		return
	case !cg.bundles[t]:
		// A pruned release: opm accepts it and OLM resolves the channel
		// without it. No edge; a mistyped name leaves the bundle it should
		// have named as a second head.
		return
	}
	v, vok := cg.versions[e.Name]
	tv, tok := cg.versions[t]
	if vok && tok && !tv.LT(v) {
		cg.problems.Addf(cg.at(e.Name, field), "%s %q, whose version %s is not older than %s: that edge would be a downgrade", kind, t, tv, v)
	}
	if _, ok := cg.index[t]; !ok {
		if kind == KindReplaces {
			cg.problems.Addf(cg.at(e.Name, field), "replaces %q, which is not an entry of channel %q: the channel's replaces chain is broken there", t, cg.name)
		}
		return
	}
	cg.addEdge(t, e.Name, kind)
}

// skipRange checks the skipRange of e and adds an edge from every entry it holds.
func (cg *channelGraph) skipRange(e declcfg.ChannelEntry) {
	at := cg.at(e.Name, "skipRange")
	r, err := semver.ParseRange(e.SkipRange)
	if err != nil {
		cg.problems.Addf(at, "%q does not parse as a semver range: %v", e.SkipRange, err)
		return
	}
	if !Bounded(r) {
		cg.problems.Addf(at, "%q has no upper bound: it would also skip every later release; end it below the bundle's own version (\"<%s\")", e.SkipRange, versionOr(cg.versions, e.Name, "X.Y.Z"))
	}
	v, vok := cg.versions[e.Name]
	if vok && r(v) {
		cg.problems.Addf(at, "%q holds the bundle's own version %s: upgrade loop", e.SkipRange, v)
	}
	if rv, ok := cg.versions[e.Replaces]; e.Replaces != "" && ok && !r(rv) {
		cg.problems.Addf(at, "%q does not hold %s, the version of the replaced bundle %q: skipRange and replaces disagree", e.SkipRange, rv, e.Replaces)
	}
	var newer []string
	for _, o := range cg.entries {
		ov, ok := cg.versions[o.Name]
		if !ok || o.Name == e.Name || !r(ov) {
			continue
		}
		if vok && v.LT(ov) {
			newer = append(newer, o.Name)
		}
		cg.addEdge(o.Name, e.Name, KindSkipRange)
	}
	if len(newer) > 0 {
		cg.problems.Addf(at, "%q holds newer bundles of the channel (%s): those edges would be downgrades", e.SkipRange, strings.Join(newer, ", "))
	}
}

func versionOr(versions map[string]semver.Version, name, def string) string {
	if v, ok := versions[name]; ok {
		v.Build = nil
		return v.String()
	}
	return def
}

// check reports heads, loops and entries that cannot reach the head, and
// returns the head when there is exactly one.
func (cg *channelGraph) check(problems *problem.List) string {
	at := func(bundle, field string) problem.Problem {
		return problem.Problem{Package: cg.pkg, Channel: cg.name, Bundle: bundle, Field: field}
	}
	if len(cg.entries) == 0 {
		problems.Addf(at("", "entries"), "the channel has no entries")
		return ""
	}
	cg.checkLoops(problems)

	var heads []string
	for _, e := range cg.entries {
		if !cg.targeted[e.Name] {
			heads = append(heads, e.Name)
		}
	}
	switch len(heads) {
	case 0:
		problems.Addf(at("", "entries"), "no channel head: every entry is replaced or skipped by another one (an upgrade loop)")
		return ""
	case 1:
	default:
		sort.Strings(heads)
		problems.Addf(at("", "entries"), "%d channel heads (%s): exactly one entry may be left that no other entry replaces or skips",
			len(heads), strings.Join(heads, ", "))
		return ""
	}
	head := heads[0]

	// Walk the edges backwards from the head: what is visited can upgrade to it.
	reach := make([]bool, len(cg.entries))
	queue := []int{cg.index[head]}
	reach[queue[0]] = true
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, ei := range cg.in[n] {
			f := cg.index[cg.edges[ei].From]
			if !reach[f] {
				reach[f] = true
				queue = append(queue, f)
			}
		}
	}
	for i, e := range cg.entries {
		if !reach[i] {
			problems.Addf(at(e.Name, "replaces"), "cannot upgrade to the channel head %q: no chain of replaces, skips or skipRange edges leads there from this bundle", head)
		}
	}
	return head
}

// checkLoops finds the strongly connected components of the upgrade graph
// (Tarjan) and reports one cycle of each component with more than one entry.
// Self-loops are reported where the edges are made.
func (cg *channelGraph) checkLoops(problems *problem.List) {
	n := len(cg.entries)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next := 0
	var components [][]int

	var strongConnect func(v int)
	strongConnect = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, ei := range cg.out[v] {
			w := cg.index[cg.edges[ei].To]
			if index[w] < 0 {
				strongConnect(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				components = append(components, comp)
			}
		}
	}
	for v := range n {
		if index[v] < 0 {
			strongConnect(v)
		}
	}
	for _, comp := range components {
		cg.reportLoop(comp, problems)
	}
}

// reportLoop reports the shortest cycle through the lowest-named member of
// a strongly connected component.
func (cg *channelGraph) reportLoop(comp []int, problems *problem.List) {
	in := map[int]bool{}
	for _, v := range comp {
		in[v] = true
	}
	// Start from the lowest-named member, find the shortest way back to it.
	start := slices.MinFunc(comp, func(a, b int) int { return strings.Compare(cg.entries[a].Name, cg.entries[b].Name) })
	prevEdge := map[int]int{}
	queue := []int{start}
	seen := map[int]bool{start: true}
	var closing = -1
	for len(queue) > 0 && closing < 0 {
		v := queue[0]
		queue = queue[1:]
		for _, ei := range cg.out[v] {
			w := cg.index[cg.edges[ei].To]
			if !in[w] {
				continue
			}
			if w == start {
				closing = ei
				break
			}
			if !seen[w] {
				seen[w] = true
				prevEdge[w] = ei
				queue = append(queue, w)
			}
		}
	}
	var path []Edge
	for ei := closing; ei >= 0; {
		e := cg.edges[ei]
		path = append(path, e)
		from := cg.index[e.From]
		if from == start {
			break
		}
		ei = prevEdge[from]
	}
	slices.Reverse(path)
	var b strings.Builder
	b.WriteString(cg.entries[start].Name)
	kinds := map[EdgeKind]bool{}
	for _, e := range path {
		fmt.Fprintf(&b, " -> %s (by its %s)", e.To, e.Kind)
		kinds[e.Kind] = true
	}
	var fields []string
	for _, k := range []EdgeKind{KindReplaces, KindSkips, KindSkipRange} {
		if kinds[k] {
			fields = append(fields, string(k))
		}
	}
	problems.Addf(problem.Problem{Package: cg.pkg, Channel: cg.name, Bundle: cg.entries[start].Name, Field: strings.Join(fields, "/")},
		"upgrade loop: %s", b.String())
}
