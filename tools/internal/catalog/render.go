package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/graph"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/problem"
)

// Default locations, relative to the repository root.
const (
	DefaultTemplate    = "catalog/template.yaml"
	DefaultReleasesDir = "releases"
	// CatalogFile is the file each package directory of a rendered catalog holds.
	CatalogFile = "catalog.yaml"
	// IndexIgnore lists, for opm, what in a catalog directory is not catalog.
	IndexIgnore = ".indexignore"
)

// RenderOptions says what to render and where.
type RenderOptions struct {
	// Template is the path of the catalog template (DefaultTemplate).
	Template string
	// ReleasesDir holds one released bundle directory per version (DefaultReleasesDir).
	ReleasesDir string
	// OutputDir is the catalog directory written: OutputDir/<package>/catalog.yaml.
	// Empty means the template's directory (the published catalog).
	OutputDir string
	// EmbedBundles renders bundles without image, their manifests embedded as
	// olm.bundle.object properties: a catalog OLM installs from without
	// pulling a bundle image. Never written to the template's directory.
	EmbedBundles bool
	// MaxVersion, when set, leaves out releases above it (e.g. to start an
	// upgrade test from an old catalog). Never written to the template's directory.
	MaxVersion string
	// Check compares instead of writing: an error if the catalog on disk is
	// not what rendering produces.
	Check bool
}

// RenderResult says what Render did.
type RenderResult struct {
	// Dir is the catalog directory, PackageDir the package's directory in it.
	Dir        string
	PackageDir string
	// Bundles are the rendered bundles' names in version order.
	Bundles []string
	// Changed is false when the catalog on disk already was the rendered one.
	Changed bool
}

func (o *RenderOptions) defaults() error {
	if o.Template == "" {
		o.Template = DefaultTemplate
	}
	if o.ReleasesDir == "" {
		o.ReleasesDir = DefaultReleasesDir
	}
	templateDir := filepath.Dir(o.Template)
	if o.OutputDir == "" {
		o.OutputDir = templateDir
	}
	if (o.EmbedBundles || o.MaxVersion != "") && samePath(o.OutputDir, templateDir) {
		return fmt.Errorf("refusing to write a catalog with embedded bundles or a --max-version into %s, the published catalog: choose another --output", o.OutputDir)
	}
	return nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// Render renders the template and the released bundles into a file-based
// catalog, validates it (ValidateConfig: opm's model validation, the upgrade
// graph checks and CRD upgrade safety) and only then swaps it in place of
// the previous one, atomically: a failed run leaves the previous catalog as
// it was.
func Render(ctx context.Context, opts RenderOptions) (*RenderResult, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	t, err := LoadTemplate(opts.Template)
	if err != nil {
		return nil, err
	}
	r, err := renderTemplate(t, func(rel TemplateRelease) string { return filepath.Join(opts.ReleasesDir, rel.Version) }, opts)
	if err != nil {
		return nil, err
	}
	res, items, err := stageCatalog(ctx, r, opts)
	if err != nil || items == nil {
		return res, err
	}
	if err := atomicdir.CommitAll(items...); err != nil {
		return nil, err
	}
	return res, nil
}

// rendered is a rendered catalog and the bundle content it was made from.
type rendered struct {
	cfg      declcfg.DeclarativeConfig
	pkg      string
	bundles  []string // names, version order
	contents map[string]*bundleContent
}

// renderTemplate reads every release's bundle directory (dirOf) and builds
// the catalog, with computed channel entries. It reports every problem of
// the releases at once.
func renderTemplate(t *Template, dirOf func(TemplateRelease) string, opts RenderOptions) (*rendered, error) {
	var max *semver.Version
	if opts.MaxVersion != "" {
		v, err := semver.Parse(opts.MaxVersion)
		if err != nil {
			return nil, fmt.Errorf("--max-version %q is not semver: %w", opts.MaxVersion, err)
		}
		max = &v
	}
	var releases []TemplateRelease
	images := map[string]string{} // by normalized version
	for _, rel := range t.Releases {
		v, _ := semver.Parse(rel.Version) // validated by LoadTemplate
		if max == nil || v.LTE(*max) {
			releases = append(releases, rel)
			v.Build = nil
			images[v.String()] = rel.Image
		}
	}
	if len(releases) == 0 {
		return nil, fmt.Errorf("catalog template lists no release to render (max version %q)", opts.MaxVersion)
	}

	contents := make([]*bundleContent, len(releases))
	errs := make([]error, len(releases))
	parallel(len(releases), func(i int) {
		contents[i], errs[i] = loadBundleDir(dirOf(releases[i]))
	})

	var problems problem.List
	byName := map[string]string{}
	channels := map[string][]graph.Release{}
	for i, rel := range releases {
		at := problem.Problem{Package: t.Package, Field: fmt.Sprintf("release %s", rel.Version)}
		if errs[i] != nil {
			problems.Addf(at, "%v (the released bundle directory is %s)", errs[i], dirOf(rel))
			continue
		}
		bc := contents[i]
		at.Bundle = bc.name
		v, _ := semver.Parse(rel.Version)
		if bc.version.String() != v.String() {
			problems.Addf(at, "the bundle in %s has CSV spec.version %s, not %s", bc.dir, bc.version, rel.Version)
		}
		if bc.pkg != t.Package {
			problems.Addf(at, "the bundle in %s belongs to package %q (metadata/annotations.yaml), not %q", bc.dir, bc.pkg, t.Package)
		}
		if other, dup := byName[bc.name]; dup {
			problems.Addf(at, "the bundle name %s is also the name of release %s: each release needs its own CSV name", bc.name, other)
			continue
		}
		byName[bc.name] = rel.Version
		for _, c := range rel.Channels {
			channels[c] = append(channels[c], graph.Release{Name: bc.name, Version: bc.version})
		}
	}
	if _, ok := channels[t.DefaultChannel]; !ok && len(problems) == 0 {
		problems.Addf(problem.Problem{Package: t.Package, Field: "defaultChannel"}, "channel %q has no release at or below --max-version %s", t.DefaultChannel, opts.MaxVersion)
	}
	if err := problems.Err("cannot render the catalog"); err != nil {
		return nil, err
	}

	cfg := declcfg.DeclarativeConfig{}
	names := make([]string, 0, len(channels))
	for c := range channels {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		entries, err := graph.Entries(channels[c])
		if err != nil {
			problems.Addf(problem.Problem{Package: t.Package, Channel: c, Field: "entries"}, "%v", err)
			continue
		}
		cfg.Channels = append(cfg.Channels, declcfg.Channel{Schema: declcfg.SchemaChannel, Name: c, Package: t.Package, Entries: entries})
	}
	if err := problems.Err("cannot render the catalog"); err != nil {
		return nil, err
	}

	order := slices.Clone(contents)
	slices.SortFunc(order, func(a, b *bundleContent) int { return a.version.Compare(b.version) })
	newest := order[len(order)-1]
	icon, err := newest.icon()
	if err != nil {
		return nil, err
	}
	cfg.Packages = []declcfg.Package{{
		Schema:         declcfg.SchemaPackage,
		Name:           t.Package,
		DefaultChannel: t.DefaultChannel,
		Icon:           icon,
		Description:    newest.csv.Spec.Description,
	}}
	r := &rendered{pkg: t.Package, contents: map[string]*bundleContent{}}
	for i, bc := range order {
		v := bc.version
		v.Build = nil
		cfg.Bundles = append(cfg.Bundles, bc.declcfgBundle(images[v.String()], opts.EmbedBundles))
		r.bundles = append(r.bundles, bc.name)
		r.contents[bc.name] = order[i]
	}
	sort.Slice(cfg.Bundles, func(i, j int) bool { return cfg.Bundles[i].Name < cfg.Bundles[j].Name })
	r.cfg = cfg
	return r, nil
}

// parallel runs fn(0..n-1) on all CPUs.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// encode is the catalog file of a rendered package: declcfg.WriteYAML
// orders it (package, channels by name, bundles by name).
func (r *rendered) encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := declcfg.WriteYAML(r.cfg, &buf); err != nil {
		return nil, fmt.Errorf("encode catalog: %w", err)
	}
	return buf.Bytes(), nil
}

// stageCatalog writes the rendered package into a staging directory beside
// OutputDir/<package>, validates what was written there exactly as `opm
// validate` would load it, and returns the items to commit (nil when nothing
// changed or in check mode).
func stageCatalog(ctx context.Context, r *rendered, opts RenderOptions) (*RenderResult, []atomicdir.Item, error) {
	data, err := r.encode()
	if err != nil {
		return nil, nil, err
	}
	res := &RenderResult{Dir: opts.OutputDir, PackageDir: filepath.Join(opts.OutputDir, r.pkg), Bundles: r.bundles}

	var ignore []byte
	ignorePath := filepath.Join(opts.OutputDir, IndexIgnore)
	if samePath(opts.OutputDir, filepath.Dir(opts.Template)) {
		ignore = indexIgnore(filepath.Base(opts.Template))
	}
	catalogStale := !sameDirContent(res.PackageDir, map[string][]byte{CatalogFile: data})
	ignoreStale := false
	if ignore != nil {
		cur, err := os.ReadFile(ignorePath)
		ignoreStale = err != nil || !bytes.Equal(cur, ignore)
	}

	if opts.Check {
		// Validate in memory, then compare.
		cfg, err := declcfg.LoadReader(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("reload rendered catalog: %w", err)
		}
		if err := ValidateConfig(cfg, r.manifests).Err("rendered catalog is invalid"); err != nil {
			return nil, nil, err
		}
		var stale []string
		if catalogStale {
			stale = append(stale, res.PackageDir)
		}
		if ignoreStale {
			stale = append(stale, ignorePath)
		}
		if len(stale) > 0 {
			return nil, nil, fmt.Errorf("the catalog is out of date with %s and %s (%v): run `tools catalog render`", opts.Template, opts.ReleasesDir, stale)
		}
		return res, nil, nil
	}

	dir, err := atomicdir.StageDir(res.PackageDir)
	if err != nil {
		return nil, nil, err
	}
	items := []atomicdir.Item{dir}
	fail := func(err error) (*RenderResult, []atomicdir.Item, error) {
		return nil, nil, errors.Join(err, atomicdir.Discard(items...))
	}
	if err := os.WriteFile(filepath.Join(dir.Path(), CatalogFile), data, 0o644); err != nil {
		return fail(fmt.Errorf("write catalog: %w", err))
	}
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(dir.Path()))
	if err != nil {
		return fail(fmt.Errorf("reload rendered catalog: %w", err))
	}
	if err := ValidateConfig(cfg, r.manifests).Err(fmt.Sprintf("rendered catalog for %s is invalid; %s left as it was", opts.Template, res.PackageDir)); err != nil {
		return fail(err)
	}

	if !catalogStale {
		if err := atomicdir.Discard(items...); err != nil {
			return nil, nil, err
		}
		items = nil
	}
	if ignoreStale {
		f, err := atomicdir.StageFile(ignorePath, ignore, 0o644)
		if err != nil {
			return fail(err)
		}
		items = append(items, f)
	}
	res.Changed = len(items) > 0
	return res, items, nil
}

// manifests returns the manifests of a rendered bundle, for the CRD checks.
func (r *rendered) manifests(b declcfg.Bundle, _ semver.Version) ([]*unstructured.Unstructured, error) {
	bc, ok := r.contents[b.Name]
	if !ok {
		return nil, fmt.Errorf("no released bundle directory for %s", b.Name)
	}
	return bc.objects, nil
}

// indexIgnore is the .indexignore of the published catalog's directory.
func indexIgnore(templateName string) []byte {
	return fmt.Appendf(nil, `# opm (serve, validate, render; declcfg.LoadFS) skips what this file matches.
# %s is the human-edited template the catalog is rendered from, not
# part of the catalog; dot-entries are staging directories of `+"`tools catalog`"+`.
/%s
.*
`, templateName, templateName)
}

// sameDirContent reports whether dir holds exactly the given files.
func sameDirContent(dir string, files map[string][]byte) bool {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(files) {
		return false
	}
	for _, e := range entries {
		want, ok := files[e.Name()]
		if !ok || !e.Type().IsRegular() {
			return false
		}
		got, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}
