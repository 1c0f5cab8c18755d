package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// newImagesNodeCommand builds the real node's images into their cache.
func newImagesNodeCommand() *cobra.Command {
	var opts testbed.NodeImagesOptions
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Build every image the real node pulls but pause (operator, bundles, catalog, stand-ins) into OCI layouts, cached by the stamps of their inputs",
		Long: `Build, for the host's platform and without a container engine, the operator
and bundle images of every release and of the version under development, the
catalog image, and the stand-ins for the upstream images the manifests, OLM and
operator-sdk name (docs/registry-mirrors.md). Each is an OCI image layout under
BIN_DIR/layouts; a rerun with unchanged inputs builds nothing. Needs
` + "`make debs testbed-image-binaries`" + `. Lists reference, digest and size.`,
		Example: `  tools images node --repo-root .`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Log = stderrLog(cmd)
			imgs, err := testbed.NodeImages(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printNodeImages(cmd.OutOrStdout(), imgs)
		},
	}
	cmd.Flags().StringVar(&opts.RepoRoot, "repo-root", ".", "the repository (operator/, bundle/, catalog/, releases/ and their git history)")
	cmd.Flags().StringVar(&opts.BinDir, "bin-dir", "", "the programs of `make testbed-image-binaries`; layouts/ beneath (default REPO_ROOT/bin/testbed-images)")
	cmd.Flags().StringVar(&opts.DebsDir, "debs-dir", "", "hack/debs.sh's output (default REPO_ROOT/bin/debs)")
	return cmd
}

// printNodeImages lists each image's reference, digest and compressed size.
func printNodeImages(out io.Writer, imgs []testbed.NodeImage) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REFERENCE\tDIGEST\tSIZE")
	for _, ni := range imgs {
		d, err := ni.Image.Digest()
		if err != nil {
			return err
		}
		layers, err := ni.Image.Layers()
		if err != nil {
			return err
		}
		var size int64
		for _, l := range layers {
			s, err := l.Size()
			if err != nil {
				return err
			}
			size += s
		}
		fmt.Fprintf(w, "%s\t%s\t%.1f MB\n", ni.Ref, d, float64(size)/1e6)
	}
	return w.Flush()
}
