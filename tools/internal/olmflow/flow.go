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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/localcluster"
	"github.com/example-inc/memcached-operator/tools/internal/olm"
	"github.com/example-inc/memcached-operator/tools/internal/operatorprocess"
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
	packageName       = "memcached-operator"
	installNamespace  = "memcached-operator-system"
	catalogSourceName = "memcached-operator-catalog"
	subscriptionName  = "memcached-operator"
)

// Config says what to run and where.
type Config struct {
	// RepoRoot holds catalog/template.yaml and releases/.
	RepoRoot string
	// K8sBinDir and OLMBinDir hold the control plane and OLM (make k8s-binaries olm-binaries).
	K8sBinDir, OLMBinDir string
	// WorkDir receives catalogs, kubeconfigs, the manager binary and logs.
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
}

// flow is one run: the cluster, OLM and what the steps share.
type flow struct {
	cfg   Config
	olm   *olm.OLM
	kube  kubernetes.Interface
	dyn   dynamic.Interface
	admin *rest.Config
	// managers are the manager binaries by version: the newest built from
	// the working tree, older ones from the commits that released them.
	managers map[string]string
	operator *operatorprocess.Operator
	// operatorVersion is the version operator runs.
	operatorVersion string
	stops           []func()

	oldVersion, newVersion string
	targets                []string // the OperatorGroup's target namespaces; nil for all
	memcachedNS            string
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

func (f *flow) start(ctx context.Context) error {
	f.say("Start a local cluster and OLM (its olm and catalog operators, built from source)")
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: f.cfg.K8sBinDir, StateDir: filepath.Join(f.cfg.WorkDir, "cluster")})
	if err != nil {
		return err
	}
	f.stops = append(f.stops, func() { _ = cluster.Stop() })
	f.admin = cluster.RESTConfig()
	if f.kube, err = kubernetes.NewForConfig(f.admin); err != nil {
		return err
	}
	if f.dyn, err = dynamic.NewForConfig(f.admin); err != nil {
		return err
	}
	o, err := olm.Start(ctx, olm.Options{BinDir: f.cfg.OLMBinDir, K8sBinDir: f.cfg.K8sBinDir, Kubeconfig: cluster.Kubeconfig(), LogDir: filepath.Join(f.cfg.WorkDir, "olm")})
	if err != nil {
		return err
	}
	f.stops = append(f.stops, func() { _ = o.Stop() })
	f.olm = o
	return f.buildManagers(ctx)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
	if !exists(oldBin) {
		if err := operatorprocess.BuildRelease(ctx, f.cfg.RepoRoot, f.oldVersion, oldBin); err != nil {
			return err
		}
	}
	if !exists(newBin) {
		return operatorprocess.Build(ctx, f.cfg.RepoRoot, newBin)
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

// installOldVersion: CatalogSource with the oldest release, OperatorGroup,
// Subscription; then wait for OLM to install the CSV.
func (f *flow) installOldVersion(ctx context.Context) error {
	f.say(fmt.Sprintf("Install %s v%s through a Subscription (%s)", packageName, f.oldVersion, f.cfg.Mode))
	if err := f.namespaces(ctx); err != nil {
		return err
	}
	addr, err := f.serveCatalog(ctx, f.oldVersion)
	if err != nil {
		return err
	}
	source := obj("operators.coreos.com/v1alpha1", "CatalogSource", installNamespace, catalogSourceName, map[string]any{
		"sourceType":  "grpc",
		"address":     addr,
		"displayName": "memcached-operator (local)",
		"publisher":   "example-inc",
	})
	group := obj("operators.coreos.com/v1", "OperatorGroup", installNamespace, "memcached-operator", map[string]any{})
	if f.targets != nil {
		_ = unstructured.SetNestedStringSlice(group.Object, f.targets, "spec", "targetNamespaces")
	}
	sub := obj("operators.coreos.com/v1alpha1", "Subscription", installNamespace, subscriptionName, map[string]any{
		"name":                packageName,
		"source":              catalogSourceName,
		"sourceNamespace":     installNamespace,
		"installPlanApproval": "Automatic",
	})
	for _, c := range []struct {
		gvr  schema.GroupVersionResource
		u    *unstructured.Unstructured
		desc string
	}{{catalogGVR, source, "CatalogSource " + catalogSourceName + " at " + addr}, {groupGVR, group, "OperatorGroup targeting " + f.targetsText()}, {subscriptionGVR, sub, "Subscription " + subscriptionName + " (Automatic)"}} {
		if _, err := f.dyn.Resource(c.gvr).Namespace(installNamespace).Create(ctx, c.u, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s: %w", c.desc, err)
		}
		f.note("created " + c.desc)
	}
	csv := csvName(f.oldVersion)
	if err := f.waitCSVSucceeded(ctx, csv); err != nil {
		return err
	}
	f.note(fmt.Sprintf("OLM resolved the Subscription, ran the InstallPlan and installed the CRD, the RBAC and the Deployment: CSV %s Succeeded", csv))
	return nil
}
