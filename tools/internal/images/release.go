package images

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/example-inc/memcached-operator/tools/internal/bundle"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
)

// ReleaseOptions describe `make release`: the three images of a version,
// and the bundle and catalog that reference them.
type ReleaseOptions struct {
	// Version is the operator's version (VERSION), without a leading v.
	Version string
	// OperatorImage, BundleImage and CatalogImage are IMG, BUNDLE_IMG and
	// CATALOG_IMG.
	OperatorImage, BundleImage, CatalogImage string
	// UseImageDigests pins the CSV's images (the operator's by the digest
	// this release pushes, the others by their registries') and the
	// catalog's bundle image by digest (USE_IMAGE_DIGESTS).
	UseImageDigests bool

	// Operator: Platforms (PLATFORMS), Build, ModuleDir, Package, Source
	// and Labels; Version is set from Version.
	Operator OperatorOptions
	// Bundle: ConfigDir, OutputDir, Dockerfile, Package, Channels,
	// DefaultChannel, CreatedAt, K8sVersion; Version, Image,
	// UseImageDigests and Resolver are set here.
	Bundle bundle.Options
	// Catalog: Channels, DefaultChannel, Force, Template, ReleasesDir;
	// Version, BundleDir and Image are set here. The catalog image is built
	// from the template's directory.
	Catalog catalog.ReleaseOptions
	// CatalogPlatforms of the catalog image; empty means Operator.Platforms.
	CatalogPlatforms []v1.Platform
	// Binaries of the catalog image (nil: BinariesFromDir(DefaultOpmDir)).
	Binaries BinariesFunc
	// Resolver pins the images this release does not push (nil: their
	// registries), with UseImageDigests.
	Resolver bundle.DigestResolver

	Registry Registry
	// Log, when set, is told each step.
	Log func(format string, args ...any)
}

// ReleaseResult is what a release pushed and changed.
type ReleaseResult struct {
	Operator, Bundle, Catalog Pushed
	// BundleImageRef is the bundle image reference the catalog holds.
	BundleImageRef string
	// Generated is the bundle written to Bundle.OutputDir.
	Generated *bundle.Result
	// CatalogRelease says what the catalog release changed (nothing, when
	// re-run).
	CatalogRelease *catalog.ReleaseResult
}

// Release builds and publishes a version: the operator image (its digest is
// known before it is pushed), the bundle for it (pinned by that digest with
// UseImageDigests), validated before anything is pushed; then pushes the
// operator image, builds and pushes the bundle image, releases the bundle
// into the catalog (with the bundle image, by digest with UseImageDigests),
// and builds and pushes the catalog image. Every step is deterministic, so
// re-running a release gives the same digests and changes nothing.
func Release(ctx context.Context, opts ReleaseOptions) (*ReleaseResult, error) {
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var missing []error
	for _, f := range []struct{ v, flag string }{
		{opts.Version, "version"}, {opts.OperatorImage, "operator image (IMG)"},
		{opts.BundleImage, "bundle image (BUNDLE_IMG)"}, {opts.CatalogImage, "catalog image (CATALOG_IMG)"},
	} {
		if f.v == "" {
			missing = append(missing, fmt.Errorf("release: the %s must be set", f.flag))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	for _, ref := range []string{opts.OperatorImage, opts.BundleImage, opts.CatalogImage} {
		if _, err := ParseReference(ref); err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
	}
	out := Output{Registry: opts.Registry}
	res := &ReleaseResult{}

	// 1. The operator image, built, not pushed yet.
	opOpts := opts.Operator
	opOpts.Version = opts.Version
	if opOpts.Log == nil {
		opOpts.Log = logf
	}
	opIndex, err := OperatorImage(ctx, opOpts)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	opDigest, err := opIndex.Digest()
	if err != nil {
		return nil, err
	}
	logf("operator image %s: %s", opts.OperatorImage, opDigest)

	// 2. The bundle, generated and validated.
	bOpts := opts.Bundle
	bOpts.Version = opts.Version
	bOpts.Image = opts.OperatorImage
	bOpts.UseImageDigests = opts.UseImageDigests
	if opts.UseImageDigests {
		bOpts.Resolver = Resolver{
			Registry: opts.Registry,
			Pinned:   map[string]v1.Hash{opts.OperatorImage: opDigest},
			Fallback: opts.Resolver,
		}
	}
	gen, err := bundle.Generate(ctx, bOpts)
	if err != nil {
		return nil, fmt.Errorf("release: bundle: %w", err)
	}
	res.Generated = gen
	logf("bundle %s generated in %s", gen.CSVName, gen.OutputDir)

	// 3. The operator image, pushed: the digest the bundle pins.
	pushed, err := out.Write(ctx, opts.OperatorImage, opIndex)
	if err != nil {
		return nil, fmt.Errorf("release: operator image: %w", err)
	}
	res.Operator = *pushed
	logf("pushed %s", pushed.Pinned())

	// 4. The bundle image.
	bImg, err := BundleImage(BundleOptions{Dir: gen.OutputDir, Dockerfile: gen.Dockerfile})
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	pushed, err = out.Write(ctx, opts.BundleImage, bImg)
	if err != nil {
		return nil, fmt.Errorf("release: bundle image: %w", err)
	}
	res.Bundle = *pushed
	logf("pushed %s", pushed.Pinned())

	// 5. The release in the catalog.
	cOpts := opts.Catalog
	cOpts.Version = opts.Version
	cOpts.BundleDir = gen.OutputDir
	cOpts.Image = opts.BundleImage
	if opts.UseImageDigests {
		cOpts.Image = res.Bundle.Pinned()
	}
	res.BundleImageRef = cOpts.Image
	if cOpts.Template == "" {
		cOpts.Template = catalog.DefaultTemplate
	}
	rel, err := catalog.Release(ctx, cOpts)
	if err != nil {
		return nil, fmt.Errorf("release: catalog: %w", err)
	}
	res.CatalogRelease = rel
	state := "already released"
	if rel.ReleaseChanged || rel.TemplateChanged || rel.CatalogChanged {
		state = "released"
	}
	logf("catalog: %s %s with %s", opts.Version, state, cOpts.Image)

	// 6. The catalog image.
	platforms := opts.CatalogPlatforms
	if len(platforms) == 0 {
		platforms = opts.Operator.Platforms
	}
	cIndex, err := CatalogImage(ctx, CatalogOptions{
		Dir:       filepath.Dir(cOpts.Template),
		Platforms: platforms,
		Binaries:  opts.Binaries,
	})
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	pushed, err = out.Write(ctx, opts.CatalogImage, cIndex)
	if err != nil {
		return nil, fmt.Errorf("release: catalog image: %w", err)
	}
	res.Catalog = *pushed
	logf("pushed %s", pushed.Pinned())
	return res, nil
}
