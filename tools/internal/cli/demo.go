package cli

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/demo"
)

func newDemoCommand() *cobra.Command {
	cfg := demo.Config{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the tutorial's walk-through on the embedded local cluster",
		Long: `Starts the local cluster, installs the CRD, runs the operator as a process,
applies config/samples/cache_v1_memcached.yaml (size 3), resizes it to 5 and
deletes it, waiting at each step for the cluster to show the result. Stops
everything at the end unless --keep is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			for _, dir := range []*string{&cfg.RepoRoot, &cfg.BinDir, &cfg.WorkDir} {
				abs, err := filepath.Abs(*dir)
				if err != nil {
					return err
				}
				*dir = abs
			}
			if !cfg.Keep {
				// A throwaway cluster in a temporary directory: the demo runs
				// even while `make local-up` has a cluster in bin/local.
				cfg.StateDir = ""
			}
			if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
				return err
			}
			return demo.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.RepoRoot, "repo-root", ".", "The repository root (config/ and operator/)")
	f.StringVar(&cfg.BinDir, "bin-dir", "bin/k8s", "Directory of the control-plane binaries (make k8s-binaries)")
	f.StringVar(&cfg.StateDir, "state-dir", "bin/local", "State directory of the kept cluster (with --keep)")
	f.StringVar(&cfg.WorkDir, "work-dir", "bin/demo", "Directory for the manager binary and its log")
	f.BoolVar(&cfg.Keep, "keep", false, "Leave the cluster and the operator running")
	return cmd
}
