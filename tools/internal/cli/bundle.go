package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/example-inc/memcached-operator/tools/internal/bundle"
	"github.com/example-inc/memcached-operator/tools/internal/images"
	"github.com/example-inc/memcached-operator/tools/internal/scorecard"
)

// newBundleCommand groups the commands that make and check the OLM bundle
// (`make bundle`).
func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Generate and validate the OLM bundle (bundle/, bundle.Dockerfile)",
	}
	cmd.AddCommand(newBundleGenerateCommand(), newBundleValidateCommand(), newBundleScorecardCommand())
	return cmd
}

func newBundleGenerateCommand() *cobra.Command {
	var (
		opts                bundle.Options
		channels, platforms string
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Render config/manifests into bundle/ and bundle.Dockerfile, validate them, then replace the old ones",
		Long: `Render config/manifests (the CSV base, config/default, the samples and the
scorecard configuration) with kustomize and write the bundle: the CSV
<package>.v<version> with its install strategy, permissions, owned CRDs,
alm-examples and relatedImages, the CRDs and the other objects OLM applies,
metadata/annotations.yaml, tests/scorecard/config.yaml and bundle.Dockerfile.

The output is deterministic: the same inputs give the same bytes (createdAt
comes from the CSV base or --created-at, never from the clock). It is written
beside the old bundle, validated like 'tools bundle validate', and only then
swapped in: a failed run leaves the previous bundle and Dockerfile untouched.`,
		Example: `  tools bundle generate --version 0.1.0 --image quay.io/example-inc/memcached-operator:v0.1.0
  tools bundle generate --version 0.2.0 --channels candidate,fast --default-channel fast \
      --image quay.io/example-inc/memcached-operator:v0.2.0 --use-image-digests \
      --kube-versions "v1.25.15 v1.30.14 v1.37.2"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Channels = splitList(channels)
			opts.Platforms = splitList(platforms)
			if err := checkOutputs(output{"--output-dir", opts.OutputDir, true}, output{"--dockerfile", opts.Dockerfile, false}); err != nil {
				return err
			}
			res, err := bundle.Generate(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, n := range res.Notes {
				fmt.Fprintf(out, "note: %s\n", n)
			}
			fmt.Fprintf(out, "generated %s: %s (%d files, %d bytes) and %s\n",
				res.CSVName, res.OutputDir, res.Report.Files, res.Report.Size, res.Dockerfile)
			printReport(out, res.Report)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "version", "", "operator version (semver, without v): the CSV is <package>.v<version> (required)")
	f.StringVar(&channels, "channels", bundle.DefaultChannel, "comma-separated channels of the bundle")
	f.StringVar(&opts.DefaultChannel, "default-channel", "", "the package's default channel (default: the only channel)")
	f.StringVar(&opts.Image, "image", "", "operator image (IMG); replaces the image named \"controller\" (required)")
	f.BoolVar(&opts.UseImageDigests, "use-image-digests", false, "pin every image by digest, asking the registries for the digests of tags")
	f.StringVar(&opts.CreatedAt, "created-at", "", "createdAt annotation (RFC 3339) (default: the CSV base's)")
	f.StringVar(&opts.ConfigDir, "config-dir", bundle.DefaultConfigDir, "kustomize directory; <config-dir>/manifests is rendered")
	f.StringVar(&opts.OutputDir, "output-dir", bundle.DefaultOutputDir, "bundle directory to replace (missing, empty, or one the tools generated; never under releases/)")
	f.StringVar(&opts.Package, "package", bundle.DefaultPackage, "OLM package name")
	f.StringVar(&opts.Dockerfile, "dockerfile", bundle.DefaultDockerfile, "bundle image Dockerfile to replace")
	kubeVersionFlags(f, &opts.K8sVersion, &opts.KubeVersions, "the lowest becomes the CSV's minKubeVersion and its OpenShift release com.redhat.openshift.versions")
	f.StringVar(&platforms, "platforms", images.DefaultPlatforms, "platforms the operator image is built for (PLATFORMS): the CSV's arch and os labels must list them")
	_ = cmd.MarkFlagRequired("version")
	_ = cmd.MarkFlagRequired("image")
	return cmd
}

func newBundleValidateCommand() *cobra.Command {
	var (
		opts      bundle.ValidateOptions
		platforms string
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate a bundle as OperatorHub, operator-sdk bundle validate and scorecard would; fail on any error or warning",
		Long: `Validate the bundle in --dir, each check once: operator-framework/api's
default validators and the operatorframework suite (operatorhub/v2, standard
capabilities and categories, deprecated APIs, good practices), OLM's own CSV
schema, operator-registry's format and content checks, offline equivalents of
the six default scorecard tests, OperatorHub's own requirements on the CSV,
the CSV's platform labels against --platforms (the multiarch validator's
offline part), metadata/properties.yaml as OLM parses it, the Dockerfile's
labels against metadata/annotations.yaml, and the bundle's size. Every problem is listed,
with its file and field; warnings fail the command like errors.`,
		Example: `  tools bundle validate --dir bundle --kube-versions "v1.25.15 v1.30.14 v1.37.2"
  tools bundle validate --dir releases/0.3.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Platforms = splitList(platforms)
			report, err := bundle.Validate(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := report.Err(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s (%s): valid\n", opts.Dir, report.CSVName)
			printReport(out, report)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", bundle.DefaultOutputDir, "bundle directory")
	f.StringVar(&opts.Dockerfile, "dockerfile", "", "bundle image Dockerfile (default: <dir>.Dockerfile beside the directory)")
	kubeVersionFlags(f, &opts.K8sVersion, &opts.KubeVersions, "the CSV's minKubeVersion must be one of them, none lower than the lowest, and com.redhat.openshift.versions its OpenShift release")
	f.StringVar(&platforms, "platforms", images.DefaultPlatforms, "platforms the operator image is built for (PLATFORMS): the CSV's arch and os labels must list them")
	return cmd
}

func newBundleScorecardCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "scorecard",
		Short: "Make the checks of the six default scorecard tests against a bundle, offline",
		Long: `Make, without a cluster, the checks that operator-sdk's default scorecard tests
(basic-check-spec, olm-bundle-validation, olm-crds-have-validation,
olm-crds-have-resources, olm-spec-descriptors, olm-status-descriptors) make
on the bundle's alm-examples, CSV and CRDs, and check that
tests/scorecard/config.yaml runs those tests. Prints one line per test and
fails if any test would.`,
		Example: `  tools bundle scorecard --dir bundle`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			failures := scorecard.Run(dir)
			byTest := map[string][]scorecard.Failure{}
			for _, f := range failures {
				byTest[f.Test] = append(byTest[f.Test], f)
			}
			out := cmd.OutOrStdout()
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, t := range append(append([]string{}, scorecard.DefaultTests...), "config") {
				state := "pass"
				if len(byTest[t]) > 0 {
					state = "fail"
				}
				fmt.Fprintf(w, "%s\t%s\n", t, state)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(failures) > 0 {
				var b strings.Builder
				fmt.Fprintf(&b, "%s: %d scorecard failures", dir, len(failures))
				for _, f := range failures {
					fmt.Fprintf(&b, "\n  %s/%s", dir, f)
				}
				return errors.New(b.String())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", bundle.DefaultOutputDir, "bundle directory")
	return cmd
}

// kubeVersionFlags are --kube-versions, the versions the tests passed on,
// and --k8s-version, which defaults to the newest of them.
func kubeVersionFlags(f *pflag.FlagSet, k8sVersion *string, kubeVersions *[]string, use string) {
	f.StringArrayVar(kubeVersions, "kube-versions", nil, "Kubernetes versions the tests passed on (K8S_COMPAT_VERSIONS and the newest; comma- or blank-separated, repeatable): "+use)
	f.StringVar(k8sVersion, "k8s-version", "", "Kubernetes version the deprecated-API checks assume (default: the newest of --kube-versions, else "+bundle.DefaultK8sVersion+")")
}

func printReport(out io.Writer, r *bundle.Report) {
	errs, warns := r.Problems.Count()
	fmt.Fprintf(out, "package %s, channels %s (default %s), %d bytes (%d gzipped) of at most %d\n",
		r.Package, strings.Join(r.Channels, ","), r.DefaultChannel, r.Size, r.CompressedSize, bundle.MaxBundleBytes)
	fmt.Fprintf(out, "checks: %s: %d errors, %d warnings\n", strings.Join(r.Checks, ", "), errs, warns)
}

// splitList splits a comma-separated flag; empty items are kept, for the
// options check to report them.
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
