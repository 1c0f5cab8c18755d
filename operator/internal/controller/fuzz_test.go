package controller

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// FuzzDesiredDeployment builds Deployments from arbitrary Memcacheds and
// operator settings and checks what the reconciler relies on: no panic,
// replicas equal to spec.size, a selector that matches the pod template and
// the cache's managed-by selector, a Deployment that is up to date with
// itself (so a steady state costs no write), a merge that brings any other
// Deployment of the same Memcached up to date, and inputs left untouched.
//
//	go test ./operator/internal/controller -run '^$' -fuzz FuzzDesiredDeployment -fuzztime 60s
func FuzzDesiredDeployment(f *testing.F) {
	digest := "@sha256:" + strings.Repeat("0123456789abcdef", 4)
	for _, seed := range []struct {
		size, otherSize             int32
		name, namespace             string
		image, otherImage, defImage string
		proxyName, proxyValue       string
		runAsUser                   int64
	}{
		{3, 3, "memcached-sample", "default", "", "", "", "", "", MemcachedImageUID},
		{0, 1, "zero", "ns", "memcached", "", "", "HTTP_PROXY", "http://proxy:3128", -1},
		{1, 5, "a", "b", "registry.example.com:5000/team/memcached:1.6.38" + digest, "memcached:1.6", "related/memcached:2", "NO_PROXY", ".svc,10.0.0.0/8", 0},
		{1000, 999, strings.Repeat("n", 63), strings.Repeat("s", 63), "quay.io/team/memcached" + digest, "", "mirror.local/memcached", "https_proxy", "", MemcachedImageUID},
		{-1, 2147483647, "", "", "Not An Image!", "::", "", "", "\x00", 1 << 40},
		{2, 2, "ünïcode", "ns", "memcached\n:1", "memcached:1", "", "HTTP_PROXY", "http://[::1]:3128", -1},
	} {
		f.Add(seed.size, seed.otherSize, seed.name, seed.namespace, seed.image, seed.otherImage, seed.defImage, seed.proxyName, seed.proxyValue, seed.runAsUser)
	}
	f.Fuzz(func(t *testing.T, size, otherSize int32, name, namespace, image, otherImage, defImage, proxyName, proxyValue string, runAsUser int64) {
		m := &cachev1.Memcached{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Generation: 3, UID: "uid"},
			Spec:       cachev1.MemcachedSpec{Size: size, Image: image},
		}
		opts := OperandOptions{DefaultImage: defImage}
		if proxyName != "" {
			opts.ProxyEnv = []corev1.EnvVar{{Name: proxyName, Value: proxyValue}}
		}
		if runAsUser >= 0 {
			opts.RunAsUser = ptr.To(runAsUser)
		}
		mBefore, optsBefore := m.DeepCopy(), cloneOptions(opts)

		desired := DesiredDeployment(m, opts)

		if !equality.Semantic.DeepEqual(m, mBefore) || !equality.Semantic.DeepEqual(opts, optsBefore) {
			t.Fatal("DesiredDeployment modified its inputs")
		}
		if desired.Spec.Replicas == nil || *desired.Spec.Replicas != size {
			t.Fatalf("replicas %v, want %d", desired.Spec.Replicas, size)
		}
		if desired.Name != name || desired.Namespace != namespace {
			t.Fatalf("deployment %s/%s for memcached %s/%s", desired.Namespace, desired.Name, namespace, name)
		}
		selector, err := metav1.LabelSelectorAsSelector(desired.Spec.Selector)
		if err != nil {
			// Only label values a Memcached name cannot have make the
			// selector unparsable; the API server refuses such names.
			if validation.IsDNS1123Subdomain(name) == nil && len(validation.IsValidLabelValue(name)) == 0 {
				t.Fatalf("selector of a valid name: %v", err)
			}
		} else if !selector.Matches(labelsOf(desired.Spec.Template.Labels)) {
			t.Fatalf("selector %s does not match the template labels %v", selector, desired.Spec.Template.Labels)
		}
		if desired.Spec.Template.Labels[ManagedByLabel] != ManagerName || desired.Labels[ManagedByLabel] != ManagerName {
			t.Fatal("the Deployment or its pods lack the managed-by label the cache selects on")
		}
		if desired.Spec.Template.Labels[InstanceLabel] != name {
			t.Fatalf("instance label %q, want %q", desired.Spec.Template.Labels[InstanceLabel], name)
		}
		containers := desired.Spec.Template.Spec.Containers
		if len(containers) != 1 {
			t.Fatalf("%d containers", len(containers))
		}
		wantImage := image
		if wantImage == "" {
			wantImage = defImage
		}
		if wantImage == "" {
			wantImage = DefaultMemcachedImage
		}
		if containers[0].Image != wantImage {
			t.Fatalf("image %q, want %q", containers[0].Image, wantImage)
		}
		if !equality.Semantic.DeepEqual(containers[0].Env, opts.ProxyEnv) {
			t.Fatalf("env %v, want the proxy variables %v", containers[0].Env, opts.ProxyEnv)
		}
		if len(containers[0].Env) > 0 {
			containers[0].Env[0].Value += "changed"
			if !equality.Semantic.DeepEqual(opts, optsBefore) {
				t.Fatal("the Deployment shares the proxy variables' slice with the options")
			}
			containers[0].Env[0].Value = strings.TrimSuffix(containers[0].Env[0].Value, "changed")
		}

		// Up to date with itself, a copy, and what the API server makes of it.
		for what, actual := range map[string]*appsv1.Deployment{"itself": desired, "a copy": desired.DeepCopy(), "the defaulted copy": defaulted(desired)} {
			if !DeploymentUpToDate(desired, actual) {
				t.Fatalf("the desired Deployment is not up to date with %s", what)
			}
		}

		// Any other Deployment of the Memcached, merged, is up to date and
		// keeps what optimistic concurrency needs.
		other := m.DeepCopy()
		other.Spec.Size, other.Spec.Image = otherSize, otherImage
		actual := defaulted(DesiredDeployment(other, OperandOptions{}))
		actual.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "then"}
		merged := mergeDeployment(desired, actual)
		if !DeploymentUpToDate(desired, merged) {
			t.Fatal("the merged Deployment is not up to date")
		}
		if merged.ResourceVersion != actual.ResourceVersion {
			t.Fatal("the merge lost the resourceVersion")
		}
		if merged.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != "then" {
			t.Fatal("the merge dropped someone else's template annotation")
		}
		if otherSize != size && DeploymentUpToDate(desired, actual) {
			t.Fatalf("a Deployment of %d replicas passes as up to date for size %d", otherSize, size)
		}
		if actual.Spec.Template.Spec.Containers[0].Image != wantImage && DeploymentUpToDate(desired, actual) {
			t.Fatal("a Deployment running another image passes as up to date")
		}

		// For a Memcached the API server accepts, whose name also fits a
		// label value, the labels are valid. (Names of 64 to 253 characters
		// pass the API server's checks on Memcacheds but not as label
		// values: see docs/performance.md, "Bugs found".)
		if validation.IsDNS1123Subdomain(name) == nil && validation.IsDNS1123Label(namespace) == nil && len(name) <= validation.LabelValueMaxLength {
			for what, l := range map[string]map[string]string{"Deployment": desired.Labels, "pod template": desired.Spec.Template.Labels} {
				if errs := metav1validation.ValidateLabels(l, field.NewPath(what)); len(errs) > 0 {
					t.Fatalf("invalid %s labels: %v", what, errs.ToAggregate())
				}
			}
		}
	})
}

func cloneOptions(o OperandOptions) OperandOptions {
	c := o
	if o.ProxyEnv != nil {
		c.ProxyEnv = append([]corev1.EnvVar(nil), o.ProxyEnv...)
	}
	if o.RunAsUser != nil {
		c.RunAsUser = ptr.To(*o.RunAsUser)
	}
	return c
}
