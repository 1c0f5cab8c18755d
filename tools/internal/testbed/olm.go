package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// OLMNamespace is where OLM's own operators run, as in an upstream install.
const OLMNamespace = "olm"

// olmGlobalNamespace holds the AllNamespaces OperatorGroup of an upstream
// install.
const olmGlobalNamespace = "operators"

// olmFieldManager owns OLM's CRDs as the testbed applies them.
const olmFieldManager = "testbed-olm"

// OLM is OLM v0's olm and catalog operators running against a cluster.
type OLM struct {
	procs []*Process
}

// olmOperators are OLM's two processes and their arguments. Both bind :8080
// for health and metrics and cannot be told otherwise; the second logs that
// the address is in use and goes on. dnsWrapper runs the catalog operator:
// on a real node it dials a CatalogSource's registry Service by its cluster
// name (<name>.<namespace>.svc:50051), which only the node's CoreDNS knows.
func olmOperators(binDir, kubeconfig string, dnsWrapper []string) []ProcessSpec {
	return []ProcessSpec{{
		Name: "olm", Path: filepath.Join(binDir, "olm"),
		Args: []string{"--namespace", OLMNamespace, "--writeStatusName", "", "--writePackageServerStatusName", ""},
		// olm takes no --kubeconfig flag.
		Env: []string{"KUBECONFIG=" + kubeconfig},
	}, {
		Name: "catalog", Path: filepath.Join(binDir, "catalog"), Wrapper: dnsWrapper,
		Args: []string{"--kubeconfig", kubeconfig, "--namespace", OLMNamespace,
			// On kwok nodes nothing is pulled: catalogs are served from
			// loopback and bundles carry their objects. On the real node,
			// bundle unpack Jobs run the opm and util images (NodeImages
			// builds them); no ConfigMap catalog is used.
			"--configmapServerImage=quay.io/operator-framework/configmap-operator-registry:v1.73.0",
			"--opmImage=" + OpmImage,
			"--util-image=" + OLMUtilImage,
			"--set-workload-user-id=true", "--writeStatusName", "",
			// The catalog operator resolves a Subscription again on events and
			// on its resync, every 15 minutes by default. Between the hops of an
			// upgrade that walks the channel (0.1.0 -> 0.2.0 -> 0.3.x), the
			// resolution that follows a hop can run while the replaced CSV is
			// still in its cache and fail (ResolutionFailed,
			// ConstraintsNotSatisfiable, both CSVs @existing); nothing but the
			// resync retries it. Seen here under load. A real cluster then
			// upgrades within the resync period; the local one resyncs every
			// 30 s so that the tests see the same within minutes.
			"--interval=30s"},
	}}
}

// StartOLM installs OLM's CRDs (from binDir/crds) and namespaces on the
// cluster and starts its olm and catalog operators from binDir (`make
// olm-binaries`) as processes of the cluster. Stop stops them; so does the
// cluster's Stop. With a real node, the catalog operator resolves cluster
// names through the node's CoreDNS (ClusterDNSWrapper), so that
// CatalogSources of an image (spec.image) are served by registry pods.
func (c *Cluster) StartOLM(ctx context.Context, binDir string) (*OLM, error) {
	for _, f := range []string{"olm", "catalog", "crds"} {
		if _, err := os.Stat(filepath.Join(binDir, f)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make olm-binaries`", f, binDir)
		}
	}
	crds, err := ReadManifests(filepath.Join(binDir, "crds"))
	if err != nil {
		return nil, fmt.Errorf("reading OLM's CRDs: %w", err)
	}
	admin, err := NewClient(c.restConfig)
	if err != nil {
		return nil, err
	}
	if err := Apply(ctx, admin, olmFieldManager, crds...); err != nil {
		return nil, fmt.Errorf("installing OLM's CRDs: %w", err)
	}
	if err := EnsureNamespaces(ctx, admin, OLMNamespace, olmGlobalNamespace); err != nil {
		return nil, err
	}
	o := &OLM{}
	for _, spec := range olmOperators(binDir, c.Kubeconfig(), c.ClusterDNSWrapper()) {
		p, err := c.StartProcess(spec)
		if err != nil {
			return nil, errors.Join(err, o.Stop())
		}
		o.procs = append(o.procs, p)
	}
	// Give them a moment to fail on a bad flag or kubeconfig.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), o.Stop())
	}
	for _, p := range o.procs {
		if !p.Running() {
			return nil, errors.Join(p.ExitedError("at start"), o.Stop())
		}
	}
	return o, nil
}

// Stop stops both operators and waits for them to exit.
func (o *OLM) Stop() error {
	err := StopProcesses(o.procs, 10*time.Second)
	o.procs = nil
	return err
}

// Logs returns the last lines of each operator's log, for failure reports.
func (o *OLM) Logs(lines int) string {
	var b strings.Builder
	for _, p := range o.procs {
		fmt.Fprintf(&b, "--- %s (last %d lines of %s)\n%s\n", p.Name(), lines, p.LogFile(), Tail(p.LogFile(), lines))
	}
	return b.String()
}
