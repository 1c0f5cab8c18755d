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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/catalogserver"
	"github.com/example-inc/memcached-operator/tools/internal/logtail"
	"github.com/example-inc/memcached-operator/tools/internal/operatorprocess"
)

func csvName(version string) string { return packageName + ".v" + version }

func (f *flow) say(step string) { fmt.Fprintf(f.cfg.Out, "\n## %s\n", step) }
func (f *flow) note(s string)   { fmt.Fprintf(f.cfg.Out, "# %s\n", s) }

func (f *flow) targetsText() string {
	if f.targets == nil {
		return "all namespaces"
	}
	return strings.Join(f.targets, ",")
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
	for _, ns := range []string{installNamespace, "team-a", "team-b"} {
		_, err := f.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	return nil
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

func (f *flow) waitCSVSucceeded(ctx context.Context, name string) error {
	last := "no CSV yet"
	return f.poll(ctx, "CSV "+name+" to succeed", &last, func(ctx context.Context) (bool, error) {
		csv, err := f.dyn.Resource(csvGVR).Namespace(installNamespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		phase := str(csv, "status", "phase")
		last = fmt.Sprintf("phase %q reason %q: %s", phase, str(csv, "status", "reason"), str(csv, "status", "message"))
		return phase == "Succeeded", nil
	})
}

// runOperator (re)starts the manager as OLM set up the CSV's Deployment: its
// ServiceAccount, target namespaces, environment and OperatorCondition.
func (f *flow) runOperator(ctx context.Context, version string) error {
	f.say(fmt.Sprintf("Run the operator of v%s as the ServiceAccount OLM created for its CSV", version))
	if f.operator != nil {
		if err := f.operator.Stop(); err != nil {
			return err
		}
		f.operator = nil
	}
	csv, err := f.dyn.Resource(csvGVR).Namespace(installNamespace).Get(ctx, csvName(version), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting CSV %s: %w", csvName(version), err)
	}
	deployments, _, _ := unstructured.NestedSlice(csv.Object, "spec", "install", "spec", "deployments")
	if len(deployments) != 1 {
		return fmt.Errorf("CSV %s has %d deployments, want 1", csvName(version), len(deployments))
	}
	name, _, _ := unstructured.NestedString(deployments[0].(map[string]any), "name")
	d, err := f.kube.AppsV1().Deployments(installNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting the operator Deployment %s that OLM created: %w", name, err)
	}
	sa := d.Spec.Template.Spec.ServiceAccountName
	kubeconfig := filepath.Join(f.cfg.WorkDir, "operator-"+version+".kubeconfig")
	if err := tokenKubeconfig(ctx, f.kube, f.admin, installNamespace, sa, kubeconfig); err != nil {
		return err
	}
	env := []string{"OPERATOR_NAMESPACE=" + installNamespace}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	watch := d.Spec.Template.Annotations["olm.targetNamespaces"]
	op, err := operatorprocess.Start(ctx, operatorprocess.Options{
		Binary:         f.managers[version],
		Kubeconfig:     kubeconfig,
		WatchNamespace: watch,
		Env:            env,
		Args:           []string{"--leader-elect", "--leader-election-namespace=" + installNamespace},
		LogFile:        filepath.Join(f.cfg.WorkDir, "operator-"+version+".log"),
	})
	if err != nil {
		return err
	}
	f.operator, f.operatorVersion = op, version
	f.stops = append(f.stops, func() { _ = op.Stop() })
	f.note(fmt.Sprintf("manager pid %d as system:serviceaccount:%s:%s, WATCH_NAMESPACE=%q, %s", op.Pid(), installNamespace, sa, watch, strings.Join(env, " ")))
	return nil
}

// createMemcached creates the CSV's alm-examples Memcached and waits until
// it runs: this is done with the permissions OLM granted.
func (f *flow) createMemcached(ctx context.Context) error {
	f.say("Create the Memcached of the CSV's alm-examples in " + f.memcachedNS)
	csv, err := f.dyn.Resource(csvGVR).Namespace(installNamespace).Get(ctx, csvName(f.oldVersion), metav1.GetOptions{})
	if err != nil {
		return err
	}
	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.GetAnnotations()["alm-examples"]), &examples); err != nil || len(examples) == 0 {
		return fmt.Errorf("CSV %s: alm-examples: %v", csv.GetName(), err)
	}
	m := &unstructured.Unstructured{Object: examples[0]}
	m.SetNamespace(f.memcachedNS)
	if _, err := f.dyn.Resource(memcachedGVR).Namespace(f.memcachedNS).Create(ctx, m, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Memcached %s: %w", m.GetName(), err)
	}
	return f.waitMemcachedReady(ctx, m.GetName(), int32(specSize(m)))
}

func (f *flow) waitMemcachedReady(ctx context.Context, name string, size int32) error {
	last := "not yet"
	err := f.poll(ctx, fmt.Sprintf("Memcached %s/%s to run %d ready pods", f.memcachedNS, name, size), &last, func(ctx context.Context) (bool, error) {
		d, err := f.kube.AppsV1().Deployments(f.memcachedNS).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			last = "no Deployment"
			return false, nil
		} else if err != nil {
			return false, err
		}
		m, err := f.dyn.Resource(memcachedGVR).Namespace(f.memcachedNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		nodes, _, _ := unstructured.NestedStringSlice(m.Object, "status", "nodes")
		last = fmt.Sprintf("Deployment %d/%d ready, status.nodes %v", d.Status.ReadyReplicas, size, nodes)
		return d.Status.ReadyReplicas == size && d.Status.UpdatedReplicas == size && len(nodes) == int(size), nil
	})
	if err == nil {
		f.note(fmt.Sprintf("Memcached %s: Deployment %d/%d, %d names in status.nodes", name, size, size, size))
	}
	return err
}

// operand is what must survive an operator upgrade untouched.
type operand struct {
	memcachedUID, deploymentUID types.UID
	template                    string
	podUIDs                     []types.UID
	name                        string
}

func (f *flow) operandSnapshot(ctx context.Context) (*operand, error) {
	list, err := f.dyn.Resource(memcachedGVR).Namespace(f.memcachedNS).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		return nil, fmt.Errorf("listing Memcacheds in %s: %d found, %v", f.memcachedNS, len(list.Items), err)
	}
	m := list.Items[0]
	d, err := f.kube.AppsV1().Deployments(f.memcachedNS).Get(ctx, m.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	tmpl, _ := json.Marshal(d.Spec.Template)
	pods, err := f.pods(ctx, m.GetName())
	if err != nil {
		return nil, err
	}
	return &operand{memcachedUID: m.GetUID(), deploymentUID: d.UID, template: string(tmpl), podUIDs: pods, name: m.GetName()}, nil
}

func (f *flow) pods(ctx context.Context, instance string) ([]types.UID, error) {
	list, err := f.kube.CoreV1().Pods(f.memcachedNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + instance})
	if err != nil {
		return nil, err
	}
	var uids []types.UID
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			uids = append(uids, p.UID)
		}
	}
	slices.Sort(uids)
	return uids, nil
}

// startHeldRollout makes a rollout that cannot finish yet: the nodes are
// cordoned and the Memcached grows by one pod, which stays Pending.
func (f *flow) startHeldRollout(ctx context.Context) error {
	f.say("Start a rollout that cannot finish yet: cordon the nodes, grow the Memcached by one pod")
	if err := f.cordon(ctx, true); err != nil {
		return err
	}
	list, err := f.dyn.Resource(memcachedGVR).Namespace(f.memcachedNS).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		return fmt.Errorf("listing Memcacheds: %v", err)
	}
	m := list.Items[0]
	patch := fmt.Sprintf(`{"spec":{"size":%d}}`, specSize(&m)+1)
	if _, err := f.dyn.Resource(memcachedGVR).Namespace(f.memcachedNS).Patch(ctx, m.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return err
	}
	last := "no OperatorCondition yet"
	err = f.poll(ctx, "the operator to report Upgradeable=False", &last, func(ctx context.Context) (bool, error) {
		oc, err := f.dyn.Resource(conditionGVR).Namespace(installNamespace).Get(ctx, csvName(f.oldVersion), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		status, reason, msg := condition(oc, "spec", "conditions", "Upgradeable")
		last = fmt.Sprintf("Upgradeable=%q %s: %s", status, reason, msg)
		return status == "False", nil
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
	// held returns the name and state of the CSV OLM holds back, if any yet.
	held := func(ctx context.Context) (string, string, error) {
		list, err := f.dyn.Resource(csvGVR).Namespace(installNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", "", err
		}
		var name, state string
		oldThere := false
		for i := range list.Items {
			csv := &list.Items[i]
			if csv.GetName() == oldCSV {
				oldThere = true
				continue
			}
			if str(csv, "status", "phase") == "Succeeded" {
				return "", "", fmt.Errorf("CSV %s succeeded while the operator reported Upgradeable=False", csv.GetName())
			}
			name, state = csv.GetName(), str(csv, "status", "reason")+": "+str(csv, "status", "message")
		}
		if !oldThere {
			return "", "", fmt.Errorf("CSV %s is gone while the operator reported Upgradeable=False", oldCSV)
		}
		return name, state, nil
	}
	var next string
	last := "no new CSV yet"
	err := f.poll(ctx, "OLM to hold the upgrade of "+oldCSV+" back", &last, func(ctx context.Context) (bool, error) {
		name, state, err := held(ctx)
		if err != nil {
			return false, err
		}
		if name != "" {
			next, last = name, name+" "+state
		}
		return strings.HasPrefix(state, "OperatorConditionNotUpgradeable"), nil
	})
	if err != nil {
		return err
	}
	const window = 10 * time.Second
	for deadline := time.Now().Add(window); time.Now().Before(deadline); time.Sleep(time.Second) {
		if _, _, err := held(ctx); err != nil {
			return err
		}
	}
	f.note(fmt.Sprintf("CSV %s stays Pending (%s) for %s; %s keeps running", next, strings.TrimPrefix(last, next+" "), window, oldCSV))
	return nil
}

func (f *flow) finishHeldRollout(ctx context.Context) error {
	f.say("Uncordon the nodes: the rollout completes, Upgradeable turns True, OLM goes on")
	if err := f.cordon(ctx, false); err != nil {
		return err
	}
	list, err := f.dyn.Resource(memcachedGVR).Namespace(f.memcachedNS).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		return fmt.Errorf("listing Memcacheds: %v", err)
	}
	return f.waitMemcachedReady(ctx, list.Items[0].GetName(), int32(specSize(&list.Items[0])))
}

func (f *flow) cordon(ctx context.Context, unschedulable bool) error {
	nodes, err := f.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, unschedulable)
	for _, n := range nodes.Items {
		if _, err := f.kube.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("cordoning node %s: %w", n.Name, err)
		}
	}
	return nil
}

// publishNewVersion serves a catalog with every release on a new port and
// points the CatalogSource at it, as a catalog image update would.
func (f *flow) publishNewVersion(ctx context.Context) error {
	f.say(fmt.Sprintf("Publish v%s: the CatalogSource now serves a catalog that includes it", f.newVersion))
	addr, err := f.serveCatalog(ctx, f.newVersion)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"address":%q}}`, addr)
	if _, err := f.dyn.Resource(catalogGVR).Namespace(installNamespace).Patch(ctx, catalogSourceName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("pointing CatalogSource %s at %s: %w", catalogSourceName, addr, err)
	}
	f.note("CatalogSource " + catalogSourceName + " now at " + addr)
	return nil
}

// waitUpgraded waits for OLM's end state: the Subscription at the newest
// version, its CSV Succeeded and the only one left, the CRD updated.
func (f *flow) waitUpgraded(ctx context.Context) error {
	f.say(fmt.Sprintf("OLM upgrades the Subscription to v%s on its own", f.newVersion))
	oldCSV, newCSV := csvName(f.oldVersion), csvName(f.newVersion)
	last := "not yet"
	err := f.poll(ctx, "the upgrade to "+newCSV, &last, func(ctx context.Context) (bool, error) {
		sub, err := f.dyn.Resource(subscriptionGVR).Namespace(installNamespace).Get(ctx, subscriptionName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		installed, state := str(sub, "status", "installedCSV"), str(sub, "status", "state")
		last = fmt.Sprintf("installedCSV %s, state %s", installed, state)
		if installed != newCSV || state != "AtLatestKnown" {
			return false, nil
		}
		csv, err := f.dyn.Resource(csvGVR).Namespace(installNamespace).Get(ctx, newCSV, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if phase := str(csv, "status", "phase"); phase != "Succeeded" {
			last += ", new CSV " + phase
			return false, nil
		}
		// OLM walks the channel one release at a time: every CSV before
		// the newest, the installed one and any in between, is deleted.
		list, err := f.dyn.Resource(csvGVR).Namespace(installNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range list.Items {
			if name := list.Items[i].GetName(); name != newCSV {
				last += ", CSV " + name + " still there"
				return false, nil
			}
		}
		// The CSV can succeed before OLM records the InstallPlan's steps (a
		// status write that conflicts is retried by running the plan again),
		// so the InstallPlan's own phase says when every step is applied.
		plan := str(sub, "status", "installPlanRef", "name")
		ip, err := f.dyn.Resource(installPlanGVR).Namespace(installNamespace).Get(ctx, plan, metav1.GetOptions{})
		if err != nil {
			last += ", InstallPlan " + plan + ": " + err.Error()
			return false, nil
		}
		if phase := str(ip, "status", "phase"); phase != "Complete" {
			last += ", InstallPlan " + plan + " " + phase
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	f.note(fmt.Sprintf("Subscription at %s (AtLatestKnown), CSV Succeeded, InstallPlan Complete, %s and any release between deleted", newCSV, oldCSV))
	return f.waitCRDUpdated(ctx)
}

// waitCRDUpdated waits until every spec field of the new release's CRD is
// served.
func (f *flow) waitCRDUpdated(ctx context.Context) error {
	path := filepath.Join(f.cfg.RepoRoot, catalog.DefaultReleasesDir, f.newVersion, "manifests", "cache.example.com_memcacheds.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var want unstructured.Unstructured
	if err := yaml.Unmarshal(data, &want.Object); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fields := func(u *unstructured.Unstructured) []string {
		versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
		var names []string
		for _, v := range versions {
			props, _, _ := unstructured.NestedMap(v.(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties")
			for k := range props {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		return names
	}
	var served []string
	last := "not read yet"
	err = f.poll(ctx, "CRD "+want.GetName()+" to serve v"+f.newVersion+"'s schema", &last, func(ctx context.Context) (bool, error) {
		got, err := f.dyn.Resource(crdGVR).Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		served = fields(got)
		for _, field := range fields(&want) {
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
	f.note(fmt.Sprintf("CRD %s serves v%s's schema: spec fields %v", want.GetName(), f.newVersion, served))
	return nil
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
		for _, svc := range []string{name, name + "-headless"} {
			if _, err := f.kube.CoreV1().Services(f.memcachedNS).Get(ctx, svc, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				missing = append(missing, "Service "+svc)
			} else if err != nil {
				return false, err
			}
		}
		if _, err := f.kube.PolicyV1().PodDisruptionBudgets(f.memcachedNS).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			missing = append(missing, "PodDisruptionBudget "+name)
		} else if err != nil {
			return false, err
		}
		last = "missing " + strings.Join(missing, ", ")
		return len(missing) == 0, nil
	})
	if err == nil {
		f.note(fmt.Sprintf("v%s created Services %s and %s-headless and PodDisruptionBudget %s with its CSV's permissions", f.newVersion, name, name, name))
	}
	return err
}

// condition finds a condition of type t in the list at fields.
func condition(u *unstructured.Unstructured, path ...string) (status, reason, message string) {
	t := path[len(path)-1]
	list, _, _ := unstructured.NestedSlice(u.Object, path[:len(path)-1]...)
	for _, c := range list {
		m, _ := c.(map[string]any)
		if m["type"] == t {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "", "", ""
}

// diagnostics is what an operator author looks at when an install or
// upgrade fails: a summary of each OLM object (phases, conditions, step
// states; not the manifests, which would bury the rest) and the logs.
func (f *flow) diagnostics(ctx context.Context) string {
	if f.dyn == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n=== OLM state ===\n")
	list := func(title string, gvr schema.GroupVersionResource, summary func(*unstructured.Unstructured) string) {
		fmt.Fprintf(&b, "--- %s\n", title)
		items, err := f.dyn.Resource(gvr).Namespace(installNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			fmt.Fprintf(&b, "  (%v)\n", err)
			return
		}
		for i := range items.Items {
			fmt.Fprintf(&b, "  %s: %s\n", items.Items[i].GetName(), summary(&items.Items[i]))
		}
	}
	list("Subscriptions", subscriptionGVR, func(u *unstructured.Unstructured) string {
		return fmt.Sprintf("state %q installedCSV %q currentCSV %q%s", str(u, "status", "state"), str(u, "status", "installedCSV"),
			str(u, "status", "currentCSV"), conditionsText(u, "status", "conditions"))
	})
	list("InstallPlans", installPlanGVR, func(u *unstructured.Unstructured) string {
		csvs, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "clusterServiceVersionNames")
		approved, _, _ := unstructured.NestedBool(u.Object, "spec", "approved")
		steps, _, _ := unstructured.NestedSlice(u.Object, "status", "plan")
		counts := map[string]int{}
		for _, s := range steps {
			st, _, _ := unstructured.NestedString(s.(map[string]any), "status")
			counts[st]++
		}
		lookups, _, _ := unstructured.NestedSlice(u.Object, "status", "bundleLookups")
		return fmt.Sprintf("csvs %v approved %t phase %q steps %v bundleLookups %d%s", csvs, approved, str(u, "status", "phase"),
			counts, len(lookups), conditionsText(u, "status", "conditions"))
	})
	list("ClusterServiceVersions", csvGVR, func(u *unstructured.Unstructured) string {
		return fmt.Sprintf("phase %q reason %q: %s", str(u, "status", "phase"), str(u, "status", "reason"), str(u, "status", "message"))
	})
	list("OperatorConditions", conditionGVR, func(u *unstructured.Unstructured) string {
		return conditionsText(u, "spec", "conditions")
	})
	if f.olm != nil {
		b.WriteString(f.olm.Logs(40))
	}
	if f.operatorVersion != "" {
		path := filepath.Join(f.cfg.WorkDir, "operator-"+f.operatorVersion+".log")
		fmt.Fprintf(&b, "--- operator v%s (last 30 lines of %s)\n%s\n", f.operatorVersion, path, logtail.Tail(path, 30))
	}
	return b.String()
}

// conditionsText renders a list of conditions on one line each.
func conditionsText(u *unstructured.Unstructured, path ...string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, path...)
	var b strings.Builder
	for _, c := range conds {
		m, _ := c.(map[string]any)
		fmt.Fprintf(&b, "\n      %v=%v %v: %v", m["type"], m["status"], m["reason"], m["message"])
	}
	return b.String()
}

// specSize reads spec.size whether it was decoded from JSON (float64) or
// from the API (int64).
func specSize(m *unstructured.Unstructured) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(m.Object, "spec", "size")
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}
