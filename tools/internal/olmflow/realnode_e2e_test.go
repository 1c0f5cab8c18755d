//go:build e2e

package olmflow_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/olmflow"
)

// TestInstallAndUpgradeOnTheRealNode is the OLM flow with nothing played:
// a CatalogSource of a catalog image (OLM's registry pod runs its opm),
// bundle images unpacked by OLM's Jobs, the operator and memcached running
// as pods of the shipped images on the real node. OLM installs the oldest
// release from the oldest release's catalog image and, once the
// CatalogSource names the shipped catalog image, walks the channel to the
// newest; the Memcached's
// Deployment and pods are the same objects, with the same pod template,
// after every hop. Once the node is down the host is as before.
func TestInstallAndUpgradeOnTheRealNode(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bins := nodetest.BinsFromEnv(t, root, false)
	images := bins.NodeImages(t)
	before := nodetest.LockedSnapshot(t)
	work := t.TempDir()
	var out bytes.Buffer
	began := time.Now()
	err = olmflow.Run(t.Context(), olmflow.Config{
		RepoRoot:    root,
		K8sBinDir:   bins.K8s,
		OLMBinDir:   bins.OLM,
		WorkDir:     work,
		Mode:        olmflow.AllNamespaces,
		Out:         &out,
		StepTimeout: 5 * time.Minute,
		RealNode:    &olmflow.RealNode{Options: bins.NodeOptions(), Images: images},
	})
	t.Log(out.String())
	t.Logf("timing: install, Memcached and upgrade through OLM on the real node (lock wait included) in %s", time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Error(err)
	}
	bins.CheckHostRestored(t, before, filepath.Join(work, "cluster"))
}
