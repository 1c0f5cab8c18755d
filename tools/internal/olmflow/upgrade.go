package olmflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	operatorsv2 "github.com/operator-framework/api/pkg/operators/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// operand is what must survive an operator upgrade untouched.
type operand struct {
	memcachedUID, deploymentUID types.UID
	template                    string
	podUIDs                     []types.UID
	name                        string
	size                        int32
}

// operandSnapshot reads the one Memcached of the flow, its Deployment and
// its pods.
func (f *flow) operandSnapshot(ctx context.Context) (*operand, error) {
	list, err := f.memcacheds.List(ctx)
	if err != nil || len(list) != 1 {
		return nil, fmt.Errorf("listing Memcacheds in %s: %d found, %v", f.memcachedNS, len(list), err)
	}
	m := list[0]
	d := &appsv1.Deployment{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: f.memcachedNS, Name: m.Name}, d); err != nil {
		return nil, err
	}
	tmpl, _ := json.Marshal(d.Spec.Template)
	pods := &corev1.PodList{}
	if err := f.c.List(ctx, pods, client.InNamespace(f.memcachedNS), client.MatchingLabels{testbed.InstanceLabel: m.Name}); err != nil {
		return nil, err
	}
	var uids []types.UID
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			uids = append(uids, p.UID)
		}
	}
	slices.Sort(uids)
	return &operand{memcachedUID: m.UID, deploymentUID: d.UID, template: string(tmpl), podUIDs: uids, name: m.Name, size: m.Spec.Size}, nil
}

// startHeldRollout makes a rollout that cannot finish yet: the nodes are
// cordoned and the Memcached grows by one pod, which stays Pending.
func (f *flow) startHeldRollout(ctx context.Context) error {
	f.say("Start a rollout that cannot finish yet: cordon the nodes, grow the Memcached by one pod")
	m, err := f.cordon(ctx, true)
	if err != nil {
		return err
	}
	if err := f.memcacheds.Resize(ctx, m.name, m.size+1); err != nil {
		return err
	}
	last := "no OperatorCondition yet"
	err = f.poll(ctx, "the operator to report Upgradeable=False", &last, func(ctx context.Context) (bool, error) {
		oc := &operatorsv2.OperatorCondition{}
		if found, err := f.get(ctx, csvName(f.oldVersion), oc); !found {
			return false, err
		}
		var c metav1.Condition
		if found := meta.FindStatusCondition(oc.Spec.Conditions, operatorsv2.Upgradeable); found != nil {
			c = *found
		}
		last = fmt.Sprintf("Upgradeable=%q %s: %s", c.Status, c.Reason, c.Message)
		return c.Status == "False", nil
	})
	if err == nil {
		f.note("OperatorCondition " + csvName(f.oldVersion) + ": " + last)
	}
	return err
}

// showUpgradeHeld waits until OLM has created the CSV that replaces the
// installed one (the next release on the channel, which need not be the
// newest) and keeps it Pending because the operator is not upgradeable, then
// checks for a while that the old CSV stays and no other one succeeds.
func (f *flow) showUpgradeHeld(ctx context.Context) error {
	f.say("OLM holds the upgrade while the operator reports Upgradeable=False")
	oldCSV := csvName(f.oldVersion)
	var next string
	last := "no new CSV yet"
	err := f.poll(ctx, "OLM to hold the upgrade of "+oldCSV+" back", &last, func(ctx context.Context) (bool, error) {
		held, err := f.heldCSV(ctx, oldCSV)
		if err != nil || held == nil {
			return false, err
		}
		next, last = held.Name, held.Name+" "+csvState(held)
		return held.Status.Reason == "OperatorConditionNotUpgradeable", nil
	})
	if err != nil {
		return err
	}
	const window = 10 * time.Second
	for deadline := time.Now().Add(window); time.Now().Before(deadline); time.Sleep(time.Second) {
		if _, err := f.heldCSV(ctx, oldCSV); err != nil {
			return err
		}
	}
	f.note(fmt.Sprintf("CSV %s stays Pending (%s) for %s; %s keeps running", next, strings.TrimPrefix(last, next+" "), window, oldCSV))
	return nil
}

// heldCSV returns the CSV OLM holds back, if any yet, and fails when the
// old CSV is gone or another one succeeded: the hold did not hold.
func (f *flow) heldCSV(ctx context.Context, oldCSV string) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	list := &operatorsv1alpha1.ClusterServiceVersionList{}
	if err := f.c.List(ctx, list, client.InNamespace(installNamespace)); err != nil {
		return nil, err
	}
	var held *operatorsv1alpha1.ClusterServiceVersion
	oldThere := false
	for i := range list.Items {
		csv := &list.Items[i]
		if csv.Name == oldCSV {
			oldThere = true
			continue
		}
		if csv.Status.Phase == operatorsv1alpha1.CSVPhaseSucceeded {
			return nil, fmt.Errorf("CSV %s succeeded while the operator reported Upgradeable=False", csv.Name)
		}
		held = csv
	}
	if !oldThere {
		return nil, fmt.Errorf("CSV %s is gone while the operator reported Upgradeable=False", oldCSV)
	}
	return held, nil
}

func csvState(csv *operatorsv1alpha1.ClusterServiceVersion) string {
	return string(csv.Status.Reason) + ": " + csv.Status.Message
}

func (f *flow) finishHeldRollout(ctx context.Context) error {
	f.say("Uncordon the nodes: the rollout completes, Upgradeable turns True, OLM goes on")
	m, err := f.cordon(ctx, false)
	if err != nil {
		return err
	}
	return f.waitMemcachedReady(ctx, m.name, m.size)
}

// cordon cordons or uncordons every node, and returns the operand as it is
// then.
func (f *flow) cordon(ctx context.Context, unschedulable bool) (*operand, error) {
	nodes := &corev1.NodeList{}
	if err := f.c.List(ctx, nodes); err != nil {
		return nil, err
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		before := n.DeepCopy()
		n.Spec.Unschedulable = unschedulable
		if err := f.c.Patch(ctx, n, client.MergeFrom(before)); err != nil {
			return nil, fmt.Errorf("cordoning node %s: %w", n.Name, err)
		}
	}
	return f.operandSnapshot(ctx)
}

// publishNewVersion points the CatalogSource at a catalog that includes
// every release, as a catalog image update would: on kwok nodes a catalog
// served on a new loopback port; on a real node the shipped catalog image
// (OLM replaces the registry pod when spec.image changes).
func (f *flow) publishNewVersion(ctx context.Context) error {
	f.say(fmt.Sprintf("Publish v%s: the CatalogSource now serves a catalog that includes it", f.newVersion))
	field, value := "image", f.catalogImage
	if f.cfg.RealNode == nil {
		addr, err := f.serveCatalog(ctx, f.newVersion)
		if err != nil {
			return err
		}
		field, value = "address", addr
	}
	source := &operatorsv1alpha1.CatalogSource{ObjectMeta: installed(catalogSourceName)}
	patch := fmt.Appendf(nil, `{"spec":{%q:%q}}`, field, value)
	if err := f.c.Patch(ctx, source, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("pointing CatalogSource %s at %s: %w", catalogSourceName, value, err)
	}
	f.note("CatalogSource " + catalogSourceName + " now at " + value)
	return nil
}

// waitUpgraded waits for OLM's end state: the Subscription at the newest
// version, its CSV Succeeded and the only one left, the CRD updated.
func (f *flow) waitUpgraded(ctx context.Context) error {
	f.say(fmt.Sprintf("OLM upgrades the Subscription to v%s on its own", f.newVersion))
	oldCSV, newCSV := csvName(f.oldVersion), csvName(f.newVersion)
	last := "not yet"
	err := f.poll(ctx, "the upgrade to "+newCSV, &last, func(ctx context.Context) (bool, error) {
		var err error
		last, err = f.upgradeState(ctx, newCSV)
		return last == "", err
	})
	if err != nil {
		return err
	}
	f.note(fmt.Sprintf("Subscription at %s (AtLatestKnown), CSV Succeeded, InstallPlan Complete, %s and any release between deleted", newCSV, oldCSV))
	return f.waitCRDUpdated(ctx)
}

// upgradeState says what the upgrade to newCSV still waits for, "" once it
// is done.
func (f *flow) upgradeState(ctx context.Context, newCSV string) (string, error) {
	sub := &operatorsv1alpha1.Subscription{}
	if _, err := f.get(ctx, subscriptionName, sub); err != nil {
		return "", err
	}
	last := fmt.Sprintf("installedCSV %s, state %s", sub.Status.InstalledCSV, sub.Status.State)
	if sub.Status.InstalledCSV != newCSV || sub.Status.State != operatorsv1alpha1.SubscriptionStateAtLatest {
		return last, nil
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if found, _ := f.get(ctx, newCSV, csv); !found || csv.Status.Phase != operatorsv1alpha1.CSVPhaseSucceeded {
		return last + ", new CSV " + string(csv.Status.Phase), nil
	}
	// OLM walks the channel one release at a time: every CSV before the
	// newest, the installed one and any in between, is deleted.
	list := &operatorsv1alpha1.ClusterServiceVersionList{}
	if err := f.c.List(ctx, list, client.InNamespace(installNamespace)); err != nil {
		return "", err
	}
	for _, c := range list.Items {
		if c.Name != newCSV {
			return last + ", CSV " + c.Name + " still there", nil
		}
	}
	// The CSV can succeed before OLM records the InstallPlan's steps (a
	// status write that conflicts is retried by running the plan again), so
	// the InstallPlan's own phase says when every step is applied.
	if sub.Status.InstallPlanRef == nil {
		return last + ", no InstallPlan yet", nil
	}
	plan := sub.Status.InstallPlanRef.Name
	ip := &operatorsv1alpha1.InstallPlan{}
	if found, err := f.get(ctx, plan, ip); !found {
		return fmt.Sprintf("%s, InstallPlan %s: %v", last, plan, err), nil
	}
	if ip.Status.Phase != operatorsv1alpha1.InstallPlanPhaseComplete {
		return last + ", InstallPlan " + plan + " " + string(ip.Status.Phase), nil
	}
	return "", nil
}

// waitCRDUpdated waits until every spec field of the new release's CRD is
// served.
func (f *flow) waitCRDUpdated(ctx context.Context) error {
	path := filepath.Join(f.cfg.RepoRoot, catalog.DefaultReleasesDir, f.newVersion, "manifests", "cache.example.com_memcacheds.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	want := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, want); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var served []string
	last := "not read yet"
	err = f.poll(ctx, "CRD "+want.Name+" to serve v"+f.newVersion+"'s schema", &last, func(ctx context.Context) (bool, error) {
		got := &apiextensionsv1.CustomResourceDefinition{}
		if err := f.c.Get(ctx, client.ObjectKey{Name: want.Name}, got); err != nil {
			return false, err
		}
		served = specFields(got)
		for _, field := range specFields(want) {
			if !slices.Contains(served, field) {
				last = "spec." + field + " is not served"
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	f.note(fmt.Sprintf("CRD %s serves v%s's schema: spec fields %v", want.Name, f.newVersion, served))
	return nil
}

// specFields lists the spec fields of every version of crd.
func specFields(crd *apiextensionsv1.CustomResourceDefinition) []string {
	var names []string
	for _, v := range crd.Spec.Versions {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		for k := range v.Schema.OpenAPIV3Schema.Properties["spec"].Properties {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

func (f *flow) checkOperandKept(ctx context.Context, before *operand) error {
	f.say("The Memcached, its Deployment and its pods survived the upgrade")
	// Let the new operator reconcile everything once.
	time.Sleep(3 * time.Second)
	after, err := f.operandSnapshot(ctx)
	if err != nil {
		return err
	}
	var problems []string
	if after.memcachedUID != before.memcachedUID {
		problems = append(problems, "the Memcached was recreated")
	}
	if after.deploymentUID != before.deploymentUID {
		problems = append(problems, "its Deployment was recreated")
	}
	if after.template != before.template {
		problems = append(problems, "its pod template changed:\nbefore: "+before.template+"\nafter:  "+after.template)
	}
	for _, uid := range before.podUIDs {
		if !slices.Contains(after.podUIDs, uid) {
			problems = append(problems, fmt.Sprintf("pod %s was replaced", uid))
		}
	}
	if len(problems) > 0 {
		return errors.New("after the upgrade: " + strings.Join(problems, "; "))
	}
	f.note(fmt.Sprintf("Memcached %s and Deployment unchanged; all %d original pods still running", before.name, len(before.podUIDs)))
	return f.checkNewVersionObjects(ctx, before.name)
}

// checkNewVersionObjects waits for what only the newest version creates
// (0.2.0 added the Services and the PodDisruptionBudget), created with the
// permissions of its own CSV. Versions without them have nothing to check.
func (f *flow) checkNewVersionObjects(ctx context.Context, name string) error {
	if semver.MustParse(f.newVersion).LT(semver.MustParse("0.2.0")) {
		return nil
	}
	last := "not yet"
	err := f.poll(ctx, "the Services and PodDisruptionBudget of "+name, &last, func(ctx context.Context) (bool, error) {
		var missing []string
		for _, o := range []struct {
			kind, name string
			obj        client.Object
		}{{"Service", name, &corev1.Service{}}, {"Service", name + "-headless", &corev1.Service{}}, {"PodDisruptionBudget", name, &policyv1.PodDisruptionBudget{}}} {
			err := f.c.Get(ctx, client.ObjectKey{Namespace: f.memcachedNS, Name: o.name}, o.obj)
			if apierrors.IsNotFound(err) {
				missing = append(missing, o.kind+" "+o.name)
			} else if err != nil {
				return false, err
			}
		}
		last = "missing " + strings.Join(missing, ", ")
		return len(missing) == 0, nil
	})
	if err == nil {
		f.note(fmt.Sprintf("v%s created Services %s and %s-headless and PodDisruptionBudget %s with its CSV's permissions", f.newVersion, name, name, name))
	}
	return err
}
