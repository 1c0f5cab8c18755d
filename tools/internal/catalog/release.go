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
	"sort"
	"strings"

	"github.com/operator-framework/operator-registry/alpha/declcfg"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// ReleaseOptions describe a release: a bundle directory published as a
// version of the operator.
type ReleaseOptions struct {
	// Version is the released version; it must be the bundle CSV's spec.version.
	Version string
	// BundleDir is the bundle directory to release (manifests/, metadata/, tests/).
	BundleDir string
	// Image is the bundle image the published catalog references.
	Image string
	// Channels are the semver template archetypes to list the release in
	// (candidate, fast, stable); empty means the bundle's
	// operators.operatorframework.io.bundle.channels.v1 annotation.
	Channels []string
	// DefaultChannel, when set, must be the default channel the semver
	// template computes (the newest channel of the most stable archetype):
	// the template has no field to choose it.
	DefaultChannel string
	// Force replaces a release of the same version whose content or image
	// differ. Without it a released version is immutable.
	Force bool
	// DryRun stages, renders and validates everything and then writes
	// nothing: the check of a bundle before it is released.
	DryRun bool
	// Template and ReleasesDir as in RenderOptions.
	Template    string
	ReleasesDir string
}

// ReleaseResult says what Release changed.
type ReleaseResult struct {
	// ReleaseDir is releases/<version>.
	ReleaseDir string
	// ReleaseChanged, TemplateChanged and CatalogChanged are false for what
	// already was as released (re-running a release is a no-op). With DryRun
	// they say what a release would change.
	ReleaseChanged  bool
	TemplateChanged bool
	CatalogChanged  bool
	// Bundles of the rendered catalog, in version order.
	Bundles []string
}

// Release copies the bundle directory to ReleasesDir/<version> (the
// released content, kept in the repository because the published bundle
// image cannot be pulled everywhere), records its image in the release
// index, lists it in the template's archetypes, renders and validates the
// catalog, and only then commits everything at once: on any error nothing
// changes. Releasing the same content again is a no-op; different content
// or another image for a released version needs Force.
func Release(ctx context.Context, opts ReleaseOptions) (*ReleaseResult, error) {
	s, err := newReleaseStage(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	res, err := s.run(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("release %s: %w", s.version, err), atomicdir.Discard(s.items...))
	}
	if opts.DryRun {
		return res, atomicdir.Discard(s.items...)
	}
	if err := atomicdir.CommitAll(s.items...); err != nil {
		return nil, fmt.Errorf("release %s: %w", s.version, err)
	}
	return res, nil
}

// releaseStage is a release being staged.
type releaseStage struct {
	opts     ReleaseOptions
	version  string // normalized: no "v", no build metadata
	channels []string
	bundle   *declcfg.Bundle
	items    []atomicdir.Item // staged, to commit or discard
}

// newReleaseStage checks the options and the bundle before anything is
// written: the version, the archetypes, and the bundle's properties as OLM
// parses them.
func newReleaseStage(ctx context.Context, opts ReleaseOptions) (*releaseStage, error) {
	if opts.Template == "" {
		opts.Template = DefaultTemplate
	}
	if opts.ReleasesDir == "" {
		opts.ReleasesDir = DefaultReleasesDir
	}
	if opts.Image == "" {
		return nil, errors.New("the bundle image (--image) must be set")
	}
	if err := checkReleaseImage(opts.Image); err != nil {
		return nil, fmt.Errorf("--image %s: %w", opts.Image, err)
	}
	bundle, err := renderBundleDir(opts.BundleDir, "")
	if err != nil {
		return nil, err
	}
	// The rule bundle generate applies: a version given as v0.5.0 or
	// 0.5.0+b1 is refused, not silently released as 0.5.0.
	if err := bundleformat.CheckVersion(opts.Version, bundle.Package); err != nil {
		return nil, fmt.Errorf("--version: %w", err)
	}
	v, err := versionOf(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("--version %q is not semver: %w", opts.Version, err)
	}
	s := &releaseStage{opts: opts, version: v.String(), bundle: bundle}
	if got, _ := bundleVersion(s.bundle); got != s.version {
		return nil, fmt.Errorf("the bundle in %s is version %s (CSV %s spec.version), not %s: regenerate the bundle for %s first",
			opts.BundleDir, got, s.bundle.Name, s.version, s.version)
	}
	if s.channels, err = s.archetypes(); err != nil {
		return nil, err
	}
	props := checkBundleProperties(&declcfg.DeclarativeConfig{Bundles: []declcfg.Bundle{*s.bundle}})
	for i := range props {
		props[i].File = filepath.Join(opts.BundleDir, "metadata", "properties.yaml")
	}
	return s, props.Err(fmt.Sprintf("the bundle in %s cannot be released", opts.BundleDir))
}

// checkReleaseImage refuses a bundle image a released version cannot keep:
// a released version is immutable, so its image must be fully qualified
// (OLM's nodes resolve a short name by their own registries' search list,
// if at all) and pinned by a version tag or a digest, never latest.
func checkReleaseImage(image string) error {
	p, err := imageref.Split(image)
	if err != nil {
		return err
	}
	first, _, qualified := strings.Cut(p.Repository, "/")
	switch {
	case !qualified || !(strings.ContainsAny(first, ".:") || first == "localhost"):
		return fmt.Errorf("names no registry: give the full reference (e.g. quay.io/%s:v1.2.3)", p.Repository)
	case p.Digest == "" && p.Tag == "":
		return errors.New("names no tag or digest: a released version keeps one bundle image, so tag it with the version or pin it by digest")
	case p.Digest == "" && p.Tag == "latest":
		return errors.New("latest is a moving tag: a released version keeps one bundle image, so tag it with the version or pin it by digest")
	}
	return nil
}

// archetypes are the semver template archetypes the release goes to.
func (s *releaseStage) archetypes() ([]string, error) {
	channels := s.opts.Channels
	if len(channels) == 0 {
		labels, err := bundleLabels(s.opts.BundleDir)
		if err != nil {
			return nil, err
		}
		channels = strings.Split(labels["operators.operatorframework.io.bundle.channels.v1"], ",")
	}
	var problems problem.List
	for _, c := range channels {
		if !slices.Contains(Archetypes, c) {
			problems.Addf(problem.Problem{Field: "--channels"}, "%q is not an archetype of the semver template (%s): it generates the channels from them", c, strings.Join(Archetypes, ", "))
		}
	}
	return channels, problems.Err("invalid channels")
}

func (s *releaseStage) run(ctx context.Context) (*ReleaseResult, error) {
	idx, err := loadIndex(s.opts.ReleasesDir)
	if err != nil {
		return nil, err
	}
	oldImage, err := s.checkImage(idx)
	if err != nil {
		return nil, err
	}
	res := &ReleaseResult{ReleaseDir: filepath.Join(s.opts.ReleasesDir, s.version)}
	releaseDir, err := s.stageBundleDir(res)
	if err != nil {
		return nil, err
	}
	newIdx, indexData, err := idx.with(indexEntry{Version: s.version, Image: s.opts.Image})
	if err != nil {
		return nil, err
	}
	if err := s.stageFile(idx.path, indexData); err != nil {
		return nil, err
	}
	tmplData, err := s.stageTemplate(res, oldImage)
	if err != nil {
		return nil, err
	}
	return res, s.stageCatalog(ctx, res, newIdx, tmplData, releaseDir)
}

// stageBundleDir stages the copy of the bundle directory, unless the
// release holds the same content; it returns the directory to render from.
func (s *releaseStage) stageBundleDir(res *ReleaseResult) (string, error) {
	src, err := readTree(s.opts.BundleDir)
	if err != nil {
		return "", err
	}
	old, err := readTree(res.ReleaseDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	default:
		diff := diffTrees(old, src)
		if len(diff) == 0 {
			return res.ReleaseDir, nil
		}
		if !s.opts.Force {
			return "", fmt.Errorf("%s already holds a different release %s (%s); a released version is immutable: release a new version, or pass --force to replace it",
				res.ReleaseDir, s.version, strings.Join(diff, ", "))
		}
	}
	res.ReleaseChanged = true
	dir, err := atomicdir.StageDir(res.ReleaseDir)
	if err != nil {
		return "", err
	}
	s.items = append(s.items, dir)
	if err := writeTree(dir.Path(), src); err != nil {
		return "", fmt.Errorf("copy %s: %w", s.opts.BundleDir, err)
	}
	return dir.Path(), nil
}

// checkImage refuses the image of another release (the index maps each
// image to one release, and the catalog names bundles by image), and
// another image for a released version without Force; it returns the
// image it replaces.
func (s *releaseStage) checkImage(idx *releaseIndex) (string, error) {
	v, _ := versionOf(s.version)
	if o := idx.byImage(s.opts.Image); o != nil {
		if ov, err := versionOf(o.Version); err != nil || !ov.Equals(v) {
			return "", fmt.Errorf("--image %s is already the image of release %s (%s): each release is published as its own bundle image", s.opts.Image, o.Version, idx.path)
		}
	}
	e := idx.byVersion(v)
	if e == nil || e.Image == s.opts.Image {
		return "", nil
	}
	if !s.opts.Force {
		return "", fmt.Errorf("version %s is already released as %s (%s); releasing it as %s needs --force", s.version, e.Image, idx.path, s.opts.Image)
	}
	return e.Image, nil
}

func (s *releaseStage) stageFile(path string, data []byte) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return nil
	}
	f, err := atomicdir.StageFile(path, data, 0o644)
	if err != nil {
		return err
	}
	s.items = append(s.items, f)
	return nil
}

// stageTemplate lists the image in the template's archetypes (in place of
// oldImage, when Force replaces it) and returns the new template.
func (s *releaseStage) stageTemplate(res *ReleaseResult, oldImage string) ([]byte, error) {
	data, err := os.ReadFile(s.opts.Template)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if oldImage != "" {
		data = bytes.ReplaceAll(data, []byte(oldImage), []byte(s.opts.Image))
	}
	out, changed, err := addToTemplate(data, s.opts.Image, s.channels)
	if err != nil {
		return nil, err
	}
	res.TemplateChanged = changed || oldImage != ""
	if res.TemplateChanged {
		return out, s.stageFile(s.opts.Template, out)
	}
	return out, nil
}

// stageCatalog renders the catalog from the staged template, index and
// release directory, validates it, and stages it.
func (s *releaseStage) stageCatalog(ctx context.Context, res *ReleaseResult, idx *releaseIndex, tmplData []byte, releaseDir string) error {
	src, err := loadSources(s.opts.Template, s.opts.ReleasesDir, tmplData, idx)
	if err != nil {
		return err
	}
	releasesDir := src.dirOf
	src.dirOf = func(v string) string {
		if v == s.version {
			return releaseDir
		}
		return releasesDir(v)
	}
	renderOpts := RenderOptions{Template: s.opts.Template, ReleasesDir: s.opts.ReleasesDir}
	if err := renderOpts.defaults(); err != nil {
		return err
	}
	r, err := renderCatalog(ctx, src, renderOpts)
	if err != nil {
		return err
	}
	if d := r.cfg.Packages[0].DefaultChannel; s.opts.DefaultChannel != "" && s.opts.DefaultChannel != d {
		return fmt.Errorf("--default-channel %s: the semver template makes %s the default channel (the newest channel of the most stable archetype) and has no field to choose another", s.opts.DefaultChannel, d)
	}
	rr, items, err := stageCatalog(ctx, r, renderOpts)
	if err != nil {
		return err
	}
	s.items = append(s.items, items...)
	res.CatalogChanged, res.Bundles = rr.Changed, rr.Bundles
	return nil
}

// readTree reads every regular file under root, by slash-separated relative
// path, but atomicdir's marker. Anything but directories and regular files
// is an error.
func readTree(root string) (map[string][]byte, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == atomicdir.Marker {
			return nil // says the tools generated the directory: not content
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}

// diffTrees lists what differs from old to cur: "+path" added, "-path"
// removed, "~path" changed, sorted by path.
func diffTrees(old, cur map[string][]byte) []string {
	var diff []string
	for p, data := range cur {
		o, ok := old[p]
		switch {
		case !ok:
			diff = append(diff, "+"+p)
		case !bytes.Equal(o, data):
			diff = append(diff, "~"+p)
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			diff = append(diff, "-"+p)
		}
	}
	sort.Slice(diff, func(i, j int) bool { return diff[i][1:] < diff[j][1:] })
	return diff
}

// ValidateBundle checks bundleDir as the next release of the catalog, in
// every archetype, and writes nothing: a dry-run Release under the bundle's
// own CSV version, with the image the index records for it or a placeholder.
// A released version must hold the same content (released versions are
// immutable); a new one must pass every check of the catalog it would make,
// CRD upgrade safety against every older release included.
func ValidateBundle(ctx context.Context, bundleDir, template, releasesDir string) error {
	b, err := renderBundleDir(bundleDir, "")
	if err != nil {
		return err
	}
	version, err := bundleVersion(b)
	if err != nil {
		return err
	}
	opts := ReleaseOptions{Version: version, BundleDir: bundleDir, Channels: Archetypes, DryRun: true, Template: template, ReleasesDir: releasesDir,
		Image: fmt.Sprintf("unreleased.invalid/%s-bundle:v%s", b.Package, version)}
	idx, err := loadIndex(releasesDir)
	if err != nil {
		return err
	}
	if v, err := versionOf(version); err == nil && idx.byVersion(v) != nil {
		opts.Image = idx.byVersion(v).Image
	}
	_, err = Release(ctx, opts)
	return err
}
