package cli

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/catalogserver"
)

// newCatalogCommand groups the commands that maintain the file-based
// catalog: catalog/template.yaml + releases/<version>/ → catalog/<package>/.
func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Release bundles into the file-based catalog, render, validate and serve it",
		Long: `The published catalog is rendered from catalog/template.yaml (the released
versions, their bundle images and channels) and releases/<version>/ (each
released bundle directory, kept because the published bundle images cannot be
pulled everywhere). Upgrade edges are computed: in each channel a release
replaces the previous one, with a bounded skipRange over that one's z-stream.`,
		PersistentPreRun: func(*cobra.Command, []string) {
			// operator-registry's bundle parser logs at info level for every
			// bundle ("Could not find optional dependencies file").
			logrus.SetLevel(logrus.WarnLevel)
		},
	}
	cmd.AddCommand(newCatalogReleaseCommand(), newCatalogRenderCommand(), newCatalogValidateCommand(), newCatalogServeCommand())
	return cmd
}

func newCatalogReleaseCommand() *cobra.Command {
	var opts catalog.ReleaseOptions
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Release a bundle directory as a version: copy it to releases/<version>, add it to the template, re-render and validate the catalog",
		Example: `  tools catalog release --version 0.1.0 --bundle-dir bundle --image quay.io/example-inc/memcached-operator-bundle:v0.1.0 --channels alpha
  tools catalog release --version 0.2.0 --bundle-dir bundle --image quay.io/example-inc/memcached-operator-bundle:v0.2.0 --channels alpha,stable --default-channel stable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := catalog.Release(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %s\n", res.ReleaseDir, changed(res.ReleaseChanged, "released", "unchanged (already released)"))
			fmt.Fprintf(out, "%s: %s\n", opts.Template, changed(res.TemplateChanged, "updated", "unchanged"))
			fmt.Fprintf(out, "catalog: %s, %d bundle(s): %s\n", changed(res.CatalogChanged, "rendered", "unchanged"), len(res.Bundles), strings.Join(res.Bundles, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "version", "", "version to release (the bundle CSV's spec.version)")
	f.StringVar(&opts.BundleDir, "bundle-dir", "bundle", "bundle directory to release")
	f.StringVar(&opts.Image, "image", "", "bundle image the published catalog references")
	f.StringSliceVar(&opts.Channels, "channels", nil, "channels to publish the release in (default: the bundle's channels annotation)")
	f.StringVar(&opts.DefaultChannel, "default-channel", "", "make this the package's default channel (default: keep it; for a new template the bundle's default channel)")
	f.BoolVar(&opts.Force, "force", false, "replace an existing release of the same version whose content, image or channels differ")
	f.StringVar(&opts.Template, "template", catalog.DefaultTemplate, "catalog template")
	f.StringVar(&opts.ReleasesDir, "releases-dir", catalog.DefaultReleasesDir, "directory of released bundle directories")
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
	var dir, releasesDir string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate a catalog: opm's model validation, upgrade graph checks, CRD upgrade safety; every problem is listed",
		Example: `  tools catalog validate --dir catalog
  tools catalog validate --dir /tmp/e2e-catalog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := catalog.ValidateDir(cmd.Context(), dir, releasesDir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "catalog", "catalog directory")
	cmd.Flags().StringVar(&releasesDir, "releases-dir", catalog.DefaultReleasesDir, "released bundle directories, for bundles that embed no manifests")
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
			fmt.Fprintf(cmd.OutOrStdout(), "serving catalog %s on %s\n", dir, addr)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "catalog", "catalog directory")
	cmd.Flags().IntVar(&port, "port", 50051, "loopback port (0 picks a free one)")
	return cmd
}
