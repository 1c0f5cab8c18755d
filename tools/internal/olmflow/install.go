package olmflow

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/catalogserver"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

func csvName(version string) string { return packageName + ".v" + version }

func (f *flow) say(step string) { fmt.Fprintf(f.cfg.Out, "\n## %s\n", step) }
func (f *flow) note(s string)   { fmt.Fprintf(f.cfg.Out, "# %s\n", s) }

// installed is an object of the install namespace.
func installed(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: installNamespace, Name: name}
}

func (f *flow) targetsText() string {
	if f.targets == nil {
		return "all namespaces"
	}
	return strings.Join(f.targets, ",")
}

// installOldVersion: CatalogSource with the oldest release, OperatorGroup,
// Subscription; then wait for OLM to install the CSV.
func (f *flow) installOldVersion(ctx context.Context) error {
	f.say(fmt.Sprintf("Install %s v%s through a Subscription (%s)", packageName, f.oldVersion, f.cfg.Mode))
	if err := f.namespaces(ctx); err != nil {
		return err
	}
	source, sourceDesc, err := f.catalogSource(ctx)
	if err != nil {
		return err
	}
	sub := &operatorsv1alpha1.Subscription{ObjectMeta: installed(subscriptionName), Spec: &operatorsv1alpha1.SubscriptionSpec{
		Package: packageName, CatalogSource: catalogSourceName, CatalogSourceNamespace: installNamespace, InstallPlanApproval: operatorsv1alpha1.ApprovalAutomatic,
	}}
	subDesc := "Subscription " + subscriptionName + " (Automatic)"
	for _, c := range []struct {
		obj  client.Object
		desc string
	}{{source, sourceDesc}, {&operatorsv1.OperatorGroup{ObjectMeta: installed("memcached-operator"), Spec: operatorsv1.OperatorGroupSpec{
		TargetNamespaces: f.targets,
	}}, "OperatorGroup targeting " + f.targetsText()}, {sub, subDesc}} {
		if err := f.c.Create(ctx, c.obj); err != nil {
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

// namespaces creates the install namespace and the target namespaces the
// mode needs, and picks where the Memcached goes.
func (f *flow) namespaces(ctx context.Context) error {
	switch f.cfg.Mode {
	case OwnNamespace:
		f.targets, f.memcachedNS = []string{installNamespace}, installNamespace
	case SingleNamespace:
		f.targets, f.memcachedNS = []string{"team-a"}, "team-a"
	case MultiNamespace:
		f.targets, f.memcachedNS = []string{"team-a", "team-b"}, "team-b"
	case AllNamespaces:
		f.targets, f.memcachedNS = nil, "team-a"
	default:
		return fmt.Errorf("unknown install mode %q", f.cfg.Mode)
	}
	f.memcacheds = testbed.Memcacheds(f.c, f.memcachedNS)
	return testbed.EnsureNamespaces(ctx, f.c, installNamespace, "team-a", "team-b")
}

// catalogSource is the CatalogSource the flow starts with, a catalog with
// the releases up to the oldest: on kwok nodes served on loopback; on a
// real node the catalog image the oldest release published.
func (f *flow) catalogSource(ctx context.Context) (*operatorsv1alpha1.CatalogSource, string, error) {
	source := &operatorsv1alpha1.CatalogSource{ObjectMeta: installed(catalogSourceName), Spec: operatorsv1alpha1.CatalogSourceSpec{
		SourceType: operatorsv1alpha1.SourceTypeGrpc, DisplayName: "memcached-operator (local)", Publisher: "example-inc",
	}}
	if f.cfg.RealNode != nil {
		source.Spec.Image = f.oldCatalogImage
		return source, "CatalogSource " + catalogSourceName + " of image " + f.oldCatalogImage, nil
	}
	addr, err := f.serveCatalog(ctx, f.oldVersion)
	if err != nil {
		return nil, "", err
	}
	source.Spec.Address = addr
	return source, "CatalogSource " + catalogSourceName + " at " + addr, nil
}

// serveCatalog renders the catalog with embedded bundles up to maxVersion
// and serves it on a new loopback port.
func (f *flow) serveCatalog(ctx context.Context, maxVersion string) (string, error) {
	dir := filepath.Join(f.cfg.WorkDir, "catalog-"+maxVersion)
	_, err := catalog.Render(ctx, catalog.RenderOptions{
		Template:     filepath.Join(f.cfg.RepoRoot, catalog.DefaultTemplate),
		ReleasesDir:  filepath.Join(f.cfg.RepoRoot, catalog.DefaultReleasesDir),
		OutputDir:    dir,
		EmbedBundles: true,
		MaxVersion:   maxVersion,
	})
	if err != nil {
		return "", err
	}
	addr, stop, err := catalogserver.Serve(ctx, dir, "")
	if err != nil {
		return "", err
	}
	f.stops = append(f.stops, stop)
	return addr, nil
}

func (f *flow) poll(ctx context.Context, what string, last *string, done wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, f.cfg.StepTimeout, true, done)
	if err != nil {
		return fmt.Errorf("waiting for %s: %s: %w", what, *last, err)
	}
	return nil
}

// get reads one object of the install namespace; a missing one is not an
// error but false, for polls.
func (f *flow) get(ctx context.Context, name string, obj client.Object) (bool, error) {
	err := f.c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (f *flow) waitCSVSucceeded(ctx context.Context, name string) error {
	last := "no CSV yet"
	return f.poll(ctx, "CSV "+name+" to succeed", &last, func(ctx context.Context) (bool, error) {
		csv := &operatorsv1alpha1.ClusterServiceVersion{}
		if found, err := f.get(ctx, name, csv); !found {
			return false, err
		}
		last = fmt.Sprintf("phase %q reason %q: %s", csv.Status.Phase, csv.Status.Reason, csv.Status.Message)
		return csv.Status.Phase == operatorsv1alpha1.CSVPhaseSucceeded, nil
	})
}

// runOperator (re)starts the manager as OLM set up the CSV's Deployment: its
// ServiceAccount, target namespaces, environment and OperatorCondition. On
// a real node the Deployment runs it: runOperator waits for its pod.
func (f *flow) runOperator(ctx context.Context, version string) error {
	if f.cfg.RealNode != nil {
		return f.waitOperatorPod(ctx, version)
	}
	f.say(fmt.Sprintf("Run the operator of v%s as the ServiceAccount OLM created for its CSV", version))
	if f.operator != nil {
		if err := f.operator.Stop(); err != nil {
			return err
		}
		f.operator = nil
	}
	d, err := f.operatorDeployment(ctx, version)
	if err != nil {
		return err
	}
	sa := d.Spec.Template.Spec.ServiceAccountName
	id, err := f.cluster.Identity(ctx, installNamespace, sa)
	if err != nil {
		return err
	}
	env := []string{"OPERATOR_NAMESPACE=" + installNamespace}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	watch := d.Spec.Template.Annotations["olm.targetNamespaces"]
	op, err := f.cluster.StartOperator(ctx, testbed.OperatorOptions{
		Name:           "operator-" + version,
		Binary:         f.managers[version],
		Kubeconfig:     id.Kubeconfig,
		WatchNamespace: watch,
		Env:            env,
		Args:           []string{"--leader-elect", "--leader-election-namespace=" + installNamespace},
	})
	if err != nil {
		return err
	}
	f.operator, f.operatorVersion = op, version
	f.note(fmt.Sprintf("manager pid %d as %s, WATCH_NAMESPACE=%q, %s", op.Pid(), id.Username, watch, strings.Join(env, " ")))
	return nil
}

// operatorDeployment is the Deployment OLM created for the CSV of version.
func (f *flow) operatorDeployment(ctx context.Context, version string) (*appsv1.Deployment, error) {
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: csvName(version)}, csv); err != nil {
		return nil, fmt.Errorf("getting CSV %s: %w", csvName(version), err)
	}
	deployments := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deployments) != 1 {
		return nil, fmt.Errorf("CSV %s has %d deployments, want 1", csvName(version), len(deployments))
	}
	d := &appsv1.Deployment{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: deployments[0].Name}, d); err != nil {
		return nil, fmt.Errorf("getting the operator Deployment %s that OLM created: %w", deployments[0].Name, err)
	}
	return d, nil
}

// createMemcached creates the CSV's alm-examples Memcached and waits until
// it runs: this is done with the permissions OLM granted.
func (f *flow) createMemcached(ctx context.Context) error {
	f.say("Create the Memcached of the CSV's alm-examples in " + f.memcachedNS)
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: csvName(f.oldVersion)}, csv); err != nil {
		return err
	}
	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.Annotations["alm-examples"]), &examples); err != nil || len(examples) == 0 {
		return fmt.Errorf("CSV %s: alm-examples: %v", csv.Name, err)
	}
	m, err := testbed.MemcachedFromUnstructured(&unstructured.Unstructured{Object: examples[0]})
	if err != nil {
		return err
	}
	if err := f.memcacheds.CreateObject(ctx, examples[0]); err != nil {
		return err
	}
	return f.waitMemcachedReady(ctx, m.Name, m.Spec.Size)
}

func (f *flow) waitMemcachedReady(ctx context.Context, name string, size int32) error {
	last := "not yet"
	err := f.poll(ctx, fmt.Sprintf("Memcached %s/%s to run %d ready pods", f.memcachedNS, name, size), &last, func(ctx context.Context) (bool, error) {
		d := &appsv1.Deployment{}
		err := f.c.Get(ctx, client.ObjectKey{Namespace: f.memcachedNS, Name: name}, d)
		if apierrors.IsNotFound(err) {
			last = "no Deployment"
			return false, nil
		} else if err != nil {
			return false, err
		}
		m, err := f.memcacheds.Get(ctx, name)
		if err != nil {
			return false, err
		}
		last = fmt.Sprintf("Deployment %d/%d ready, status.nodes %v", d.Status.ReadyReplicas, size, m.Status.Nodes)
		return d.Status.ReadyReplicas == size && d.Status.UpdatedReplicas == size && len(m.Status.Nodes) == int(size), nil
	})
	if err == nil {
		f.note(fmt.Sprintf("Memcached %s: Deployment %d/%d, %d names in status.nodes", name, size, size, size))
	}
	return err
}
