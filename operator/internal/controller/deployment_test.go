package controller

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func memcached(size int32, image string) *cachev1.Memcached {
	return &cachev1.Memcached{
		ObjectMeta: metav1.ObjectMeta{Name: "memcached-sample", Namespace: "ns", Generation: 2},
		Spec:       cachev1.MemcachedSpec{Size: size, Image: image},
	}
}

func TestDesiredDeploymentImage(t *testing.T) {
	tests := []struct {
		name      string
		specImage string
		opts      OperandOptions
		want      string
	}{
		{"spec image wins", "example.com/memcached:1", OperandOptions{DefaultImage: "related/memcached:2"}, "example.com/memcached:1"},
		{"related image when spec is empty", "", OperandOptions{DefaultImage: "related/memcached:2"}, "related/memcached:2"},
		{"built-in default last", "", OperandOptions{}, DefaultMemcachedImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DesiredDeployment(memcached(3, tt.specImage), tt.opts)
			if got := d.Spec.Template.Spec.Containers[0].Image; got != tt.want {
				t.Errorf("image = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDesiredDeploymentShape(t *testing.T) {
	for _, size := range []int32{0, 1, 3, 5} {
		m := memcached(size, "")
		d := DesiredDeployment(m, OperandOptions{})
		if d.Name != m.Name || d.Namespace != m.Namespace {
			t.Errorf("size %d: deployment %s/%s, want %s/%s", size, d.Namespace, d.Name, m.Namespace, m.Name)
		}
		if *d.Spec.Replicas != size {
			t.Errorf("replicas = %d, want %d", *d.Spec.Replicas, size)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if !sel.Matches(labelsOf(d.Spec.Template.Labels)) {
			t.Errorf("selector %s does not match template labels %v", sel, d.Spec.Template.Labels)
		}
		if !ManagedSelector().Matches(labelsOf(d.Labels)) || !ManagedSelector().Matches(labelsOf(d.Spec.Template.Labels)) {
			t.Errorf("deployment or pods not selected by the cache's selector %s", ManagedSelector())
		}
	}
}

func TestDesiredDeploymentPassesRestrictedPodSecurity(t *testing.T) {
	for _, runAs := range []*int64{nil, ptr.To(MemcachedImageUID)} {
		d := DesiredDeployment(memcached(1, ""), OperandOptions{RunAsUser: runAs})
		pod := d.Spec.Template.Spec
		if !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false) {
			t.Error("pod runAsNonRoot is not true")
		}
		if pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("pod seccomp profile is not RuntimeDefault")
		}
		if !equality.Semantic.DeepEqual(pod.SecurityContext.RunAsUser, runAs) {
			t.Errorf("runAsUser = %v, want %v", pod.SecurityContext.RunAsUser, runAs)
		}
		for _, c := range pod.Containers {
			sc := c.SecurityContext
			if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) {
				t.Errorf("container %s allows privilege escalation", c.Name)
			}
			if sc == nil || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("container %s does not drop ALL capabilities", c.Name)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("container %s is privileged", c.Name)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("container %s has no resource requests", c.Name)
			}
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				t.Errorf("container %s lacks probes", c.Name)
			}
		}
	}
}

func TestDesiredDeploymentPort(t *testing.T) {
	c := DesiredDeployment(memcached(1, ""), OperandOptions{}).Spec.Template.Spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 11211 || c.Ports[0].Name != "memcached" {
		t.Errorf("ports = %+v, want 11211 named memcached", c.Ports)
	}
	if c.ReadinessProbe.TCPSocket == nil || c.ReadinessProbe.TCPSocket.Port.StrVal != "memcached" {
		t.Errorf("readiness probe does not check the memcached port: %+v", c.ReadinessProbe)
	}
}

func TestDesiredDeploymentProxyEnv(t *testing.T) {
	proxy := []corev1.EnvVar{{Name: "HTTP_PROXY", Value: "http://proxy:3128"}, {Name: "http_proxy", Value: "http://proxy:3128"}}
	opts := OperandOptions{ProxyEnv: proxy}
	c := DesiredDeployment(memcached(1, ""), opts).Spec.Template.Spec.Containers[0]
	if !equality.Semantic.DeepEqual(c.Env, proxy) {
		t.Errorf("env = %v, want %v", c.Env, proxy)
	}
	// The builder must not share the caller's slice.
	c.Env[0].Value = "changed"
	if opts.ProxyEnv[0].Value != "http://proxy:3128" {
		t.Error("DesiredDeployment aliases OperandOptions.ProxyEnv")
	}
}

func TestDesiredDeploymentDoesNotModifyInput(t *testing.T) {
	m := memcached(3, "example.com/memcached:1")
	before := m.DeepCopy()
	DesiredDeployment(m, OperandOptions{ProxyEnv: []corev1.EnvVar{{Name: "NO_PROXY", Value: "x"}}})
	if !equality.Semantic.DeepEqual(m, before) {
		t.Error("DesiredDeployment modified the Memcached")
	}
}

// defaulted mimics what the API server adds to a created Deployment.
func defaulted(d *appsv1.Deployment) *appsv1.Deployment {
	a := d.DeepCopy()
	a.ResourceVersion = "7"
	a.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	a.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	a.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	a.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirst
	a.Spec.Template.Spec.SchedulerName = "default-scheduler"
	a.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	c := &a.Spec.Template.Spec.Containers[0]
	c.TerminationMessagePath = "/dev/termination-log"
	c.ImagePullPolicy = corev1.PullIfNotPresent
	return a
}

func TestDeploymentUpToDate(t *testing.T) {
	proxy := OperandOptions{ProxyEnv: []corev1.EnvVar{{Name: "HTTPS_PROXY", Value: "http://p"}, {Name: "https_proxy", Value: "http://p"}}}
	desired := DesiredDeployment(memcached(3, ""), proxy)
	tests := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   bool
	}{
		{"server defaults only", func(*appsv1.Deployment) {}, true},
		{"extra label from someone else", func(d *appsv1.Deployment) { d.Labels["team"] = "a" }, true},
		{"restartedAt annotation", func(d *appsv1.Deployment) {
			d.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}
		}, true},
		{"scaled by hand", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](1) }, false},
		{"image edited", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "other:1" }, false},
		{"proxy variable removed", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env = d.Spec.Template.Spec.Containers[0].Env[:1]
		}, false},
		{"proxy variable added", func(d *appsv1.Deployment) {
			c := &d.Spec.Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "NO_PROXY", Value: "x"})
		}, false},
		{"container added", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "x"})
		}, false},
		{"memory limit raised", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
		}, false},
		{"privilege escalation allowed", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		}, false},
		{"container made to run as root by hand", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.RunAsUser = ptr.To[int64](0)
		}, false},
		{"pod made privileged-capable by hand", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}, false},
		{"managed-by label removed", func(d *appsv1.Deployment) { delete(d.Labels, ManagedByLabel) }, false},
		{"strategy changed", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = nil
			d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actual := defaulted(desired)
			tt.mutate(actual)
			if got := DeploymentUpToDate(desired, actual); got != tt.want {
				t.Errorf("DeploymentUpToDate = %v, want %v", got, tt.want)
			}
			if !tt.want {
				merged := mergeDeployment(desired, actual)
				if !DeploymentUpToDate(desired, merged) {
					t.Error("the merged deployment is still not up to date")
				}
				if merged.ResourceVersion != actual.ResourceVersion {
					t.Error("merge lost the resourceVersion needed for optimistic concurrency")
				}
			}
		})
	}
}

func TestMergeDeploymentKeepsOthersAnnotations(t *testing.T) {
	desired := DesiredDeployment(memcached(3, ""), OperandOptions{})
	actual := defaulted(desired)
	actual.Spec.Replicas = ptr.To[int32](1)
	actual.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}
	merged := mergeDeployment(desired, actual)
	if merged.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != "now" {
		t.Error("merge dropped the restartedAt annotation, which would restart every pod")
	}
	if *merged.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *merged.Spec.Replicas)
	}
}
