package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/crdsafety"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/graph"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/problem"
)

// ManifestsFunc returns the manifests of a bundle of the catalog, for the
// CRD upgrade-safety checks.
type ManifestsFunc func(b declcfg.Bundle, v semver.Version) ([]*unstructured.Unstructured, error)

// ValidateConfig validates a catalog and returns every problem found:
//
//   - operator-registry's model validation (declcfg.ConvertToModel, which
//     validates the model: what `opm validate` runs);
//   - the upgrade graph checks of package graph;
//   - CRD upgrade safety between releases (package crdsafety), from the
//     manifests content returns for each bundle.
func ValidateConfig(cfg *declcfg.DeclarativeConfig, manifests ManifestsFunc) problem.List {
	var problems problem.List
	if _, err := declcfg.ConvertToModel(*cfg); err != nil {
		problems.Addf(problem.Problem{Field: "opm validate"}, "%v", err)
	}
	g, graphProblems := graph.Analyze(cfg)
	problems = append(problems, graphProblems...)

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
		byPkg[b.Package] = append(byPkg[b.Package], crdsafety.Release{Bundle: b.Name, Version: v, Objects: objs})
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

// ValidateDir loads the catalog in dir as opm does (declcfg.LoadFS, honouring
// .indexignore) and validates it with ValidateConfig. The manifests of a
// bundle come from its olm.bundle.object properties when it embeds them, and
// otherwise from releasesDir/<version>/ — the released bundle kept in the
// repository, since the published catalog's bundle images cannot be pulled
// here.
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
	manifests := func(b declcfg.Bundle, v semver.Version) ([]*unstructured.Unstructured, error) {
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
		bc, err := loadBundleDir(rd)
		if err != nil {
			return nil, err
		}
		if bc.name != b.Name {
			return nil, fmt.Errorf("%s holds bundle %s, not %s", rd, bc.name, b.Name)
		}
		return bc.objects, nil
	}
	return ValidateConfig(cfg, manifests).Err(fmt.Sprintf("catalog %s is invalid", dir))
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
