package olmflow

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/blang/semver/v4"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// InstallMode is the kind of OperatorGroup the operator is installed into.
type InstallMode string

// The install modes the CSV supports.
const (
	OwnNamespace    InstallMode = "OwnNamespace"
	SingleNamespace InstallMode = "SingleNamespace"
	MultiNamespace  InstallMode = "MultiNamespace"
	AllNamespaces   InstallMode = "AllNamespaces"
)

const (
	packageName = "memcached-operator"
	// installNamespace is where the operator is subscribed, as config/
	// installs it.
	installNamespace  = testbed.OperatorNamespace
	catalogSourceName = "memcached-operator-catalog"
	subscriptionName  = "memcached-operator"
)

// Config says what to run and where.
type Config struct {
	// RepoRoot holds catalog/template.yaml and releases/.
	RepoRoot string
	// K8sBinDir and OLMBinDir hold the control plane and OLM (make k8s-binaries olm-binaries).
	K8sBinDir, OLMBinDir string
	// WorkDir receives the cluster's state and logs (OLM's and the
	// operator's among them), catalogs and the manager binaries.
	WorkDir string
	// Mode is the OperatorGroup's install mode.
	Mode InstallMode
	// HoldUpgrade makes a rollout run while the new version is published, to
	// show OLM holding the upgrade while the operator reports Upgradeable=False.
	HoldUpgrade bool
	// Out receives the steps.
	Out io.Writer
	// ManagerDir receives the manager binaries, one per version, built only
	// if missing there; defaults to WorkDir. The newest is built from the
	// working tree, so runs share a ManagerDir only while it is unchanged
	// (the subtests of one test run, for instance).
	ManagerDir string
	// StepTimeout bounds each wait; defaults to 3 minutes.
	StepTimeout time.Duration
	// RealNode, when set, runs the flow on a cluster with a real node and
	// the images the project ships (see RealNode).
	RealNode *RealNode
}

// RealNode runs the flow as OLM runs it on a real cluster: the
// CatalogSource serves the shipped catalog image (spec.image: OLM runs its
// opm in a registry pod behind a Service), OLM unpacks each bundle image in
// a Job, and the operator runs as the pod of the Deployment OLM created,
// from the shipped operator image. Every image is pushed under its upstream
// name to the node's loopback registry; nothing in a bundle or the catalog
// is rewritten.
//
// The CatalogSource starts on the catalog image the oldest release
// published, and the flow publishes the newest release by pointing its
// spec.image at the shipped catalog image; OLM then walks the channel on
// its own.
type RealNode struct {
	// Options are the node's (testbed.ClusterOptions.RealNode).
	Options *testbed.RealNodeOptions
	// Images are pushed to the node's registry before OLM starts
	// (testbed.NodeImages): they must hold the catalog images of the
	// oldest and the newest release.
	Images []testbed.NodeImage
}

// flow is one run: the cluster, OLM and what the steps share.
type flow struct {
	cfg     Config
	cluster *testbed.Cluster
	olm     *testbed.OLM
	// c reads and writes OLM's objects as operator-framework/api's types,
	// and every built-in kind.
	c client.Client
	// managers are the manager binaries by version: the newest built from
	// the working tree, older ones from the commits that released them.
	managers map[string]string
	operator *testbed.Operator
	// operatorVersion is the version operator runs.
	operatorVersion string
	stops           []func()

	oldVersion, newVersion string
	// oldCatalogImage and catalogImage are, on a real node, the catalog
	// image the oldest release published and the shipped one.
	oldCatalogImage, catalogImage string
	targets                       []string // the OperatorGroup's target namespaces; nil for all
	memcachedNS                   string
	memcacheds                    testbed.MemcachedClient
}

// Run installs the oldest released version through a Subscription, runs the
// operator as OLM set it up, creates a Memcached, then publishes the newest
// release and waits for OLM to upgrade. Everything it started is stopped
// before it returns. On failure, what an operator author would look at
// (Subscription, InstallPlan and CSV conditions, OLM's logs) is written to Out.
func Run(ctx context.Context, cfg Config) (err error) {
	if cfg.StepTimeout == 0 {
		cfg.StepTimeout = 3 * time.Minute
	}
	if cfg.RealNode != nil && cfg.HoldUpgrade {
		return fmt.Errorf("HoldUpgrade cordons every node: it runs on kwok nodes only")
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	f := &flow{cfg: cfg}
	defer func() {
		for i := len(f.stops) - 1; i >= 0; i-- {
			f.stops[i]()
		}
	}()
	if err := f.versions(); err != nil {
		return err
	}
	if err := f.start(ctx); err != nil {
		return err
	}
	if err := f.steps(ctx); err != nil {
		// The diagnostics go to Out and the error stays short, so that the
		// last line a failing run prints is what went wrong.
		fmt.Fprint(f.cfg.Out, f.diagnostics(context.WithoutCancel(ctx)))
		return fmt.Errorf("%s: %w", f.cfg.Mode, err)
	}
	return nil
}

// versions picks the oldest and the newest release of the template.
func (f *flow) versions() error {
	t, err := catalog.LoadTemplate(filepath.Join(f.cfg.RepoRoot, catalog.DefaultTemplate))
	if err != nil {
		return err
	}
	var vs []semver.Version
	for _, r := range t.Releases {
		v, err := semver.Parse(r.Version)
		if err != nil {
			return fmt.Errorf("catalog template: release %q: %w", r.Version, err)
		}
		vs = append(vs, v)
	}
	if len(vs) < 2 {
		return fmt.Errorf("catalog template lists %d release(s): an upgrade needs two (make catalog VERSION=...)", len(vs))
	}
	slices.SortFunc(vs, func(a, b semver.Version) int { return a.Compare(b) })
	f.oldVersion, f.newVersion = vs[0].String(), vs[len(vs)-1].String()
	return nil
}

// start runs the cluster and OLM on it; stopping the cluster stops OLM and
// the operator too.
func (f *flow) start(ctx context.Context) error {
	f.say("Start a local cluster and OLM (its olm and catalog operators, built from source)")
	opts := testbed.ClusterOptions{BinDir: f.cfg.K8sBinDir, StateDir: filepath.Join(f.cfg.WorkDir, "cluster")}
	if f.cfg.RealNode != nil {
		opts.RealNode = f.cfg.RealNode.Options
	}
	cluster, err := testbed.StartCluster(ctx, opts)
	if err != nil {
		return err
	}
	f.cluster = cluster
	f.stops = append(f.stops, func() { _ = cluster.Stop() })
	if f.c, err = testbed.NewClient(cluster.RESTConfig()); err != nil {
		return err
	}
	if f.cfg.RealNode != nil {
		if err := f.pushImages(ctx); err != nil {
			return err
		}
	}
	if f.olm, err = cluster.StartOLM(ctx, f.cfg.OLMBinDir); err != nil {
		return err
	}
	if f.cfg.RealNode != nil {
		return nil // the operator runs from its images
	}
	return f.buildManagers(ctx)
}

// buildManagers builds the oldest release's manager from the commit that
// recorded it and the newest from the working tree, unless ManagerDir has
// them already.
func (f *flow) buildManagers(ctx context.Context) error {
	dir := f.cfg.ManagerDir
	if dir == "" {
		dir = f.cfg.WorkDir
	}
	f.managers = map[string]string{
		f.oldVersion: filepath.Join(dir, "manager-"+f.oldVersion),
		f.newVersion: filepath.Join(dir, "manager-"+f.newVersion),
	}
	oldBin, newBin := f.managers[f.oldVersion], f.managers[f.newVersion]
	if _, err := os.Stat(oldBin); err != nil {
		if err := testbed.BuildReleasedOperator(ctx, f.cfg.RepoRoot, f.oldVersion, oldBin); err != nil {
			return err
		}
	}
	if _, err := os.Stat(newBin); err != nil {
		return testbed.BuildOperator(ctx, f.cfg.RepoRoot, newBin)
	}
	return nil
}

func (f *flow) steps(ctx context.Context) error {
	if err := f.installOldVersion(ctx); err != nil {
		return err
	}
	if err := f.runOperator(ctx, f.oldVersion); err != nil {
		return err
	}
	if err := f.createMemcached(ctx); err != nil {
		return err
	}
	before, err := f.operandSnapshot(ctx)
	if err != nil {
		return err
	}
	if f.cfg.HoldUpgrade {
		if err := f.startHeldRollout(ctx); err != nil {
			return err
		}
	}
	if err := f.publishNewVersion(ctx); err != nil {
		return err
	}
	if f.cfg.HoldUpgrade {
		if err := f.showUpgradeHeld(ctx); err != nil {
			return err
		}
		if err := f.finishHeldRollout(ctx); err != nil {
			return err
		}
	}
	if err := f.waitUpgraded(ctx); err != nil {
		return err
	}
	if err := f.runOperator(ctx, f.newVersion); err != nil {
		return err
	}
	return f.checkOperandKept(ctx, before)
}
