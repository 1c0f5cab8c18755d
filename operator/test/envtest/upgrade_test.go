package envtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

// memcachedArgs checks the memcached container's arguments.
func memcachedArgs(want ...string) func(*appsv1.Deployment) error {
	return func(d *appsv1.Deployment) error {
		if got := d.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, want) {
			return fmt.Errorf("args %q, want %q", got, want)
		}
		return nil
	}
}

// TestSettingChangeRollsPods changes memoryMB and checks that the pod
// template follows, arguments and memory alike: the Deployment controller
// then replaces the pods one at a time.
func TestSettingChangeRollsPods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	if m.Spec.MemoryMB != 64 {
		t.Errorf("spec.memoryMB %d as stored, want the CRD's default 64", m.Spec.MemoryMB)
	}
	key := keyOf(m)
	before := waitForDeployment(t, key, "created", memcachedArgs("-m", "64", "-p", "11211", "-o", "modern"))

	m = updateMemcached(t, key, func(m *cachev1.Memcached) {
		m.Spec.MemoryMB = 256
		m.Spec.Threads = ptr.To[int32](2)
	})
	after := waitForDeployment(t, key, "rolled to -m 256", memcachedArgs("-m", "256", "-p", "11211", "-o", "modern", "-t", "2"))
	if after.Generation <= before.Generation || after.UID != before.UID {
		t.Errorf("generation %d (was %d), uid %s (was %s): want the same Deployment with a new template", after.Generation, before.Generation, after.UID, before.UID)
	}
	res := memcachedContainer(t, after).Resources
	for what, pair := range map[string][2]resource.Quantity{
		"memory request": {res.Requests[corev1.ResourceMemory], resource.MustParse("288Mi")},
		"memory limit":   {res.Limits[corev1.ResourceMemory], resource.MustParse("320Mi")},
	} {
		if pair[0].Cmp(pair[1]) != 0 {
			t.Errorf("%s %s, want %s", what, pair[0].String(), pair[1].String())
		}
	}
	if s := after.Spec.Strategy.RollingUpdate; s == nil || s.MaxSurge.String() != "1" || s.MaxUnavailable.String() != "0" {
		t.Errorf("rolling update %+v, want maxSurge 1, maxUnavailable 0", s)
	}
	waitForEvent(t, m, corev1.EventTypeNormal, controller.EventDeploymentUpdated, "Updated the pod template")
}

// productionSpec sets every field of the spec.
func productionSpec(size int32) cachev1.MemcachedSpec {
	return cachev1.MemcachedSpec{
		Size:           size,
		MemoryMB:       512,
		MaxConnections: ptr.To[int32](2048),
		Threads:        ptr.To[int32](4),
		MaxItemSize:    "2m",
		Verbosity:      ptr.To[int32](1),
		ExtraArgs:      []string{"-o", "lru_crawler"},
		Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceEphemeralStorage: resource.MustParse("100Mi")},
		},
		NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
		Tolerations: []corev1.Toleration{{
			Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cache", Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60),
		}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
				Weight: 10,
				Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"cache"},
				}}},
			}},
		}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
		}},
		AntiAffinityPreset: cachev1.AntiAffinityHard,
		Monitoring:         &cachev1.MonitoringSpec{Enabled: true},
	}
}

// TestOperatorRestartRestartsNothing brings Memcacheds to a steady state,
// one with every setting used and one created from 0.1.0's Deployment (as an
// operator upgrade finds it), then replaces the operator with a new one: the
// new operator must not write a Deployment, which would restart memcached
// pods and empty their cache, nor anything else.
func TestOperatorRestartRestartsNothing(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	// The golden file was rendered without a default image, as on a plain
	// Kubernetes cluster.
	operand := defaultOperand()
	operand.DefaultImage = ""

	// 0.1.0 created this Deployment for memcached-sample; 0.2.0 starts and
	// finds it.
	legacy := newMemcached(t, ns, "memcached-sample", 3, "")
	legacyDeployment := goldenDeployment(t, "deployment-default.golden.yaml")
	legacyDeployment.Namespace = ns
	legacyDeployment.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: cachev1.GroupVersion.String(), Kind: "Memcached", Name: legacy.Name, UID: legacy.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	if err := k8sClient.Create(t.Context(), legacyDeployment); err != nil {
		t.Fatalf("creating 0.1.0's Deployment: %v", err)
	}

	op := startOperator(t, []string{ns}, operand)
	production := &cachev1.Memcached{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "production"},
		Spec:       productionSpec(3),
	}
	if err := k8sClient.Create(t.Context(), production); err != nil {
		t.Fatalf("creating the production Memcached: %v", err)
	}
	for _, m := range []*cachev1.Memcached{legacy, production} {
		waitForObject(t, keyOf(m), newPodDisruptionBudget, "created", nil)
		waitForMemcached(t, keyOf(m), "reconciled", func(m *cachev1.Memcached) error {
			return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
		})
	}
	d := currentDeployment(t, keyOf(production))
	if err := k8sClient.Create(t.Context(), podFromTemplate(d, "pss-check"), client.DryRunAll); err != nil {
		t.Errorf("a pod of the production template is refused: %v", err)
	}
	waitForQuiet(t, op)

	// 0.1.0's Deployment was left as it was.
	if got := currentDeployment(t, keyOf(legacy)); got.ResourceVersion != legacyDeployment.ResourceVersion || got.Generation != legacyDeployment.Generation {
		t.Errorf("0.1.0's Deployment was written: resourceVersion %s→%s, generation %d→%d",
			legacyDeployment.ResourceVersion, got.ResourceVersion, legacyDeployment.Generation, got.Generation)
	}

	versions := map[string]string{}
	record := func(kind string, key types.NamespacedName, obj client.Object) {
		if err := k8sClient.Get(t.Context(), key, obj); err != nil {
			t.Fatal(err)
		}
		versions[kind+" "+key.String()] = obj.GetResourceVersion()
	}
	for _, m := range []*cachev1.Memcached{legacy, production} {
		key := keyOf(m)
		record("Memcached", key, &cachev1.Memcached{})
		record("Deployment", key, &appsv1.Deployment{})
		record("Service", key, &corev1.Service{})
		record("Service", types.NamespacedName{Namespace: ns, Name: m.Name + "-headless"}, &corev1.Service{})
		record("PodDisruptionBudget", key, &policyv1.PodDisruptionBudget{})
	}

	op.stop()
	restarted := startOperator(t, []string{ns}, operand)
	waitForReconcile(t, restarted, keyOf(legacy), 0, "operator restart")
	waitForReconcile(t, restarted, keyOf(production), 0, "operator restart")
	consistently(t, "the restarted operator must not write", quietPeriod, func() error {
		if writes := writesIn(restarted.calls.snapshot()); len(writes) > 0 {
			return fmt.Errorf("the operator wrote %v", writes)
		}
		return nil
	})
	for _, m := range []*cachev1.Memcached{legacy, production} {
		key := keyOf(m)
		for kind, obj := range map[string]client.Object{
			"Memcached":           &cachev1.Memcached{},
			"Deployment":          &appsv1.Deployment{},
			"Service":             &corev1.Service{},
			"PodDisruptionBudget": &policyv1.PodDisruptionBudget{},
		} {
			if err := k8sClient.Get(t.Context(), key, obj); err != nil {
				t.Fatal(err)
			}
			if want := versions[kind+" "+key.String()]; obj.GetResourceVersion() != want {
				t.Errorf("%s %s: resourceVersion %s, was %s before the restart", kind, key, obj.GetResourceVersion(), want)
			}
		}
	}
}

// goldenDeployment reads a Deployment the controller's golden tests pinned.
func goldenDeployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "operator", "internal", "controller", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{}
	if err := yaml.UnmarshalStrict(data, d); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return d
}
