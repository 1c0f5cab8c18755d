package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver/v4"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
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
	// Channels to publish the release in; empty means the bundle's
	// operators.operatorframework.io.bundle.channels.v1 annotation.
	Channels []string
	// DefaultChannel, when set, becomes the package's default channel. A new
	// template otherwise takes the bundle's default-channel annotation, or
	// the first channel.
	DefaultChannel string
	// Force replaces a release of the same version whose content, image or
	// channels differ. Without it a released version is immutable.
	Force bool
	// Template and ReleasesDir as in RenderOptions.
	Template    string
	ReleasesDir string
}

// ReleaseResult says what Release changed.
type ReleaseResult struct {
	// ReleaseDir is releases/<version>.
	ReleaseDir string
	// ReleaseChanged, TemplateChanged and CatalogChanged are false for what
	// already was as released (re-running a release is a no-op).
	ReleaseChanged  bool
	TemplateChanged bool
	CatalogChanged  bool
	// Bundles of the rendered catalog, in version order.
	Bundles []string
}

// Release copies the bundle directory to ReleasesDir/<version> (the
// released content, kept in the repository because the published bundle
// image cannot be pulled everywhere), adds the version to the template,
// renders and validates the catalog, and only then commits all three at
// once: on any error nothing changes. Releasing the same content again is a
// no-op; different content for a released version needs Force.
func Release(ctx context.Context, opts ReleaseOptions) (*ReleaseResult, error) {
	if opts.Template == "" {
		opts.Template = DefaultTemplate
	}
	if opts.ReleasesDir == "" {
		opts.ReleasesDir = DefaultReleasesDir
	}
	if opts.Image == "" {
		return nil, errors.New("release: the bundle image (--image) must be set")
	}
	v, err := semver.Parse(strings.TrimPrefix(opts.Version, "v"))
	if err != nil {
		return nil, fmt.Errorf("release: version %q is not semver: %w", opts.Version, err)
	}
	version := v.String()
	bc, err := loadBundleDir(opts.BundleDir)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if bc.version.String() != version {
		return nil, fmt.Errorf("release: the bundle in %s is version %s (CSV %s spec.version), not %s: regenerate the bundle for %s first",
			opts.BundleDir, bc.version, bc.name, version, version)
	}

	tmplData, err := os.ReadFile(opts.Template)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("release: %w", err)
	}
	pkg := bc.pkg
	defaultChannel := opts.DefaultChannel
	if len(tmplData) > 0 {
		t, err := ParseTemplate(tmplData)
		if err != nil {
			return nil, fmt.Errorf("release: catalog template %s: %w", opts.Template, err)
		}
		if t.Package != bc.pkg {
			return nil, fmt.Errorf("release: the bundle in %s is of package %q, the catalog template %s of package %q", opts.BundleDir, bc.pkg, opts.Template, t.Package)
		}
	}
	channels := opts.Channels
	if len(channels) == 0 {
		channels = bc.channels
	}
	if len(channels) == 0 {
		return nil, fmt.Errorf("release: no channel: pass --channels or set operators.operatorframework.io.bundle.channels.v1 in %s/metadata/annotations.yaml", opts.BundleDir)
	}
	if len(tmplData) == 0 && defaultChannel == "" {
		defaultChannel = bc.defaultChannel
		if defaultChannel == "" {
			defaultChannel = channels[0]
		}
	}

	newTmpl, tmplChanged, err := setRelease(tmplData, pkg, TemplateRelease{Version: version, Image: opts.Image, Channels: channels}, defaultChannel, opts.Force)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	t, err := ParseTemplate(newTmpl)
	if err != nil {
		return nil, fmt.Errorf("release: updated catalog template: %w", err)
	}

	res := &ReleaseResult{ReleaseDir: filepath.Join(opts.ReleasesDir, version), TemplateChanged: tmplChanged}
	var items []atomicdir.Item
	fail := func(err error) (*ReleaseResult, error) {
		return nil, errors.Join(err, atomicdir.Discard(items...))
	}

	// The released bundle directory.
	src, err := readTree(opts.BundleDir)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	releaseDir := res.ReleaseDir
	old, err := readTree(res.ReleaseDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.ReleaseChanged = true
	case err != nil:
		return nil, fmt.Errorf("release: %w", err)
	default:
		if diff := diffTrees(old, src); len(diff) > 0 {
			if !opts.Force {
				return nil, fmt.Errorf("release: %s already holds a different release %s (%s); a released version is immutable: release a new version, or pass --force to replace it",
					res.ReleaseDir, version, strings.Join(diff, ", "))
			}
			res.ReleaseChanged = true
		}
	}
	if res.ReleaseChanged {
		dir, err := atomicdir.StageDir(res.ReleaseDir)
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		items = append(items, dir)
		if err := writeTree(dir.Path(), src); err != nil {
			return fail(fmt.Errorf("release: copy %s: %w", opts.BundleDir, err))
		}
		releaseDir = dir.Path()
	}
	if tmplChanged {
		f, err := atomicdir.StageFile(opts.Template, newTmpl, 0o644)
		if err != nil {
			return fail(fmt.Errorf("release: %w", err))
		}
		items = append(items, f)
	}

	renderOpts := RenderOptions{Template: opts.Template, ReleasesDir: opts.ReleasesDir}
	if err := renderOpts.defaults(); err != nil {
		return fail(err)
	}
	r, err := renderTemplate(t, func(rel TemplateRelease) string {
		if rv, err := semver.Parse(rel.Version); err == nil && rv.Compare(v) == 0 {
			return releaseDir
		}
		return filepath.Join(opts.ReleasesDir, rel.Version)
	}, renderOpts)
	if err != nil {
		return fail(fmt.Errorf("release %s: %w", version, err))
	}
	rr, catalogItems, err := stageCatalog(ctx, r, renderOpts)
	if err != nil {
		return fail(fmt.Errorf("release %s: %w", version, err))
	}
	items = append(items, catalogItems...)
	res.CatalogChanged = rr.Changed
	res.Bundles = rr.Bundles
	if err := atomicdir.CommitAll(items...); err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	return res, nil
}

// readTree reads every regular file under root, by slash-separated relative
// path. Anything but directories and regular files is an error.
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
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}

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
