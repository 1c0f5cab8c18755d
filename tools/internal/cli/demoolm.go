package cli

import (
	"fmt"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/olmflow"
)

func newDemoOLMCommand() *cobra.Command {
	cfg := olmflow.Config{}
	var mode string
	cmd := &cobra.Command{
		Use:   "demo-olm",
		Short: "Install the operator through OLM on the local cluster, then let OLM upgrade it",
		Long: `Starts a local cluster with OLM, serves the catalog's oldest release through a
CatalogSource, subscribes (Automatic), runs the installed operator as its CSV's
ServiceAccount, creates the alm-examples Memcached, publishes the newest
release and waits for OLM to upgrade — holding the upgrade first while a
rollout keeps the operator's Upgradeable condition False.`,
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
	f.BoolVar(&cfg.HoldUpgrade, "hold-upgrade", true, "Show OLM holding the upgrade while a rollout runs")
	return cmd
}
