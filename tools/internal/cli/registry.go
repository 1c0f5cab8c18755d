package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// newRegistryCommand groups the loopback OCI registry's commands.
func newRegistryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "A loopback OCI registry (go-containerregistry), the real node's image source",
	}
	cmd.AddCommand(newRegistryServeCommand())
	return cmd
}

func newRegistryServeCommand() *cobra.Command {
	var address, dir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve an OCI registry over plain HTTP on a loopback address until interrupted (blobs on disk, manifests in memory)",
		Example: `  tools registry serve --address 127.0.0.1:5000 --dir bin/registry
  # an image for quay.io/x/y:t is pushed as 127.0.0.1:5000/quay.io/x/y:t`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return testbed.ServeRegistry(ctx, address, dir, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&address, "address", "127.0.0.1:5000", "loopback host:port to listen on")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the blobs")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}
