package release

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/bundle"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// Options describe `make release`: the three images of a version, and the
// bundle and catalog that reference them.
type Options struct {
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
	Operator images.OperatorOptions
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
	// Binaries of the catalog image (nil: images.BinariesFromDir(images.DefaultOpmDir)).
	Binaries images.BinariesFunc
	// Resolver pins the images this release does not push (nil: their
	// registries, through Registry), with UseImageDigests.
	Resolver bundle.DigestResolver

	Registry imageref.Registry
	// Log, when set, is told each step.
	Log func(format string, args ...any)
}

// Result is what a release pushed and changed.
type Result struct {
	Operator, Bundle, Catalog images.Pushed
	// BundleImageRef is the bundle image reference the catalog holds.
	BundleImageRef string
	// Generated is the bundle written to Bundle.OutputDir.
	Generated *bundle.Result
	// CatalogRelease says what the catalog release changed (nothing, when
	// re-run).
	CatalogRelease *catalog.ReleaseResult
}

// Release builds and publishes a version. It builds the operator image
// (its digest is known before it is pushed), generates and validates the
// bundle for it (pinned by that digest with UseImageDigests) and builds the
// bundle image; then, before anything is pushed, it checks that the version
// can be published: the catalog release must pass as a dry run (a released
// version whose releases/<version> or bundle image differ is refused
// without Force), and no tag may name another image in the registry (a
// published tag is never moved, Force or not). Only then does it push the
// operator and bundle images, release the bundle into the catalog (with the
// bundle image, by digest with UseImageDigests), and build and push the
// catalog image. Every step is deterministic, so re-running a release gives
// the same digests, pushes nothing new and changes nothing.
func Release(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	r := &run{opts: opts, out: images.Output{Registry: opts.Registry}, res: &Result{}}
	for _, step := range []func(context.Context) error{
		r.operatorAndBundle, r.bundleImage, r.checkPublishable,
		r.pushImages, r.catalogRelease, r.catalogImage,
	} {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
	}
	return r.res, nil
}

// check refuses a release with a missing or unparseable image reference.
func (o Options) check() error {
	var errs []error
	for _, f := range []struct{ v, what string }{
		{o.Version, "version"}, {o.OperatorImage, "operator image (IMG)"},
		{o.BundleImage, "bundle image (BUNDLE_IMG)"}, {o.CatalogImage, "catalog image (CATALOG_IMG)"},
	} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("release: the %s must be set", f.what))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, ref := range []string{o.OperatorImage, o.BundleImage, o.CatalogImage} {
		if _, err := imageref.Parse(ref); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	return nil
}

// run carries one release's state from step to step.
type run struct {
	opts Options
	out  images.Output
	res  *Result
	// operator, bundle and catalog are the images built, pushed later;
	// catalog only when the catalog release changes nothing (else it is
	// built from the released catalog).
	operator v1.ImageIndex
	bundle   v1.Image
	catalog  v1.ImageIndex
}

// push writes t as reference.
func (r *run) push(ctx context.Context, what, reference string, t remote.Taggable) (images.Pushed, error) {
	pushed, err := r.out.Write(ctx, reference, t)
	if err != nil {
		return images.Pushed{}, fmt.Errorf("%s: %w", what, err)
	}
	r.opts.Log("pushed %s", pushed.Pinned())
	return *pushed, nil
}

// operatorAndBundle builds the operator image and generates the bundle for
// it (pinned by its digest with UseImageDigests): a bundle that does not
// validate pushes nothing.
func (r *run) operatorAndBundle(ctx context.Context) error {
	o := r.opts
	opOpts := o.Operator
	opOpts.Version = o.Version
	if opOpts.Log == nil {
		opOpts.Log = o.Log
	}
	index, err := images.OperatorImage(ctx, opOpts)
	if err != nil {
		return err
	}
	digest, err := index.Digest()
	if err != nil {
		return err
	}
	o.Log("operator image %s: %s", o.OperatorImage, digest)

	bOpts := o.Bundle
	bOpts.Version, bOpts.Image, bOpts.UseImageDigests = o.Version, o.OperatorImage, o.UseImageDigests
	if o.UseImageDigests {
		bOpts.Resolver = imageref.Resolver{
			Registry: o.Registry,
			Pinned:   map[string]v1.Hash{o.OperatorImage: digest},
			Fallback: o.Resolver,
		}
	}
	gen, err := bundle.Generate(ctx, bOpts)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	r.res.Generated = gen
	r.operator = index
	r.res.Operator = images.Pushed{Reference: o.OperatorImage, Digest: digest}
	o.Log("bundle %s generated in %s", gen.CSVName, gen.OutputDir)
	return nil
}

// bundleImage builds the bundle image from the generated bundle.
func (r *run) bundleImage(context.Context) error {
	gen := r.res.Generated
	img, err := images.BundleImage(images.BundleOptions{Dir: gen.OutputDir, Dockerfile: gen.Dockerfile})
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	r.bundle, r.res.Bundle = img, images.Pushed{Reference: r.opts.BundleImage, Digest: digest}
	return nil
}

// catalogOptions are the options of the catalog release: the generated
// bundle, with the bundle image by digest with UseImageDigests.
func (r *run) catalogOptions(dryRun bool) catalog.ReleaseOptions {
	o := r.opts
	c := o.Catalog
	c.Version, c.BundleDir, c.Image, c.DryRun = o.Version, r.res.Generated.OutputDir, o.BundleImage, dryRun
	if o.UseImageDigests {
		c.Image = r.res.Bundle.Pinned()
	}
	if c.Template == "" {
		c.Template = catalog.DefaultTemplate
	}
	return c
}

// checkPublishable refuses, before anything is pushed, a version that
// cannot be published: the catalog release fails as a dry run (the version
// was released with other content or another bundle image), or a tag of
// the release names another image. When the catalog release changes
// nothing (a re-run), the catalog image is built now and its tag checked
// like the others; when it changes the catalog, CATALOG_IMG must not exist.
func (r *run) checkPublishable(ctx context.Context) error {
	refuse := func(err error) error {
		return fmt.Errorf("version %s cannot be published, nothing was pushed: %w", r.opts.Version, err)
	}
	dry, err := catalog.Release(ctx, r.catalogOptions(true))
	if err != nil {
		return refuse(err)
	}
	var catalogDigest v1.Hash
	if !dry.ReleaseChanged && !dry.TemplateChanged && !dry.CatalogChanged {
		if r.catalog, err = r.buildCatalogImage(ctx); err != nil {
			return err
		}
		if catalogDigest, err = r.catalog.Digest(); err != nil {
			return err
		}
	}
	var errs []error
	for _, img := range []struct {
		what, ref string
		digest    v1.Hash
	}{
		{"operator image", r.opts.OperatorImage, r.res.Operator.Digest},
		{"bundle image", r.opts.BundleImage, r.res.Bundle.Digest},
		{"catalog image", r.opts.CatalogImage, catalogDigest},
	} {
		if _, err := images.CheckTag(ctx, r.opts.Registry, img.ref, img.digest); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", img.what, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return refuse(err)
	}
	return nil
}

// pushImages pushes the operator and the bundle images.
func (r *run) pushImages(ctx context.Context) error {
	var err error
	if r.res.Operator, err = r.push(ctx, "operator image", r.opts.OperatorImage, r.operator); err != nil {
		return err
	}
	r.res.Bundle, err = r.push(ctx, "bundle image", r.opts.BundleImage, r.bundle)
	return err
}

// catalogRelease releases the bundle into the catalog.
func (r *run) catalogRelease(ctx context.Context) error {
	cOpts := r.catalogOptions(false)
	r.res.BundleImageRef = cOpts.Image
	rel, err := catalog.Release(ctx, cOpts)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	r.res.CatalogRelease = rel
	state := "already released"
	if rel.ReleaseChanged || rel.TemplateChanged || rel.CatalogChanged {
		state = "released"
	}
	r.opts.Log("catalog: %s %s with %s", r.opts.Version, state, cOpts.Image)
	return nil
}

// catalogImage builds the catalog image from the template's directory,
// unless checkPublishable did, and pushes it.
func (r *run) catalogImage(ctx context.Context) error {
	var err error
	if r.catalog == nil {
		if r.catalog, err = r.buildCatalogImage(ctx); err != nil {
			return err
		}
	}
	r.res.Catalog, err = r.push(ctx, "catalog image", r.opts.CatalogImage, r.catalog)
	return err
}

// buildCatalogImage builds the catalog image from the template's directory.
func (r *run) buildCatalogImage(ctx context.Context) (v1.ImageIndex, error) {
	o := r.opts
	platforms := o.CatalogPlatforms
	if len(platforms) == 0 {
		platforms = o.Operator.Platforms
	}
	template := o.Catalog.Template
	if template == "" {
		template = catalog.DefaultTemplate
	}
	return images.CatalogImage(ctx, images.CatalogOptions{
		Dir:       filepath.Dir(template),
		Platforms: platforms,
		Binaries:  o.Binaries,
	})
}
