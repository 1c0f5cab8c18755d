package cli

import (
	"github.com/spf13/cobra"
)

// NewRootCommand returns the tools command with every subcommand attached.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "tools",
		Short:         "Release and development tooling for memcached-operator",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(
		newBundleCommand(),
		newCatalogCommand(),
		newLocalCommand(),
		newRenderCommand(),
		newDemoCommand(),
		newDemoOLMCommand(),
		newBenchCommand(),
		newImagesCommand(),
		newRegistryCommand(),
	)
	return root
}
