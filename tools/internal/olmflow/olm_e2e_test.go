//go:build e2e

package olmflow_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/olmflow"
)

// TestInstallAndUpgradeThroughOLM installs the oldest release through a
// Subscription and lets OLM upgrade it to the newest, in each kind of
// OperatorGroup. OwnNamespace also shows OLM holding the upgrade while the
// operator reports Upgradeable=False.
func TestInstallAndUpgradeThroughOLM(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	k8sBin := envOr("K8S_BIN_DIR", filepath.Join(root, "bin", "k8s"))
	olmBin := envOr("OLM_BIN_DIR", filepath.Join(root, "bin", "olm"))
	for _, need := range []string{filepath.Join(k8sBin, "kube-apiserver"), filepath.Join(olmBin, "olm"), filepath.Join(olmBin, "catalog")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s missing: run `make k8s-binaries olm-binaries` (%v)", need, err)
		}
	}
	managers := t.TempDir() // built once, shared by the subtests
	for _, tc := range []struct {
		mode olmflow.InstallMode
		hold bool
	}{
		{olmflow.OwnNamespace, true},
		{olmflow.SingleNamespace, false},
		{olmflow.MultiNamespace, false},
		{olmflow.AllNamespaces, false},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			var out bytes.Buffer
			err := olmflow.Run(t.Context(), olmflow.Config{
				RepoRoot:    root,
				K8sBinDir:   k8sBin,
				OLMBinDir:   olmBin,
				WorkDir:     t.TempDir(),
				ManagerDir:  managers,
				Mode:        tc.mode,
				HoldUpgrade: tc.hold,
				Out:         &out,
			})
			t.Log(out.String())
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
