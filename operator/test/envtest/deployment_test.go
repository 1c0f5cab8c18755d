package envtest_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

// TestCreate checks the Deployment a new Memcached gets, on a plain
// Kubernetes cluster (the operator pins the image's uid) and on OpenShift
// (the platform assigns one).
func TestCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		runAsUser *int64
	}{
		{name: "kubernetes", runAsUser: ptr.To(controller.MemcachedImageUID)},
		{name: "openshift", runAsUser: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			operand := defaultOperand()
			operand.RunAsUser = tc.runAsUser
			startOperator(t, []string{ns}, operand)

			m := newMemcached(t, ns, "cache", 3, "")
			d := waitForDeployment(t, keyOf(m), "created", nil)

			if err := checkControlledBy(d, m); err != nil {
				t.Error(err)
			}
			wantLabels := map[string]string{
				"app.kubernetes.io/name":       "memcached",
				"app.kubernetes.io/instance":   "cache",
				"app.kubernetes.io/managed-by": "memcached-operator",
			}
			for k, v := range wantLabels {
				if d.Labels[k] != v {
					t.Errorf("deployment label %s=%q, want %q", k, d.Labels[k], v)
				}
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("pod template label %s=%q, want %q", k, d.Spec.Template.Labels[k], v)
				}
			}
			wantSelector := map[string]string{"app.kubernetes.io/name": "memcached", "app.kubernetes.io/instance": "cache"}
			if d.Spec.Selector == nil || !maps.Equal(d.Spec.Selector.MatchLabels, wantSelector) || len(d.Spec.Selector.MatchExpressions) > 0 {
				t.Errorf("selector %v, want matchLabels %v", d.Spec.Selector, wantSelector)
			}
			if got := ptr.Deref(d.Spec.Replicas, -1); got != 3 {
				t.Errorf("replicas %d, want 3", got)
			}
			if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
				fmt.Sprint(s.RollingUpdate.MaxUnavailable) != "0" || fmt.Sprint(s.RollingUpdate.MaxSurge) != "1" {
				t.Errorf("strategy %+v, want RollingUpdate with maxUnavailable 0 and maxSurge 1", s)
			}

			c := memcachedContainer(t, d)
			if c.Image != operand.DefaultImage {
				t.Errorf("image %q, want the operator's default %q", c.Image, operand.DefaultImage)
			}
			wantPorts := []corev1.ContainerPort{{Name: "memcached", ContainerPort: 11211, Protocol: corev1.ProtocolTCP}}
			if !slices.Equal(c.Ports, wantPorts) {
				t.Errorf("ports %+v, want %+v", c.Ports, wantPorts)
			}
			for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if p == nil || p.TCPSocket == nil || p.TCPSocket.Port != intstr.FromString("memcached") {
					t.Errorf("%s probe %+v, want a TCP probe of port memcached", name, p)
				}
			}
			for res, want := range map[corev1.ResourceName]string{corev1.ResourceCPU: "50m", corev1.ResourceMemory: "96Mi"} {
				if got, ok := c.Resources.Requests[res]; !ok || got.Cmp(resource.MustParse(want)) != 0 {
					t.Errorf("%s request %v, want %s", res, c.Resources.Requests, want)
				}
			}
			if got, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || got.Cmp(resource.MustParse("128Mi")) != 0 {
				t.Errorf("memory limit %v, want 128Mi", c.Resources.Limits)
			}

			pod := d.Spec.Template.Spec
			if ptr.Deref(pod.AutomountServiceAccountToken, true) {
				t.Errorf("automountServiceAccountToken %v, want false", pod.AutomountServiceAccountToken)
			}
			psc := pod.SecurityContext
			switch {
			case psc == nil:
				t.Error("no pod securityContext")
			default:
				if !ptr.Deref(psc.RunAsNonRoot, false) {
					t.Errorf("pod runAsNonRoot %v, want true", psc.RunAsNonRoot)
				}
				if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("pod seccompProfile %+v, want RuntimeDefault", psc.SeccompProfile)
				}
				if !ptr.Equal(psc.RunAsUser, tc.runAsUser) {
					t.Errorf("pod runAsUser %v, want %v", ptr.Deref(psc.RunAsUser, -1), ptr.Deref(tc.runAsUser, -1))
				}
			}
			csc := c.SecurityContext
			switch {
			case csc == nil:
				t.Error("no container securityContext")
			default:
				if ptr.Deref(csc.AllowPrivilegeEscalation, true) {
					t.Errorf("allowPrivilegeEscalation %v, want false", csc.AllowPrivilegeEscalation)
				}
				if ptr.Deref(csc.Privileged, false) {
					t.Error("container is privileged")
				}
				if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
					t.Errorf("capabilities %+v, want drop [ALL] and nothing added", csc.Capabilities)
				}
				if !ptr.Deref(csc.ReadOnlyRootFilesystem, false) {
					t.Errorf("readOnlyRootFilesystem %v, want true", csc.ReadOnlyRootFilesystem)
				}
			}

			// The API server's PodSecurity admission is the judge: a pod
			// made from the template must be admitted in a namespace that
			// enforces the restricted profile...
			admitted := podFromTemplate(d, "pss-check")
			if err := k8sClient.Create(t.Context(), admitted, client.DryRunAll); err != nil {
				t.Errorf("a pod of the template is refused by the restricted Pod Security Standard: %v", err)
			}
			// ...which is really enforced there: the same pod allowed to
			// escalate privileges is refused.
			refused := podFromTemplate(d, "pss-control")
			refused.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
			if err := k8sClient.Create(t.Context(), refused, client.DryRunAll); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PodSecurity") {
				t.Errorf("control pod allowing privilege escalation: got %v, want a PodSecurity refusal", err)
			}

			e := waitForEvent(t, m, corev1.EventTypeNormal, "DeploymentCreated", "Created Deployment cache with 3 replicas")
			if e.Regarding.Kind != "Memcached" || e.Regarding.Name != "cache" || e.ReportingController != controller.ManagerName || e.Action != "Create" {
				t.Errorf("event %+v: want regarding Memcached cache, reported by %s, action Create", e, controller.ManagerName)
			}
		})
	}
}

// TestResize changes spec.size step by step and checks that the Deployment
// follows and status reports each generation.
func TestResize(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	waitForDeployment(t, key, "created with 3 replicas", replicas(3))

	for _, step := range []struct {
		name          string
		size          int32
		wantAvailable wantCondition
		wantEvent     string
	}{
		{
			name:          "grow 3 to 5",
			size:          5,
			wantAvailable: wantCondition{cachev1.ConditionAvailable, metav1.ConditionFalse, cachev1.ReasonReplicasNotReady},
			wantEvent:     "Scaled Deployment cache from 3 to 5 replicas",
		},
		{
			name:          "scale 5 to 0",
			size:          0,
			wantAvailable: wantCondition{cachev1.ConditionAvailable, metav1.ConditionTrue, cachev1.ReasonScaledToZero},
			wantEvent:     "Scaled Deployment cache from 5 to 0 replicas",
		},
		{
			name:          "scale 0 to 1",
			size:          1,
			wantAvailable: wantCondition{cachev1.ConditionAvailable, metav1.ConditionFalse, cachev1.ReasonReplicasNotReady},
			wantEvent:     "Scaled Deployment cache from 0 to 1 replicas",
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			m := updateMemcached(t, key, func(m *cachev1.Memcached) { m.Spec.Size = step.size })
			waitForDeployment(t, key, fmt.Sprintf("%d replicas", step.size), replicas(step.size))
			waitForMemcached(t, key, "status of the new size", func(got *cachev1.Memcached) error {
				if got.Generation != m.Generation {
					return fmt.Errorf("generation %d, want %d", got.Generation, m.Generation)
				}
				return checkConditions(got, step.wantAvailable,
					wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
			})
			waitForEvent(t, m, corev1.EventTypeNormal, "DeploymentScaled", step.wantEvent)
		})
	}
}

func replicas(n int32) func(*appsv1.Deployment) error {
	return func(d *appsv1.Deployment) error {
		if got := ptr.Deref(d.Spec.Replicas, -1); got != n {
			return fmt.Errorf("replicas %d, want %d", got, n)
		}
		return nil
	}
}

// TestDriftRestore changes the operator's Deployment by hand, one way after
// the other, and checks that the operator puts it back.
func TestDriftRestore(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	operand := defaultOperand()
	startOperator(t, []string{ns}, operand)
	m := newMemcached(t, ns, "cache", 3, "")
	key := keyOf(m)
	waitForDeployment(t, key, "created with 3 replicas", replicas(3))
	const restartedAt = "kubectl.kubernetes.io/restartedAt"

	for _, tc := range []struct {
		name string
		// tamper changes the Deployment by hand.
		tamper func(*appsv1.Deployment)
		// restored accepts the Deployment once the operator restored it.
		restored func(*appsv1.Deployment) error
	}{
		{
			name:     "scaled to 1",
			tamper:   func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](1) },
			restored: replicas(3),
		},
		{
			name: "image edited",
			tamper: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "docker.io/library/memcached:evil"
			},
			restored: image(operand.DefaultImage),
		},
		{
			name: "environment variable added",
			tamper: func(d *appsv1.Deployment) {
				c := &d.Spec.Template.Spec.Containers[0]
				c.Env = append(c.Env, corev1.EnvVar{Name: "INJECTED", Value: "yes"})
			},
			restored: func(d *appsv1.Deployment) error {
				if env := d.Spec.Template.Spec.Containers[0].Env; len(env) > 0 {
					return fmt.Errorf("env %v, want none", env)
				}
				return nil
			},
		},
		{
			name: "sidecar added",
			tamper: func(d *appsv1.Deployment) {
				sidecar := *d.Spec.Template.Spec.Containers[0].DeepCopy()
				sidecar.Name = "sidecar"
				sidecar.Ports = nil
				d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, sidecar)
			},
			restored: func(d *appsv1.Deployment) error {
				if names := containerNames(d.Spec.Template.Spec.Containers); !slices.Equal(names, []string{"memcached"}) {
					return fmt.Errorf("containers %v, want [memcached]", names)
				}
				return nil
			},
		},
		{
			name:   "name label removed",
			tamper: func(d *appsv1.Deployment) { delete(d.Labels, controller.NameLabel) },
			restored: func(d *appsv1.Deployment) error {
				if d.Labels[controller.NameLabel] != controller.AppName {
					return fmt.Errorf("labels %v, want %s=%s", d.Labels, controller.NameLabel, controller.AppName)
				}
				return nil
			},
		},
		{
			// kubectl rollout restart's annotation is someone else's: the
			// operator restores the replicas and keeps it.
			name: "scaled with a restart annotation",
			tamper: func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptr.To[int32](1)
				d.Spec.Template.Annotations = map[string]string{restartedAt: "2026-01-01T00:00:00Z"}
			},
			restored: func(d *appsv1.Deployment) error {
				if err := replicas(3)(d); err != nil {
					return err
				}
				if d.Spec.Template.Annotations[restartedAt] != "2026-01-01T00:00:00Z" {
					return fmt.Errorf("template annotations %v, want %s kept", d.Spec.Template.Annotations, restartedAt)
				}
				return nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tampered := updateDeployment(t, key, false, tc.tamper)
			if tc.restored(tampered) == nil {
				t.Fatalf("the tampered deployment already passes the restore check: the test proves nothing")
			}
			d := waitForDeployment(t, key, "restored", tc.restored)
			if d.UID != tampered.UID {
				t.Errorf("deployment was replaced (uid %s, was %s), want it updated in place", d.UID, tampered.UID)
			}
			if err := checkControlledBy(d, m); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("deleted", func(t *testing.T) {
		old := &appsv1.Deployment{}
		if err := k8sClient.Get(t.Context(), key, old); err != nil {
			t.Fatal(err)
		}
		if err := k8sClient.Delete(t.Context(), old); err != nil {
			t.Fatalf("deleting the deployment: %v", err)
		}
		d := waitForDeployment(t, key, "recreated", func(d *appsv1.Deployment) error {
			if d.UID == old.UID {
				return fmt.Errorf("still the deleted deployment %s", d.UID)
			}
			return replicas(3)(d)
		})
		if err := checkControlledBy(d, m); err != nil {
			t.Error(err)
		}
	})
}

func image(want string) func(*appsv1.Deployment) error {
	return func(d *appsv1.Deployment) error {
		if got := d.Spec.Template.Spec.Containers[0].Image; got != want {
			return fmt.Errorf("image %q, want %q", got, want)
		}
		return nil
	}
}

// TestProxyEnv restarts the operator with different proxy settings, as OLM
// does when the cluster-wide proxy changes, and checks that memcached's
// environment follows.
func TestProxyEnv(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "cache"}
	var lastGeneration int64

	for i, tc := range []struct {
		name string
		env  []corev1.EnvVar
	}{
		{name: "first proxy", env: []corev1.EnvVar{
			{Name: "HTTP_PROXY", Value: "http://proxy-a.example.com:3128"},
			{Name: "HTTPS_PROXY", Value: "http://proxy-a.example.com:3129"},
			{Name: "NO_PROXY", Value: ".cluster.local,10.0.0.0/8"},
			{Name: "http_proxy", Value: "http://proxy-a.example.com:3128"},
			{Name: "https_proxy", Value: "http://proxy-a.example.com:3129"},
			{Name: "no_proxy", Value: ".cluster.local,10.0.0.0/8"},
		}},
		{name: "proxy changed, no_proxy dropped", env: []corev1.EnvVar{
			{Name: "HTTP_PROXY", Value: "http://proxy-b.example.com:8080"},
			{Name: "HTTPS_PROXY", Value: "http://proxy-b.example.com:8443"},
			{Name: "http_proxy", Value: "http://proxy-b.example.com:8080"},
			{Name: "https_proxy", Value: "http://proxy-b.example.com:8443"},
		}},
		{name: "proxy removed", env: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			operand := defaultOperand()
			operand.ProxyEnv = tc.env
			op := startOperator(t, []string{ns}, operand)
			defer op.stop() // the next step's operator must run alone
			if i == 0 {
				newMemcached(t, ns, "cache", 2, "")
			}
			d := waitForDeployment(t, key, "environment "+fmt.Sprint(tc.env), func(d *appsv1.Deployment) error {
				if got := d.Spec.Template.Spec.Containers[0].Env; !slices.Equal(got, tc.env) {
					return fmt.Errorf("env %v, want %v", got, tc.env)
				}
				return nil
			})
			if d.Generation <= lastGeneration {
				t.Errorf("generation %d after the change, was %d: want a new rollout", d.Generation, lastGeneration)
			}
			lastGeneration = d.Generation
		})
	}
}

// TestImage checks which image memcached runs: spec.image when set, else the
// operator's default (RELATED_IMAGE_MEMCACHED), else the built-in one.
func TestImage(t *testing.T) {
	t.Parallel()
	const custom = "registry.example.com:5000/team/memcached:1.6.39"

	t.Run("operator default", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t)
		operand := defaultOperand()
		startOperator(t, []string{ns}, operand)

		withImage := newMemcached(t, ns, "custom", 1, custom)
		withoutImage := newMemcached(t, ns, "default", 1, "")
		waitForDeployment(t, keyOf(withImage), "spec.image", image(custom))
		waitForDeployment(t, keyOf(withoutImage), "the operator's default image", image(operand.DefaultImage))

		// spec.image cleared: back to the default; set again: used again.
		updateMemcached(t, keyOf(withImage), func(m *cachev1.Memcached) { m.Spec.Image = "" })
		waitForDeployment(t, keyOf(withImage), "the default image after spec.image was cleared", image(operand.DefaultImage))
		updateMemcached(t, keyOf(withImage), func(m *cachev1.Memcached) { m.Spec.Image = custom + "-b" })
		waitForDeployment(t, keyOf(withImage), "the new spec.image", image(custom+"-b"))
		waitForEvent(t, withImage, corev1.EventTypeNormal, "DeploymentUpdated", "Updated the pod template")
	})

	t.Run("built-in default", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t)
		operand := defaultOperand()
		operand.DefaultImage = ""
		startOperator(t, []string{ns}, operand)
		m := newMemcached(t, ns, "cache", 1, "")
		waitForDeployment(t, keyOf(m), "the built-in image", image(controller.DefaultMemcachedImage))
	})
}
