package controller

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

const (
	// DefaultMemcachedImage runs when neither spec.image nor the operator's
	// RELATED_IMAGE_MEMCACHED variable names an image.
	DefaultMemcachedImage = "docker.io/library/memcached:1.6.38-alpine"

	// MemcachedPort is memcached's standard port.
	MemcachedPort = 11211
	// MemcachedPortName names the container port; probes refer to it.
	MemcachedPortName = "memcached"

	// MemcachedImageUID is the uid of the memcache user in the official
	// image, set as runAsUser where the platform assigns none.
	MemcachedImageUID int64 = 11211

	memcachedContainerName = "memcached"
	memcachedMemoryMB      = "64"
)

// OperandOptions are the operator-wide settings that shape every operand,
// read once at start-up from the operator's environment.
type OperandOptions struct {
	// DefaultImage is used when a Memcached has no spec.image.
	DefaultImage string
	// ProxyEnv are the HTTP_PROXY, HTTPS_PROXY and NO_PROXY variables (both
	// cases) of the operator, passed on to memcached so it runs behind the
	// same cluster-wide proxy OLM configured for the operator.
	ProxyEnv []corev1.EnvVar
	// RunAsUser, when set, pins the operand's user. OpenShift assigns a user
	// per namespace and must not get one; elsewhere the official image's user
	// is a name, which runAsNonRoot cannot verify, so its uid is set instead.
	RunAsUser *int64
}

// image picks the memcached image for m.
func (o OperandOptions) image(m *cachev1.Memcached) string {
	switch {
	case m.Spec.Image != "":
		return m.Spec.Image
	case o.DefaultImage != "":
		return o.DefaultImage
	default:
		return DefaultMemcachedImage
	}
}

// DesiredDeployment is the Deployment that runs m. It sets no owner
// reference (that needs a scheme) and does not modify its inputs.
func DesiredDeployment(m *cachev1.Memcached, opts OperandOptions) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      m.Name,
			Namespace: m.Namespace,
			Labels:    objectLabels(m.Name),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(m.Spec.Size),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(m.Name)},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				// Replacing a memcached pod empties its share of the cache:
				// bring the new pod up first and replace one pod at a time.
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: desiredPodTemplate(m, opts),
		},
	}
}

func desiredPodTemplate(m *cachev1.Memcached, opts OperandOptions) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: objectLabels(m.Name)},
		Spec: corev1.PodSpec{
			// memcached talks to no API: it gets no token and no service links.
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      opts.RunAsUser,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{memcachedContainer(m, opts)},
		},
	}
}

func memcachedContainer(m *cachev1.Memcached, opts OperandOptions) corev1.Container {
	port := intstr.FromString(MemcachedPortName)
	return corev1.Container{
		Name:    memcachedContainerName,
		Image:   opts.image(m),
		Command: []string{"memcached"},
		Args:    []string{"-m", memcachedMemoryMB, "-p", "11211", "-o", "modern"},
		Ports: []corev1.ContainerPort{{
			Name:          MemcachedPortName,
			ContainerPort: MemcachedPort,
			Protocol:      corev1.ProtocolTCP,
		}},
		Env: slices.Clone(opts.ProxyEnv),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("50m"),
				corev1.ResourceMemory: resource.MustParse("96Mi"),
			},
			// -m 64 caps the item memory; connections and the hash table
			// need the rest.
			Limits: corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			},
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}},
			InitialDelaySeconds: 10,
			PeriodSeconds:       10,
			TimeoutSeconds:      1,
			FailureThreshold:    3,
			SuccessThreshold:    1,
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}},
			PeriodSeconds:    5,
			TimeoutSeconds:   1,
			FailureThreshold: 3,
			SuccessThreshold: 1,
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// DeploymentUpToDate reports whether actual already runs what desired asks
// for. The API server defaults many fields the builder leaves empty, so the
// comparison ignores fields desired does not set, except that the number of
// containers and of their env, args and ports must match: otherwise a removed
// proxy variable or an added container would go unnoticed.
func DeploymentUpToDate(desired, actual *appsv1.Deployment) bool {
	if !equality.Semantic.DeepEqual(desired.Spec.Replicas, actual.Spec.Replicas) {
		return false
	}
	if !equality.Semantic.DeepDerivative(desired.Labels, actual.Labels) {
		return false
	}
	if !equality.Semantic.DeepDerivative(desired.Spec.Strategy, actual.Spec.Strategy) {
		return false
	}
	dt, at := desired.Spec.Template, actual.Spec.Template
	if len(dt.Spec.Containers) != len(at.Spec.Containers) ||
		len(dt.Spec.InitContainers) != len(at.Spec.InitContainers) ||
		len(dt.Spec.Volumes) != len(at.Spec.Volumes) {
		return false
	}
	for i := range dt.Spec.Containers {
		d, a := dt.Spec.Containers[i], at.Spec.Containers[i]
		if len(d.Env) != len(a.Env) || len(d.Args) != len(a.Args) ||
			len(d.Command) != len(a.Command) || len(d.Ports) != len(a.Ports) {
			return false
		}
	}
	return equality.Semantic.DeepDerivative(dt, at)
}

// mergeDeployment returns actual with everything desired sets. It keeps
// actual's metadata (resourceVersion for optimistic concurrency, owner
// references, others' labels) and replaces the pod template, but for its
// annotations, so fields someone added by hand are dropped.
func mergeDeployment(desired, actual *appsv1.Deployment) *appsv1.Deployment {
	merged := actual.DeepCopy()
	if merged.Labels == nil {
		merged.Labels = map[string]string{}
	}
	for k, v := range desired.Labels {
		merged.Labels[k] = v
	}
	merged.Spec.Replicas = desired.Spec.Replicas
	merged.Spec.Strategy = desired.Spec.Strategy
	template := desired.Spec.Template.DeepCopy()
	// Annotations such as kubectl's restartedAt belong to whoever set them;
	// dropping them would restart every pod once more.
	for k, v := range actual.Spec.Template.Annotations {
		if _, ours := template.Annotations[k]; !ours {
			if template.Annotations == nil {
				template.Annotations = map[string]string{}
			}
			template.Annotations[k] = v
		}
	}
	merged.Spec.Template = *template
	return merged
}
