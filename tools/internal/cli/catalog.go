package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/bundle"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/catalogserver"
	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// newCatalogCommand groups the commands that maintain the file-based
// catalog: catalog/template.yaml + releases/<version>/ → catalog/<package>/.
func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Release bundles into the file-based catalog, render, validate and serve it",
		Long: `The published catalog is rendered from catalog/template.yaml, operator-registry's
semver template (olm.semver: bundle images listed under candidate, fast and
stable), catalog/deprecations.yaml (the olm.deprecations blob) and
releases/<version>/ (each released bundle directory, kept because the
published bundle images cannot be pulled everywhere; releases/index.yaml
says which image each was published as). The semver template generates the
channels (candidate-v0, fast-v0, stable-v0, ...), their edges and the default
channel; the result is what
  opm alpha render-template semver --migrate-level bundle-object-to-csv-metadata -o yaml catalog/template.yaml
prints for the same bundle images.`,
		PersistentPreRun: func(*cobra.Command, []string) {
			// operator-registry's bundle parser logs at info level for every
			// bundle ("Could not find optional dependencies file").
			logrus.SetLevel(logrus.WarnLevel)
		},
	}
	cmd.AddCommand(newCatalogReleaseCommand(), newCatalogRenderCommand(), newCatalogValidateCommand(), newCatalogServeCommand())
	return cmd
}

// validateBundleDir validates a bundle directory as `tools bundle validate`
// does, before it is released: a released version is immutable, so a
// bundle OLM or OperatorHub would refuse must not become one.
func validateBundleDir(cmd *cobra.Command, dir, platforms string) error {
	report, err := bundle.Validate(cmd.Context(), bundle.ValidateOptions{Dir: dir, Platforms: splitList(platforms)})
	if err != nil {
		return err
	}
	if err := report.Err(); err != nil {
		return fmt.Errorf("%s cannot be released (tools bundle validate): %w", dir, err)
	}
	return nil
}

func newCatalogReleaseCommand() *cobra.Command {
	var (
		opts      catalog.ReleaseOptions
		platforms string
	)
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Release a bundle directory as a version: copy it to releases/<version>, add its image to the index and the template, re-render and validate the catalog",
		Example: `  tools catalog release --version 0.4.0 --bundle-dir bundle --image quay.io/example-inc/memcached-operator-bundle:v0.4.0 --channels candidate,fast,stable
  tools catalog release --version 0.5.0-rc.1 --bundle-dir bundle --image quay.io/example-inc/memcached-operator-bundle:v0.5.0-rc.1 --channels candidate
  tools catalog release --dry-run --version 0.4.0 --bundle-dir bundle --image quay.io/example-inc/memcached-operator-bundle:v0.4.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateBundleDir(cmd, opts.BundleDir, platforms); err != nil {
				return err
			}
			res, err := catalog.Release(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			// A dry run says what a release would change, in the conditional.
			released, updated, rendered := "released", "updated", "rendered"
			if opts.DryRun {
				released, updated, rendered = "would be released (dry run: nothing written)", "would be updated", "would be rendered"
			}
			fmt.Fprintf(out, "%s: %s\n", res.ReleaseDir, changed(res.ReleaseChanged, released, "unchanged (already released)"))
			fmt.Fprintf(out, "%s: %s\n", opts.Template, changed(res.TemplateChanged, updated, "unchanged"))
			fmt.Fprintf(out, "catalog: %s, %d bundle(s): %s\n", changed(res.CatalogChanged, rendered, "unchanged"), len(res.Bundles), strings.Join(res.Bundles, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "version", "", "version to release (the bundle CSV's spec.version)")
	f.StringVar(&opts.BundleDir, "bundle-dir", "bundle", "bundle directory to release")
	f.StringVar(&opts.Image, "image", "", "bundle image the published catalog references")
	f.StringSliceVar(&opts.Channels, "channels", nil, "semver template archetypes to list the release in: candidate, fast, stable (default: the bundle's channels annotation)")
	f.StringVar(&opts.DefaultChannel, "default-channel", "", "fail unless this is the default channel the semver template computes (the newest channel of the most stable archetype)")
	f.BoolVar(&opts.Force, "force", false, "replace an existing release of the same version whose content or image differ")
	f.BoolVar(&opts.DryRun, "dry-run", false, "check everything a release would do, write nothing")
	f.StringVar(&opts.Template, "template", catalog.DefaultTemplate, "catalog template")
	f.StringVar(&opts.ReleasesDir, "releases-dir", catalog.DefaultReleasesDir, "directory of released bundle directories")
	f.StringVar(&platforms, "platforms", images.DefaultPlatforms, "platforms the operator image is built for (PLATFORMS), for the bundle's validation")
	_ = cmd.MarkFlagRequired("version")
	_ = cmd.MarkFlagRequired("image")
	return cmd
}

func changed(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func newCatalogRenderCommand() *cobra.Command {
	var opts catalog.RenderOptions
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render the catalog from the template and releases/, validate it and replace the previous one atomically",
		Long: `Render the catalog from the template and releases/, validate it and replace the
previous one atomically.

By default the published catalog is written beside the template (catalog/):
bundles reference their images and carry olm.csv.metadata. With
--embed-bundles the bundles have no image and embed their manifests as
olm.bundle.object properties, so that OLM installs them without pulling a
bundle image (local end-to-end tests); such a catalog, like one cut at
--max-version, goes to another --output directory.`,
		Example: `  tools catalog render
  tools catalog render --check
  tools catalog render --embed-bundles --output /tmp/e2e-catalog
  tools catalog render --embed-bundles --max-version 0.1.0 --output /tmp/e2e-catalog-old`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutputs(output{flag: "--output", path: opts.OutputDir}); err != nil {
				return err
			}
			res, err := catalog.Render(cmd.Context(), opts)
			if err != nil {
				return err
			}
			state := changed(res.Changed, "rendered", "unchanged")
			if opts.Check {
				state = "up to date"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %d bundle(s): %s\n", res.PackageDir, state, len(res.Bundles), strings.Join(res.Bundles, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Template, "template", catalog.DefaultTemplate, "catalog template")
	f.StringVar(&opts.ReleasesDir, "releases-dir", catalog.DefaultReleasesDir, "directory of released bundle directories")
	f.StringVarP(&opts.OutputDir, "output", "o", "", "catalog directory to write (default: the template's directory)")
	f.BoolVar(&opts.EmbedBundles, "embed-bundles", false, "embed the bundles' manifests (olm.bundle.object) and leave their image empty")
	f.StringVar(&opts.MaxVersion, "max-version", "", "leave out releases above this version")
	f.BoolVar(&opts.Check, "check", false, "write nothing; fail if the catalog on disk differs from a fresh render")
	return cmd
}

func newCatalogValidateCommand() *cobra.Command {
	var dir, releasesDir, bundleDir, template, platforms string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate a catalog (opm's model validation, deprecations, bundle properties, upgrade graph, CRD upgrade safety as OLM v1 checks it) and optionally a bundle as its next release; every problem is listed",
		Example: `  tools catalog validate --dir catalog
  tools catalog validate --dir catalog --bundle-dir bundle
  tools catalog validate --dir /tmp/e2e-catalog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := catalog.ValidateDir(cmd.Context(), dir, releasesDir)
			if bundleDir != "" {
				err = errors.Join(err, validateBundleDir(cmd, bundleDir, platforms), catalog.ValidateBundle(cmd.Context(), bundleDir, template, releasesDir))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", dir)
			if bundleDir != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid as the next release\n", bundleDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "catalog", "catalog directory")
	cmd.Flags().StringVar(&releasesDir, "releases-dir", catalog.DefaultReleasesDir, "released bundle directories, for bundles that embed no manifests")
	cmd.Flags().StringVar(&bundleDir, "bundle-dir", "", "also check this bundle directory as the next release (against every release: CRD upgrade safety, graph), writing nothing")
	cmd.Flags().StringVar(&template, "template", catalog.DefaultTemplate, "catalog template, for --bundle-dir")
	cmd.Flags().StringVar(&platforms, "platforms", images.DefaultPlatforms, "platforms the operator image is built for (PLATFORMS), for --bundle-dir's validation")
	return cmd
}

func newCatalogServeCommand() *cobra.Command {
	var (
		dir  string
		port int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a catalog over gRPC on 127.0.0.1, as a CatalogSource's registry pod does, until interrupted",
		Example: `  tools catalog serve --dir catalog --port 50051
  # then: a CatalogSource with spec.sourceType grpc and spec.address 127.0.0.1:50051`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			addr, stopServer, err := catalogserver.Serve(ctx, dir, "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				return err
			}
			defer stopServer()
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s on %s\n", dir, addr)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "catalog", "catalog directory")
	cmd.Flags().IntVar(&port, "port", 50051, "loopback port (0 picks a free one)")
	return cmd
}
