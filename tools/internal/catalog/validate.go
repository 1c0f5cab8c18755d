package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/crdsafety"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/graph"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// ManifestsFunc returns the manifests of a bundle of the catalog, for the
// CRD upgrade-safety checks.
type ManifestsFunc func(b declcfg.Bundle, v semver.Version) ([]*unstructured.Unstructured, error)

// ValidateConfig validates a catalog and returns every problem found:
//
//   - the olm.deprecations blobs (every fault, where opm stops at the first);
//   - bundle properties as OLM parses them (olm.maxOpenShiftVersion);
//   - operator-registry's model validation (declcfg.ConvertToModel: what `opm
//     validate` runs), leaving out what the checks above already reported;
//   - the upgrade graph checks of package graph (default channel, heads,
//     loops, reachability, skipRange);
//   - CRD upgrade safety along every edge (package crdsafety: crdify as OLM
//     v1 runs it, and the alm-examples), from the manifests content returns.
func ValidateConfig(cfg *declcfg.DeclarativeConfig, manifests ManifestsFunc) problem.List {
	deprecationProblems := checkDeprecations(cfg)
	g, graphProblems := graph.Analyze(cfg)
	problems := slices.Concat(deprecationProblems, checkBundleProperties(cfg), graphProblems)
	badDefault := slices.ContainsFunc(graphProblems, func(p problem.Problem) bool { return p.Field == "defaultChannel" })
	if err := convertToModel(cfg, len(deprecationProblems) > 0, badDefault); err != nil {
		problems.Addf(problem.Problem{Field: "opm validate"}, "%v", err)
	}

	byPkg := map[string][]crdsafety.Release{}
	for _, b := range cfg.Bundles {
		v, ok := g.Versions[b.Package][b.Name]
		if !ok {
			continue // reported by the graph checks
		}
		objs, err := manifests(b, v)
		if err != nil {
			problems.Addf(problem.Problem{Package: b.Package, Bundle: b.Name, Field: "manifests"}, "cannot check CRD upgrade safety: %v", err)
			continue
		}
		deprecated := bundleDeprecations(cfg, b.Package)
		byPkg[b.Package] = append(byPkg[b.Package], crdsafety.Release{Bundle: b.Name, Version: v, Objects: objs, Deprecation: deprecated[b.Name]})
	}
	edges := map[string][]crdsafety.Edge{}
	for _, e := range g.Edges {
		edges[e.Package] = append(edges[e.Package], crdsafety.Edge{From: e.From, To: e.To})
	}
	pkgs := make([]string, 0, len(byPkg))
	for p := range byPkg {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		problems = append(problems, crdsafety.Check(p, byPkg[p], edges[p])...)
	}
	return problems
}

// convertToModel runs operator-registry's model conversion and validation,
// without the deprecations or the default channels when the checks above
// reported them: opm's message for a missing default channel ("channel must
// contain at least one bundle") does not name defaultChannel, and it stops
// at the first deprecation fault.
func convertToModel(cfg *declcfg.DeclarativeConfig, skipDeprecations, fixDefaultChannels bool) error {
	c := *cfg
	if skipDeprecations {
		c.Deprecations = nil
	}
	if fixDefaultChannels {
		c.Packages = slices.Clone(cfg.Packages)
		for k, p := range c.Packages {
			if slices.ContainsFunc(cfg.Channels, func(ch declcfg.Channel) bool { return ch.Package == p.Name && ch.Name == p.DefaultChannel }) {
				continue
			}
			if j := slices.IndexFunc(cfg.Channels, func(ch declcfg.Channel) bool { return ch.Package == p.Name }); j >= 0 {
				c.Packages[k].DefaultChannel = cfg.Channels[j].Name
			}
		}
	}
	_, err := declcfg.ConvertToModel(c)
	return err
}

// ValidateDir loads the catalog in dir as opm does (declcfg.LoadFS, honouring
// .indexignore) and validates it with ValidateConfig. The manifests of a
// bundle come from its olm.bundle.object properties when it embeds them, and
// otherwise from releasesDir/<version>/ — the released bundle kept in the
// repository, since the published catalog's bundle images cannot be pulled
// here. Each problem names the file of the blob it is about.
func ValidateDir(ctx context.Context, dir, releasesDir string) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("catalog directory: %w", err)
	}
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("load catalog %s: %w", dir, err)
	}
	if len(cfg.Packages) == 0 {
		return fmt.Errorf("catalog %s holds no olm.package", dir)
	}
	problems := ValidateConfig(cfg, releasedManifests(releasesDir))
	if err := locate(ctx, dir, dir, problems); err != nil {
		return err
	}
	return problems.Err(fmt.Sprintf("catalog %s is invalid", dir))
}

// releasedManifests returns the manifests of a bundle: embedded
// (olm.bundle.object) or from releasesDir/<version>/.
func releasedManifests(releasesDir string) ManifestsFunc {
	return func(b declcfg.Bundle, v semver.Version) ([]*unstructured.Unstructured, error) {
		if len(b.Objects) > 0 {
			return embeddedObjects(b)
		}
		if releasesDir == "" {
			return nil, errors.New("the bundle embeds no manifests (olm.bundle.object) and no releases directory was given")
		}
		rd := filepath.Join(releasesDir, v.String())
		if _, err := os.Stat(rd); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the bundle embeds no manifests (olm.bundle.object) and %s does not exist", rd)
		}
		rb, err := renderBundleDir(rd, "")
		if err != nil {
			return nil, err
		}
		if rb.Name != b.Name {
			return nil, fmt.Errorf("%s holds bundle %s, not %s", rd, rb.Name, b.Name)
		}
		return embeddedObjects(*rb)
	}
}

func embeddedObjects(b declcfg.Bundle) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for i, o := range b.Objects {
		var u unstructured.Unstructured
		if err := json.Unmarshal([]byte(o), &u.Object); err != nil {
			return nil, fmt.Errorf("olm.bundle.object %d: %w", i, err)
		}
		objs = append(objs, &u)
	}
	return objs, nil
}

// locate sets the File of each problem about a blob of the catalog in dir
// (the deprecations, a channel, a bundle, the package) to that blob's file,
// named under shownDir (the catalog's final place when dir is a staging
// directory).
func locate(ctx context.Context, dir, shownDir string, problems problem.List) error {
	files := map[string]string{}
	err := declcfg.WalkMetasFS(ctx, os.DirFS(dir), func(path string, meta *declcfg.Meta, err error) error {
		if err != nil {
			return err
		}
		pkg, name := meta.Package, meta.Name
		switch meta.Schema {
		case declcfg.SchemaPackage:
			pkg, name = meta.Name, ""
		case declcfg.SchemaDeprecation:
			name = ""
		}
		files[meta.Schema+"/"+pkg+"/"+name] = filepath.Join(shownDir, path)
		return nil
	})
	if err != nil {
		return fmt.Errorf("locate catalog blobs in %s: %w", dir, err)
	}
	for i := range problems {
		p := &problems[i]
		if p.File != "" {
			continue
		}
		switch {
		case strings.HasPrefix(p.Field, "olm.deprecations"):
			p.File = files[declcfg.SchemaDeprecation+"/"+p.Package+"/"]
		case p.Channel != "":
			p.File = files[declcfg.SchemaChannel+"/"+p.Package+"/"+p.Channel]
		case p.Bundle != "":
			p.File = files[declcfg.SchemaBundle+"/"+p.Package+"/"+p.Bundle]
		case p.Package != "":
			p.File = files[declcfg.SchemaPackage+"/"+p.Package+"/"]
		}
	}
	return nil
}
