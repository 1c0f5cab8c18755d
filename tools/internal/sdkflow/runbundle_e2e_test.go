//go:build e2e

package sdkflow_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/nodetest"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// runBundleFlags give operator-sdk more time than its default 2 minutes:
// on a loaded 2-core machine, the registry pod, the bundle and the
// operator image are pulled and started in turn.
const runBundleFlags = "RUN_BUNDLE_FLAGS=--timeout 5m"

// crdName is the CRD every release owns; cleanup deletes it.
const crdName = "memcacheds.cache.example.com"

// testRunBundle runs `make run-bundle` with the oldest release's bundle
// image, as the README says.
func (e *sdkEnv) testRunBundle(t *testing.T) {
	if _, err := e.makeTarget(t, 10*time.Minute, "run-bundle", "BUNDLE_IMG="+e.oldest.ref, runBundleFlags); err != nil {
		t.Fatal(err)
	}
	e.checkInstalled(t, e.oldest)
	e.checkPulledThroughMirror(t, e.oldest.ref, indexImage)
}

// indexImage is operator-sdk's default --index-image, whose labels run
// bundle reads on the host.
const indexImage = "quay.io/operator-framework/opm:latest"

// checkPulledThroughMirror checks in the host mirror's log that operator-sdk
// pulled each image's manifest on the host from the loopback registry, and
// that it asked for no other host.
func (e *sdkEnv) checkPulledThroughMirror(t *testing.T, refs ...string) {
	t.Helper()
	data, err := os.ReadFile(e.mirror.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	for _, ref := range refs {
		registry, rest, _ := strings.Cut(ref, "/")
		repo, tag, _ := strings.Cut(rest, ":")
		want := fmt.Sprintf("https://%s/v2/%s/manifests/%s -> http://%s/v2/%s/%s/manifests/%s 200 OK",
			registry, repo, tag, e.c.Registry().Host(), registry, repo, tag)
		if !strings.Contains(log, want) {
			t.Errorf("the host mirror's log has no %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "refused") {
		t.Errorf("operator-sdk asked the host mirror for something it does not serve:\n%s", log)
	}
}

// testRunBundleUpgrade runs `make run-bundle-upgrade` with the newest
// bundle image: its CSV replaces the installed one.
func (e *sdkEnv) testRunBundleUpgrade(t *testing.T) {
	if _, err := e.makeTarget(t, 10*time.Minute, "run-bundle-upgrade", "BUNDLE_IMG="+e.newest.ref, runBundleFlags); err != nil {
		t.Fatal(err)
	}
	e.checkInstalled(t, e.newest)
}

// checkInstalled checks what OLM shows once b is installed: its CSV
// Succeeded and the only one (a replaced CSV is deleted), the Subscription
// at it, and one operator pod of the CSV's image Ready on the real node.
func (e *sdkEnv) checkInstalled(t *testing.T, b bundleImage) {
	t.Helper()
	name := "memcached-operator.v" + b.version.String()
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	nodetest.Poll(t, "CSV "+name+" to succeed, alone", 3*time.Minute, func(ctx context.Context) error {
		return e.onlyCSV(ctx, name, csv)
	})
	nodetest.Poll(t, "the Subscription at "+name, time.Minute, func(ctx context.Context) error {
		subs := &operatorsv1alpha1.SubscriptionList{}
		if err := e.kube.List(ctx, subs, client.InNamespace(installNamespace)); err != nil {
			return err
		}
		if len(subs.Items) != 1 || subs.Items[0].Status.InstalledCSV != name {
			return fmt.Errorf("%d Subscriptions, want one with installedCSV %s: %+v", len(subs.Items), name, subs.Items)
		}
		return nil
	})
	d := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0]
	image := d.Spec.Template.Spec.Containers[0].Image
	nodetest.Poll(t, "one operator pod of "+image+" Ready on the real node", 3*time.Minute, func(ctx context.Context) error {
		return e.onlyOperatorPod(ctx, client.MatchingLabels(d.Spec.Selector.MatchLabels), image)
	})
	t.Logf("CSV %s Succeeded; its operator pod of %s Ready on %s", name, image, testbed.RealNodeName)
}

// onlyCSV reads the install namespace's only CSV into csv and fails unless
// it is name and Succeeded.
func (e *sdkEnv) onlyCSV(ctx context.Context, name string, csv *operatorsv1alpha1.ClusterServiceVersion) error {
	list := &operatorsv1alpha1.ClusterServiceVersionList{}
	if err := e.kube.List(ctx, list, client.InNamespace(installNamespace)); err != nil {
		return err
	}
	var states []string
	for _, c := range list.Items {
		states = append(states, fmt.Sprintf("%s %s (%s: %s)", c.Name, c.Status.Phase, c.Status.Reason, c.Status.Message))
	}
	if len(list.Items) != 1 || list.Items[0].Name != name || list.Items[0].Status.Phase != operatorsv1alpha1.CSVPhaseSucceeded {
		return fmt.Errorf("CSVs: [%s]", strings.Join(states, "; "))
	}
	list.Items[0].DeepCopyInto(csv)
	return nil
}

// onlyOperatorPod fails unless exactly one pod matches selector, runs
// image on the real node and is Ready.
func (e *sdkEnv) onlyOperatorPod(ctx context.Context, selector client.MatchingLabels, image string) error {
	pods, text, err := e.podsIn(ctx, selector)
	if err != nil {
		return err
	}
	if len(pods) != 1 {
		return fmt.Errorf("%d operator pods: %s", len(pods), text)
	}
	p := pods[0]
	ready := false
	for _, c := range p.Status.Conditions {
		ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
	}
	if !ready || p.Spec.NodeName != testbed.RealNodeName || p.Spec.Containers[0].Image != image || p.DeletionTimestamp != nil {
		return fmt.Errorf("operator pod %s of %s, ready %t: %+v", text, p.Spec.Containers[0].Image, ready, p.Status.ContainerStatuses)
	}
	return nil
}

// testCleanup runs `make cleanup`: the Subscription, the CSV, the
// CatalogSource, the OperatorGroup operator-sdk created, the CRD and every
// pod (operator, registry) are gone.
func (e *sdkEnv) testCleanup(t *testing.T) {
	if _, err := e.makeTarget(t, 5*time.Minute, "cleanup"); err != nil {
		t.Fatal(err)
	}
	nodetest.Poll(t, "nothing of the operator left", 3*time.Minute, e.leftovers)
}

// leftovers names what of the operator is still in the cluster.
func (e *sdkEnv) leftovers(ctx context.Context) error {
	var left []string
	for kind, list := range map[string]client.ObjectList{
		"Subscription": &operatorsv1alpha1.SubscriptionList{}, "ClusterServiceVersion": &operatorsv1alpha1.ClusterServiceVersionList{},
		"CatalogSource": &operatorsv1alpha1.CatalogSourceList{}, "OperatorGroup": &operatorsv1.OperatorGroupList{},
	} {
		if err := e.kube.List(ctx, list, client.InNamespace(installNamespace)); err != nil {
			return err
		}
		if n := meta.LenList(list); n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, kind))
		}
	}
	pods, text, err := e.podsIn(ctx)
	if err != nil {
		return err
	}
	if len(pods) > 0 {
		left = append(left, "pods "+text)
	}
	err = e.kube.Get(ctx, client.ObjectKey{Name: crdName}, &apiextensionsv1.CustomResourceDefinition{})
	if err == nil {
		left = append(left, "CRD "+crdName)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	if len(left) > 0 {
		return errors.New("left: " + strings.Join(left, ", "))
	}
	return nil
}
