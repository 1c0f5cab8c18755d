package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	semvertemplate "github.com/operator-framework/operator-registry/alpha/template/semver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// Default locations, relative to the repository root.
const (
	DefaultTemplate    = "catalog/template.yaml"
	DefaultReleasesDir = "releases"
	// CatalogFile is the file of each package directory that holds what the
	// semver template renders.
	CatalogFile = "catalog.yaml"
	// IndexIgnore lists, for opm, what in a catalog directory is not catalog.
	IndexIgnore = ".indexignore"
)

// RenderOptions says what to render and where.
type RenderOptions struct {
	// Template is the path of the catalog template (DefaultTemplate). The
	// deprecations source (DeprecationsFile) is read beside it.
	Template string
	// ReleasesDir holds one released bundle directory per version and the
	// release index (DefaultReleasesDir).
	ReleasesDir string
	// OutputDir is the catalog directory written: OutputDir/<package>/.
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
// catalog, validates it (ValidateConfig) and only then swaps it in place of
// the previous one, atomically: a failed run leaves the previous catalog as
// it was.
func Render(ctx context.Context, opts RenderOptions) (*RenderResult, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	src, err := loadSources(opts.Template, opts.ReleasesDir, nil, nil)
	if err != nil {
		return nil, err
	}
	r, err := renderCatalog(ctx, src, opts)
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

// sources are what a catalog is rendered from.
type sources struct {
	templatePath string
	template     *semverTemplate
	index        *releaseIndex
	deprecations *declcfg.Deprecation
	// dirOf is the bundle directory of a released version.
	dirOf func(version string) string
}

// loadSources reads the template, the release index and the deprecations,
// and reports every problem of them at once. templateData and idx, when not
// nil, are the template's content and the index (of a release being staged).
func loadSources(templatePath, releasesDir string, templateData []byte, idx *releaseIndex) (*sources, error) {
	src := &sources{templatePath: templatePath, index: idx, dirOf: func(v string) string { return filepath.Join(releasesDir, v) }}
	var err error
	if src.index == nil {
		if src.index, err = loadIndex(releasesDir); err != nil {
			return nil, err
		}
	}
	if templateData == nil {
		if templateData, err = os.ReadFile(templatePath); err != nil {
			return nil, fmt.Errorf("read catalog template: %w", err)
		}
	}
	t, problems := parseTemplate(templatePath, templateData, src.index)
	src.template = t
	if t != nil {
		for i, e := range src.index.Releases {
			if !slices.ContainsFunc(Archetypes, func(a string) bool { return slices.Contains(t.images[a], e.Image) }) {
				problems.Addf(problem.Problem{File: src.index.path, Field: fmt.Sprintf("releases[%d]", i)},
					"release %s (%s) is in no archetype of %s: clusters that run it would find no channel to upgrade in; list it, or prune the release (remove it from %s and its directory)", e.Version, e.Image, templatePath, IndexFile)
			}
		}
	}
	if err := problems.Err("cannot render the catalog"); err != nil {
		return nil, err
	}
	src.deprecations, err = loadDeprecations(filepath.Join(filepath.Dir(templatePath), DeprecationsFile))
	return src, err
}

// rendered is a rendered catalog and the manifests of its bundles.
type rendered struct {
	cfg          declcfg.DeclarativeConfig // the semver template's output
	deprecations *declcfg.Deprecation
	pkg          string
	bundles      []string // names, version order
	objects      map[string][]*unstructured.Unstructured
}

// renderCatalog runs operator-registry's semver template over the released
// bundles (up to MaxVersion).
func renderCatalog(ctx context.Context, src *sources, opts RenderOptions) (*rendered, error) {
	keep, err := upTo(src.index, opts.MaxVersion)
	if err != nil {
		return nil, err
	}
	data, err := src.template.filtered(keep)
	if err != nil {
		return nil, err
	}
	renderBundle, err := bundleRenderer(src.index, src.dirOf, opts.EmbedBundles)
	if err != nil {
		return nil, err
	}
	cfg, err := (&semvertemplate.Factory{}).CreateTemplate(renderBundle).Render(ctx, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("render %s (cut at %q): %w", src.templatePath, opts.MaxVersion, err)
	}
	r := &rendered{objects: map[string][]*unstructured.Unstructured{}}
	if err := r.collect(cfg, src.index); err != nil {
		return nil, err
	}
	if opts.EmbedBundles {
		embedBundles(cfg)
	}
	r.cfg = *cfg
	r.deprecations = src.deprecations
	if r.deprecations != nil && opts.MaxVersion != "" {
		r.deprecations = forCatalog(r.deprecations, cfg)
	}
	return r, nil
}

// upTo returns which bundle images a catalog cut at max holds.
func upTo(idx *releaseIndex, max string) (func(image string) bool, error) {
	if max == "" {
		return func(string) bool { return true }, nil
	}
	mv, err := semver.Parse(max)
	if err != nil {
		return nil, fmt.Errorf("--max-version %q is not semver: %w", max, err)
	}
	return func(image string) bool {
		e := idx.byImage(image)
		v, err := versionOf(e.Version)
		return err == nil && v.LTE(mv)
	}, nil
}

// collect records the package, the bundles in version order and their
// manifests, and checks each bundle is the version the index says.
func (r *rendered) collect(cfg *declcfg.DeclarativeConfig, idx *releaseIndex) error {
	var problems problem.List
	type named struct {
		name string
		v    semver.Version
	}
	var order []named
	for _, b := range cfg.Bundles {
		r.pkg = b.Package
		e := idx.byImage(b.Image)
		raw, err := bundleVersion(&b)
		v, perr := versionOf(raw)
		switch {
		case err != nil:
			problems.Addf(problem.Problem{Bundle: b.Name, File: idx.path}, "%v", err)
		case perr != nil || e == nil || e.Version != v.String():
			problems.Addf(problem.Problem{Bundle: b.Name, File: idx.path}, "the bundle of image %s has CSV spec.version %q, the index says release %v", b.Image, raw, e)
		}
		if r.objects[b.Name], err = embeddedObjects(b); err != nil {
			problems.Addf(problem.Problem{Bundle: b.Name}, "%v", err)
		}
		order = append(order, named{b.Name, v})
	}
	slices.SortFunc(order, func(a, b named) int { return a.v.Compare(b.v) })
	for _, n := range order {
		r.bundles = append(r.bundles, n.name)
	}
	return problems.Err("cannot render the catalog")
}

// files are the rendered package directory's files: the semver template's
// output as `opm alpha render-template -o yaml` writes it, and the
// deprecations.
func (r *rendered) files() (map[string][]byte, error) {
	var buf bytes.Buffer
	if err := declcfg.WriteYAML(r.cfg, &buf); err != nil {
		return nil, fmt.Errorf("encode catalog: %w", err)
	}
	files := map[string][]byte{CatalogFile: buf.Bytes()}
	if r.deprecations != nil {
		var d bytes.Buffer
		if err := declcfg.WriteYAML(declcfg.DeclarativeConfig{Deprecations: []declcfg.Deprecation{*r.deprecations}}, &d); err != nil {
			return nil, fmt.Errorf("encode deprecations: %w", err)
		}
		files[DeprecationsFile] = d.Bytes()
	}
	return files, nil
}

// checkRenderedDir refuses to replace dir unless it is missing or holds only
// what a render writes (CatalogFile, DeprecationsFile): a mistyped --output
// must not wipe a user's directory that happens to bear the package's name.
func checkRenderedDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("refusing to replace %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || (e.Name() != CatalogFile && e.Name() != DeprecationsFile) {
			return fmt.Errorf("refusing to replace %s: it holds %s, which a rendered catalog does not (only %s and %s): remove it yourself or render to another --output",
				dir, e.Name(), CatalogFile, DeprecationsFile)
		}
	}
	return nil
}

// stageCatalog writes the rendered package into a staging directory beside
// OutputDir/<package>, validates what was written there exactly as `opm
// validate` would load it, and returns the items to commit (nil when nothing
// changed or in check mode).
func stageCatalog(ctx context.Context, r *rendered, opts RenderOptions) (*RenderResult, []atomicdir.Item, error) {
	files, err := r.files()
	if err != nil {
		return nil, nil, err
	}
	res := &RenderResult{Dir: opts.OutputDir, PackageDir: filepath.Join(opts.OutputDir, r.pkg), Bundles: r.bundles}
	if err := checkRenderedDir(res.PackageDir); err != nil {
		return nil, nil, err
	}
	dir, err := atomicdir.StageDir(res.PackageDir)
	if err != nil {
		return nil, nil, err
	}
	items := []atomicdir.Item{dir}
	fail := func(err error) (*RenderResult, []atomicdir.Item, error) {
		return nil, nil, errors.Join(err, atomicdir.Discard(items...))
	}
	if err := writeTree(dir.Path(), files); err != nil {
		return fail(fmt.Errorf("write catalog: %w", err))
	}
	if err := r.validate(ctx, dir.Path(), res.PackageDir); err != nil {
		return fail(fmt.Errorf("%w; %s left as it was", err, res.PackageDir))
	}

	var stale []string
	if !sameDirContent(res.PackageDir, files) {
		stale = append(stale, res.PackageDir)
	} else {
		if err := atomicdir.Discard(items...); err != nil {
			return nil, nil, err
		}
		items = nil
	}
	if samePath(opts.OutputDir, filepath.Dir(opts.Template)) {
		ignorePath := filepath.Join(opts.OutputDir, IndexIgnore)
		ignore := indexIgnore(filepath.Base(opts.Template))
		if cur, err := os.ReadFile(ignorePath); err != nil || !bytes.Equal(cur, ignore) {
			stale = append(stale, ignorePath)
			f, err := atomicdir.StageFile(ignorePath, ignore, 0o644)
			if err != nil {
				return fail(err)
			}
			items = append(items, f)
		}
	}
	if opts.Check {
		if err := atomicdir.Discard(items...); err != nil {
			return nil, nil, err
		}
		if len(stale) > 0 {
			return nil, nil, fmt.Errorf("the catalog is out of date with %s and %s (%v): run `tools catalog render`", opts.Template, opts.ReleasesDir, stale)
		}
		return res, nil, nil
	}
	res.Changed = len(items) > 0
	return res, items, nil
}

// validate loads the staged package directory as opm does and validates it;
// problems name the files at shownDir, where they are committed.
func (r *rendered) validate(ctx context.Context, dir, shownDir string) error {
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("reload rendered catalog: %w", err)
	}
	problems := ValidateConfig(cfg, func(b declcfg.Bundle, _ semver.Version) ([]*unstructured.Unstructured, error) {
		objs, ok := r.objects[b.Name]
		if !ok {
			return nil, fmt.Errorf("no released bundle directory for %s", b.Name)
		}
		return objs, nil
	})
	if err := locate(ctx, dir, shownDir, problems); err != nil {
		return err
	}
	return problems.Err("the rendered catalog is invalid")
}

// writeTree writes files (by slash-separated relative path) under root.
func writeTree(root string, files map[string][]byte) error {
	for rel, data := range files {
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// indexIgnore is the .indexignore of the published catalog's directory.
func indexIgnore(templateName string) []byte {
	return fmt.Appendf(nil, `# opm (serve, validate, render; declcfg.LoadFS) skips what this file matches.
# %s (the semver template) and %s (the deprecations' source) are what
# the catalog is rendered from, not part of it; dot-entries are staging
# directories of `+"`tools catalog`"+`.
/%s
/%s
.*
`, templateName, DeprecationsFile, templateName, DeprecationsFile)
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
