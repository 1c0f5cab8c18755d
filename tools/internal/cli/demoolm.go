package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/demo"
	"github.com/example-inc/memcached-operator/tools/internal/olmflow"
)

func newDemoOLMCommand() *cobra.Command {
	cfg := olmflow.Config{}
	node := demo.NodeConfig{}
	var mode string
	cmd := &cobra.Command{
		Use:   "demo-olm",
		Short: "Install the operator through OLM on the local cluster, then let OLM upgrade it",
		Long: `Starts a local cluster with OLM, serves the catalog's oldest release through a
CatalogSource, subscribes (Automatic), runs the installed operator as its CSV's
ServiceAccount, creates the alm-examples Memcached, publishes the newest
release and waits for OLM to upgrade — holding the upgrade first while a
rollout keeps the operator's Upgradeable condition False.

With --node-bin-dir, where this host can run a real node (Linux, root, the
Debian packages), everything runs from the images the project ships: the
CatalogSource serves the oldest release's catalog image, OLM unpacks the
bundle images and runs the operator's Deployment, memcached runs as pods;
what the node lacks is built first (one line per step, the output in
WORK_DIR/build.log). The held rollout is left out there: it cordons every
node. Elsewhere it runs on kwok's nodes, saying why in one line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// operator-registry's bundle parser logs at info level for every
			// bundle it renders ("Could not find optional dependencies file").
			logrus.SetLevel(logrus.WarnLevel)
			cfg.Out = cmd.OutOrStdout()
			cfg.Mode = olmflow.InstallMode(mode)
			for _, dir := range []*string{&cfg.RepoRoot, &cfg.K8sBinDir, &cfg.OLMBinDir, &cfg.WorkDir} {
				abs, err := filepath.Abs(*dir)
				if err != nil {
					return err
				}
				*dir = abs
			}
			if err := checkOutputs(output{flag: "--work-dir", path: cfg.WorkDir}); err != nil {
				return err
			}
			// Emptied for a fresh run: only a directory the tools created.
			if err := atomicdir.ResetOwnedDir("--work-dir", cfg.WorkDir); err != nil {
				return err
			}
			if node.BinDir != "" {
				if err := realNodeFlow(cmd.Context(), &cfg, node); err != nil {
					return err
				}
			}
			if err := olmflow.Run(cmd.Context(), cfg); err != nil {
				return err
			}
			fmt.Fprintln(cfg.Out, "\n## Done: everything started was stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.RepoRoot, "repo-root", ".", "The repository root (catalog/, releases/, operator/)")
	f.StringVar(&cfg.K8sBinDir, "bin-dir", "bin/k8s", "Directory of the control-plane binaries (make k8s-binaries)")
	f.StringVar(&cfg.OLMBinDir, "olm-bin-dir", "bin/olm", "Directory of OLM's binaries and CRDs (make olm-binaries)")
	f.StringVar(&cfg.WorkDir, "work-dir", "bin/demo-olm", "Directory for catalogs, kubeconfigs and logs, emptied first (missing, empty, or one the tools created; never under releases/)")
	f.StringVar(&mode, "install-mode", string(olmflow.OwnNamespace), "OwnNamespace, SingleNamespace, MultiNamespace or AllNamespaces")
	f.BoolVar(&cfg.HoldUpgrade, "hold-upgrade", true, "Show OLM holding the upgrade while a rollout runs (kwok's nodes only)")
	f.StringVar(&node.BinDir, "node-bin-dir", "", "A real node's binaries (make node-binaries builds them there); empty: kwok's nodes only")
	f.StringVar(&node.DebsDir, "debs-dir", "bin/debs", "Debian's memcached and busybox, unpacked (make debs), for the node's images")
	f.StringVar(&node.ImagesDir, "images-dir", "bin/testbed-images", "The real node's images' programs and their cache (layouts/)")
	f.StringVar(&node.OpmImageDir, "opm-image-dir", "bin/opm-image", "Where hack/testbed-image-binaries.sh leaves opm and grpc_health_probe")
	return cmd
}

// realNodeFlow runs the flow on a real node where this host can run one:
// every node image built (what is missing first), no held rollout.
func realNodeFlow(ctx context.Context, cfg *olmflow.Config, node demo.NodeConfig) error {
	if err := nodeConfig(&node); err != nil {
		return err
	}
	n, err := demo.PrepareNode(ctx, node, cfg.RepoRoot, cfg.WorkDir, cfg.Out)
	if err != nil || n == nil {
		return err
	}
	cfg.RealNode = &olmflow.RealNode{Options: n.Options, Images: n.Images}
	cfg.StepTimeout = 5 * time.Minute // pulls, bundle unpack Jobs and registry pods take longer than kwok's
	if cfg.HoldUpgrade {
		fmt.Fprintln(cfg.Out, "# on the real node the held rollout is left out: it cordons every node (KWOK=1 shows it on kwok's nodes)")
		cfg.HoldUpgrade = false
	}
	return nil
}
