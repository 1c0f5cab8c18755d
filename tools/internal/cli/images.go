package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/example-inc/memcached-operator/tools/internal/bundle"
	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images"
	"github.com/example-inc/memcached-operator/tools/internal/release"
)

// newImagesCommand groups the commands that build and push the operator,
// bundle and catalog images without a container engine.
func newImagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build and push the operator, bundle and catalog images without Docker (go-containerregistry)",
		Long: `Build the operator image (the manager, built statically for each platform, in
a FROM-scratch OCI index), the bundle image (bundle/ as bundle.Dockerfile lays
it out) and the catalog image (catalog/, opm and its serve cache, as
catalog.Dockerfile builds it) and push them to any registry. The layers are
deterministic: the same inputs give the same digests.

Credentials come from the docker config file ($DOCKER_CONFIG/config.json or
~/.docker/config.json, credential helpers included) and podman's auth.json.
Plain HTTP is used for loopback registries (localhost, 127.0.0.0/8, [::1])
only; --oci-layout writes an OCI image layout directory instead of pushing.`,
		PersistentPreRun: func(*cobra.Command, []string) {
			// operator-registry's bundle parser logs at info level.
			logrus.SetLevel(logrus.WarnLevel)
		},
	}
	cmd.AddCommand(newImagesOperatorCommand(), newImagesBundleCommand(), newImagesCatalogCommand(), newImagesReleaseCommand(), newImagesNodeCommand())
	return cmd
}

// imageOutputFlags are the flags every single-image command shares.
type imageOutputFlags struct {
	image, layoutDir, digestFile string
	replaceTag                   bool
}

func (f *imageOutputFlags) register(cmd *cobra.Command, what, def string) {
	cmd.Flags().StringVar(&f.image, "image", def, what+" image reference to push to")
	cmd.Flags().StringVar(&f.layoutDir, "oci-layout", "", "write the image to this OCI image layout directory instead of pushing it (replaced: missing, empty, or one the tools wrote; never under releases/)")
	cmd.Flags().StringVar(&f.digestFile, "digest-file", "", "also write the pushed reference pinned by digest (REPOSITORY@sha256:...) to this file")
	cmd.Flags().BoolVar(&f.replaceTag, "replace-tag", false, "push over a tag that names another image (a development tag; refused otherwise, and never done by `images release`)")
	_ = cmd.MarkFlagRequired("image")
}

// check refuses the outputs before anything is built, and an image
// reference that does not parse.
func (f *imageOutputFlags) check() error {
	if _, err := imageref.Parse(f.image); err != nil {
		return err
	}
	return checkOutputs(output{"--oci-layout", f.layoutDir, true}, output{"--digest-file", f.digestFile, false})
}

func (f *imageOutputFlags) report(out io.Writer, what string, p *images.Pushed) error {
	verb := "pushed"
	if f.layoutDir != "" {
		verb = "wrote " + f.layoutDir + " as"
	}
	fmt.Fprintf(out, "%s image: %s %s\n", what, verb, p.Pinned())
	if f.digestFile != "" {
		return os.WriteFile(f.digestFile, []byte(p.Pinned()+"\n"), 0o644)
	}
	return nil
}

func (f *imageOutputFlags) output() images.Output {
	return images.Output{LayoutDir: f.layoutDir, ReplaceTag: f.replaceTag}
}

func stderrLog(cmd *cobra.Command) func(string, ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(cmd.ErrOrStderr(), "images: "+format+"\n", args...)
	}
}

func newImagesOperatorCommand() *cobra.Command {
	var (
		out       imageOutputFlags
		opts      images.OperatorOptions
		platforms string
		labels    []string
	)
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Build the manager for each platform and push the operator image (an OCI index)",
		Example: `  tools images operator --image quay.io/example-inc/memcached-operator:v0.1.0 --version 0.1.0
  tools images operator --image localhost:5000/memcached-operator:v0.1.0 --platforms linux/amd64,linux/arm64 --digest-file bin/operator.digest`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Platforms, err = images.ParsePlatforms(platforms); err != nil {
				return err
			}
			if opts.Labels, err = parseLabels(labels); err != nil {
				return err
			}
			if err := out.check(); err != nil {
				return err
			}
			opts.Log = stderrLog(cmd)
			idx, err := images.OperatorImage(cmd.Context(), opts)
			if err != nil {
				return err
			}
			p, err := out.output().Write(cmd.Context(), out.image, idx)
			if err != nil {
				return err
			}
			return out.report(cmd.OutOrStdout(), "operator", p)
		},
	}
	out.register(cmd, "operator", "")
	f := cmd.Flags()
	f.StringVar(&platforms, "platforms", images.DefaultPlatforms, "comma-separated OS/ARCH[/VARIANT] to build for (PLATFORMS)")
	f.StringVar(&opts.Version, "version", "", "org.opencontainers.image.version label (VERSION)")
	f.StringVar(&opts.Source, "source", images.DefaultSource, "org.opencontainers.image.source label")
	f.StringSliceVar(&labels, "label", nil, "extra label KEY=VALUE (repeatable), e.g. org.opencontainers.image.revision=$(git rev-parse HEAD)")
	f.StringVar(&opts.ModuleDir, "module-dir", images.DefaultOperatorModuleDir, "directory of the manager's Go module")
	f.StringVar(&opts.Package, "package", images.DefaultOperatorPackage, "the manager's main package, in --module-dir")
	return cmd
}

func newImagesBundleCommand() *cobra.Command {
	var (
		out  imageOutputFlags
		opts images.BundleOptions
	)
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Push the bundle image: bundle/ laid out and labelled as bundle.Dockerfile does",
		Example: `  tools images bundle --image quay.io/example-inc/memcached-operator-bundle:v0.1.0
  tools images bundle --dir bundle --dockerfile bundle.Dockerfile --image localhost:5000/memcached-operator-bundle:v0.1.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			img, err := images.BundleImage(opts)
			if err != nil {
				return err
			}
			p, err := out.output().Write(cmd.Context(), out.image, img)
			if err != nil {
				return err
			}
			return out.report(cmd.OutOrStdout(), "bundle", p)
		},
	}
	out.register(cmd, "bundle", "")
	cmd.Flags().StringVar(&opts.Dir, "dir", bundleformat.DefaultDir, "bundle directory")
	cmd.Flags().StringVar(&opts.Dockerfile, "dockerfile", bundleformat.DefaultDockerfile, "bundle Dockerfile whose LABELs and COPYs must match the bundle (\"\" skips the check)")
	return cmd
}

func newImagesCatalogCommand() *cobra.Command {
	var (
		out               imageOutputFlags
		opts              images.CatalogOptions
		platforms, opmDir string
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Push the catalog image: catalog/ at /configs with opm, grpc_health_probe and a pre-built serve cache, per platform",
		Example: `  make opm-image-binaries
  tools images catalog --image quay.io/example-inc/memcached-operator-catalog:v0.1.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Platforms, err = images.ParsePlatforms(platforms); err != nil {
				return err
			}
			if err := out.check(); err != nil {
				return err
			}
			opts.Binaries = images.BinariesFromDir(opmDir)
			idx, err := images.CatalogImage(cmd.Context(), opts)
			if err != nil {
				return err
			}
			p, err := out.output().Write(cmd.Context(), out.image, idx)
			if err != nil {
				return err
			}
			return out.report(cmd.OutOrStdout(), "catalog", p)
		},
	}
	out.register(cmd, "catalog", "")
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", images.DefaultCatalogDir, "file-based catalog directory, copied to /configs")
	f.StringVar(&platforms, "platforms", images.DefaultPlatforms, "comma-separated OS/ARCH[/VARIANT] (PLATFORMS)")
	f.StringVar(&opmDir, "opm-dir", images.DefaultOpmDir, "directory of <os>_<arch>/{opm,grpc_health_probe} (hack/opm-image-binaries.sh)")
	return cmd
}

// imagesReleaseLong is the help of `images release`.
const imagesReleaseLong = `Release a version, as 'make release' does:

  1. build the operator image (IMG) for every platform;
  2. generate and validate bundle/ for the version and IMG; with
     --use-image-digests the CSV pins IMG by the digest of the image just
     built, the other images by their registries' digests;
  3. build the bundle image (BUNDLE_IMG);
  4. check, before anything is pushed, that the version can be published:
     the catalog release (5) must pass as a dry run, and IMG, BUNDLE_IMG
     and CATALOG_IMG must not name other images in the registry;
  5. push the operator and bundle images;
  6. release bundle/ into the catalog (tools catalog release) with
     BUNDLE_IMG, pinned by its digest with --use-image-digests;
  7. build and push the catalog image (CATALOG_IMG) from the catalog.

Builds are deterministic: running a release again pushes nothing new (a tag
that already names the same image is left as it is) and the catalog release
is a no-op. A released version is immutable: releasing it again with other
content or another bundle image reference fails before any push (the
catalog accepts it with --force, but a published tag is never moved).`

func newImagesReleaseCommand() *cobra.Command {
	var (
		opts                                                   release.Options
		platforms, catalogPlatforms, opmDir, channels, summary string
		catalogChannels                                        []string
		labels                                                 []string
	)
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Release a version: operator image, bundle (pinned by digest on request), bundle image, catalog release, catalog image",
		Long:  imagesReleaseLong,
		Example: `  tools images release --version 0.2.0 \
      --image quay.io/example-inc/memcached-operator:v0.2.0 \
      --bundle-image quay.io/example-inc/memcached-operator-bundle:v0.2.0 \
      --catalog-image quay.io/example-inc/memcached-operator-catalog:v0.2.0 \
      --use-image-digests`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Operator.Platforms, err = images.ParsePlatforms(platforms); err != nil {
				return err
			}
			if catalogPlatforms != "" {
				if opts.CatalogPlatforms, err = images.ParsePlatforms(catalogPlatforms); err != nil {
					return err
				}
			}
			if opts.Operator.Labels, err = parseLabels(labels); err != nil {
				return err
			}
			if err := checkOutputs(output{"--bundle-dir", opts.Bundle.OutputDir, true}, output{"--dockerfile", opts.Bundle.Dockerfile, false},
				output{"--summary-file", summary, false}); err != nil {
				return err
			}
			opts.Bundle.Channels = splitList(channels)
			opts.Catalog.Channels = catalogChannels
			opts.Binaries = images.BinariesFromDir(opmDir)
			opts.Log = stderrLog(cmd)
			res, err := release.Release(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printRelease(cmd.OutOrStdout(), res, opts.Catalog.Template, summary)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "version", "", "version to release (VERSION, without v)")
	f.StringVar(&opts.OperatorImage, "image", "", "operator image (IMG)")
	f.StringVar(&opts.BundleImage, "bundle-image", "", "bundle image (BUNDLE_IMG)")
	f.StringVar(&opts.CatalogImage, "catalog-image", "", "catalog image (CATALOG_IMG)")
	f.BoolVar(&opts.UseImageDigests, "use-image-digests", false, "pin the CSV's images and the catalog's bundle image by digest (USE_IMAGE_DIGESTS)")
	f.StringVar(&platforms, "platforms", images.DefaultPlatforms, "platforms of the operator image (PLATFORMS)")
	f.StringVar(&catalogPlatforms, "catalog-platforms", "", "platforms of the catalog image (default: --platforms)")
	f.StringVar(&opmDir, "opm-dir", images.DefaultOpmDir, "directory of <os>_<arch>/{opm,grpc_health_probe} (hack/opm-image-binaries.sh)")
	f.StringVar(&opts.Operator.Source, "source", images.DefaultSource, "org.opencontainers.image.source label of the operator image")
	f.StringSliceVar(&labels, "label", nil, "extra label KEY=VALUE of the operator image (repeatable)")
	f.StringVar(&opts.Operator.ModuleDir, "module-dir", images.DefaultOperatorModuleDir, "directory of the manager's Go module")
	bundleReleaseFlags(f, &opts.Bundle, &channels)
	catalogReleaseFlags(f, &opts.Catalog, &catalogChannels)
	f.StringVar(&summary, "summary-file", "", "write the pinned references (KEY=VALUE lines) to this file")
	for _, name := range []string{"version", "image", "bundle-image", "catalog-image"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// bundleReleaseFlags are the flags of a release's bundle step.
func bundleReleaseFlags(f *pflag.FlagSet, o *bundle.Options, channels *string) {
	f.StringVar(channels, "channels", bundle.DefaultChannel, "comma-separated channels of the bundle (CHANNELS)")
	f.StringVar(&o.DefaultChannel, "default-channel", "", "the bundle's default channel (DEFAULT_CHANNEL)")
	f.StringVar(&o.ConfigDir, "config-dir", bundle.DefaultConfigDir, "kustomize directory of the bundle")
	f.StringVar(&o.OutputDir, "bundle-dir", bundle.DefaultOutputDir, "bundle directory to generate")
	f.StringVar(&o.Dockerfile, "dockerfile", bundle.DefaultDockerfile, "bundle Dockerfile to generate")
	kubeVersionFlags(f, &o.K8sVersion, &o.KubeVersions, "the lowest becomes the CSV's minKubeVersion (KUBE_VERSIONS)")
}

// catalogReleaseFlags are the flags of a release's catalog step.
func catalogReleaseFlags(f *pflag.FlagSet, o *catalog.ReleaseOptions, channels *[]string) {
	f.StringSliceVar(channels, "catalog-channels", nil, "channels to publish the release in (CATALOG_CHANNELS; default: the bundle's)")
	f.StringVar(&o.DefaultChannel, "catalog-default-channel", "", "make this the package's default channel (CATALOG_DEFAULT_CHANNEL)")
	f.BoolVar(&o.Force, "force", false, "replace an existing release of the same version whose content or bundle image differ")
	f.StringVar(&o.Template, "template", catalog.DefaultTemplate, "catalog template; the catalog image is built from its directory")
	f.StringVar(&o.ReleasesDir, "releases-dir", catalog.DefaultReleasesDir, "directory of released bundle directories")
}

// printRelease says what a release pushed and changed, and writes the
// pinned references to summary, when set.
func printRelease(w io.Writer, res *release.Result, template, summary string) error {
	fmt.Fprintf(w, "operator image: %s\n", res.Operator.Pinned())
	fmt.Fprintf(w, "bundle: %s in %s\n", res.Generated.CSVName, res.Generated.OutputDir)
	fmt.Fprintf(w, "bundle image:   %s\n", res.Bundle.Pinned())
	r := res.CatalogRelease
	fmt.Fprintf(w, "catalog: %s %s, %s %s, catalog %s (%s)\n",
		r.ReleaseDir, changed(r.ReleaseChanged, "released", "unchanged"),
		template, changed(r.TemplateChanged, "updated", "unchanged"),
		changed(r.CatalogChanged, "rendered", "unchanged"), strings.Join(r.Bundles, ", "))
	fmt.Fprintf(w, "catalog image:  %s\n", res.Catalog.Pinned())
	if summary == "" {
		return nil
	}
	s := fmt.Sprintf("OPERATOR_IMAGE=%s\nBUNDLE_IMAGE=%s\nCATALOG_BUNDLE_IMAGE=%s\nCATALOG_IMAGE=%s\n",
		res.Operator.Pinned(), res.Bundle.Pinned(), res.BundleImageRef, res.Catalog.Pinned())
	return os.WriteFile(summary, []byte(s), 0o644)
}

func parseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", kv)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}
