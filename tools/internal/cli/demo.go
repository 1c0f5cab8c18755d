package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/demo"
)

func newDemoCommand() *cobra.Command {
	cfg := demo.Config{}
	node := demo.NodeConfig{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the tutorial's walk-through on the embedded local cluster",
		Long: `Starts the local cluster, installs the CRD, runs the operator as a process,
applies config/samples/cache_v1_memcached.yaml (size 3), resizes it to 5 and
deletes it, waiting at each step for the cluster to show the result. Stops
everything at the end unless --keep is given.

With --node-bin-dir, the pods run on a real node where this host can run one
(Linux, root, the Debian packages): what it lacks is built first (one line per
step, the output in WORK_DIR/build.log), and memcached answers a set and a get
through a port-forward before the delete. Elsewhere it runs on kwok's nodes,
saying why in one line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			if node.BinDir != "" {
				if err := nodeConfig(&node); err != nil {
					return err
				}
				cfg.Node = &node
			}
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
			if err := checkOutputs(output{flag: "--work-dir", path: cfg.WorkDir}); err != nil {
				return err
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
	f.StringVar(&node.BinDir, "node-bin-dir", "", "A real node's binaries (make node-binaries builds them there); empty: kwok's nodes only")
	f.StringVar(&node.DebsDir, "debs-dir", "bin/debs", "Debian's memcached, unpacked (make debs), for memcached's image on a real node")
	f.StringVar(&node.ImagesDir, "images-dir", "bin/testbed-images", "The real node's images' directory (their cache in layouts/)")
	return cmd
}

// nodeConfig makes the real node's directories absolute and names this
// binary as the one that serves the node's registry.
func nodeConfig(node *demo.NodeConfig) error {
	for _, dir := range []*string{&node.BinDir, &node.DebsDir, &node.ImagesDir, &node.OpmImageDir} {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return err
		}
		*dir = abs
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating the tools binary, which serves the real node's registry: %w", err)
	}
	node.ToolsBinary = self
	return nil
}
