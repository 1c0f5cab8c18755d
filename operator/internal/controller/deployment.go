package controller

import (
	"maps"
	"slices"
	"strconv"

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
	// DefaultExporterImage is the metrics exporter when neither
	// spec.monitoring.exporterImage nor the operator's
	// RELATED_IMAGE_MEMCACHED_EXPORTER variable names an image.
	DefaultExporterImage = "quay.io/prometheus/memcached-exporter:v0.15.3"

	// MemcachedPort is memcached's standard port.
	MemcachedPort = 11211
	// MemcachedPortName names the container port; probes refer to it.
	MemcachedPortName = "memcached"

	// MemcachedImageUID is the uid of the memcache user in the official
	// image, set as runAsUser where the platform assigns none.
	MemcachedImageUID int64 = 11211

	// ExporterPort is where the exporter sidecar serves metrics.
	ExporterPort = 9150
	// ExporterPortName names the exporter's container port and the
	// Service port a ServiceMonitor scrapes.
	ExporterPortName = "metrics"

	// DefaultMemoryMB is memcached's item memory when spec.memoryMB is unset
	// (the API server defaults it; objects built in Go may still lack it).
	DefaultMemoryMB = 64

	// HostnameTopologyKey is the node label antiAffinityPreset spreads over.
	HostnameTopologyKey = "kubernetes.io/hostname"

	memcachedContainerName = "memcached"
	exporterContainerName  = "exporter"
	mebibyte               = 1 << 20
)

// OperandOptions are the operator-wide settings that shape every operand,
// read once at start-up from the operator's environment.
type OperandOptions struct {
	// DefaultImage is used when a Memcached has no spec.image.
	DefaultImage string
	// DefaultExporterImage is used when a Memcached's monitoring has no
	// exporterImage.
	DefaultExporterImage string
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

// exporterImage picks the metrics exporter image for m.
func (o OperandOptions) exporterImage(m *cachev1.Memcached) string {
	switch {
	case m.Spec.Monitoring != nil && m.Spec.Monitoring.ExporterImage != "":
		return m.Spec.Monitoring.ExporterImage
	case o.DefaultExporterImage != "":
		return o.DefaultExporterImage
	default:
		return DefaultExporterImage
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
			Containers:                containers(m, opts),
			NodeSelector:              maps.Clone(m.Spec.NodeSelector),
			Tolerations:               tolerations(m.Spec.Tolerations),
			Affinity:                  affinity(m),
			TopologySpreadConstraints: topologySpreadConstraints(m),
		},
	}
}

func containers(m *cachev1.Memcached, opts OperandOptions) []corev1.Container {
	cs := []corev1.Container{memcachedContainer(m, opts)}
	if monitoringEnabled(m) {
		cs = append(cs, exporterContainer(m, opts))
	}
	return cs
}

func monitoringEnabled(m *cachev1.Memcached) bool {
	return m.Spec.Monitoring != nil && m.Spec.Monitoring.Enabled
}

// memoryMB is the item memory m asks for, in megabytes.
func memoryMB(spec cachev1.MemcachedSpec) int64 {
	if spec.MemoryMB <= 0 {
		return DefaultMemoryMB
	}
	return int64(spec.MemoryMB)
}

// memcachedArgs is memcached's command line. Settings left unset add no
// flag, so memcached's own defaults apply and a Memcached that sets none
// runs with the same arguments as before they existed.
func memcachedArgs(spec cachev1.MemcachedSpec) []string {
	args := []string{"-m", strconv.FormatInt(memoryMB(spec), 10), "-p", strconv.Itoa(MemcachedPort), "-o", "modern"}
	if spec.MaxConnections != nil {
		args = append(args, "-c", strconv.Itoa(int(*spec.MaxConnections)))
	}
	if spec.Threads != nil {
		args = append(args, "-t", strconv.Itoa(int(*spec.Threads)))
	}
	if spec.MaxItemSize != "" {
		args = append(args, "-I", spec.MaxItemSize)
	}
	switch v := ptr.Deref(spec.Verbosity, 0); {
	case v == 1:
		args = append(args, "-v")
	case v >= 2:
		args = append(args, "-vv")
	}
	// What the allow-list refuses is left out: the CRD's rule refuses only
	// the flags set above.
	return append(args, allowedExtraArgs(spec.ExtraArgs)...)
}

// memcachedResources are the memcached container's requests and limits:
// derived from memoryMB (the items, plus room for connections and the hash
// table), each replaced by spec.resources where it sets one. A derived
// request never exceeds a limit the user set, nor a derived limit a request
// the user set, and every limit has a request: the one a pod would get by
// default (the limit), written out so the template shows what pods run with.
func memcachedResources(spec cachev1.MemcachedSpec) corev1.ResourceRequirements {
	mem := memoryMB(spec)
	requests := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("50m"),
		corev1.ResourceMemory: *resource.NewQuantity((mem+32)*mebibyte, resource.BinarySI),
	}
	limits := corev1.ResourceList{
		corev1.ResourceMemory: *resource.NewQuantity((mem+max(64, mem/4))*mebibyte, resource.BinarySI),
	}
	var userRequests, userLimits corev1.ResourceList
	if spec.Resources != nil {
		userRequests, userLimits = spec.Resources.Requests, spec.Resources.Limits
	}
	for name, q := range userRequests {
		requests[name] = q.DeepCopy()
	}
	for name, q := range userLimits {
		limits[name] = q.DeepCopy()
	}
	for name, limit := range limits {
		request, ok := requests[name]
		_, userRequest := userRequests[name]
		_, userLimit := userLimits[name]
		switch {
		case !ok:
			requests[name] = limit.DeepCopy()
		case request.Cmp(limit) <= 0:
		case !userRequest:
			requests[name] = limit.DeepCopy()
		case !userLimit:
			limits[name] = request.DeepCopy()
		}
	}
	return corev1.ResourceRequirements{Requests: requests, Limits: limits}
}

func tolerations(in []corev1.Toleration) []corev1.Toleration {
	if in == nil {
		return nil
	}
	out := make([]corev1.Toleration, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

// affinity is spec.affinity with antiAffinityPreset's pod anti-affinity
// added, unless spec.affinity has a pod anti-affinity of its own.
func affinity(m *cachev1.Memcached) *corev1.Affinity {
	a := m.Spec.Affinity.DeepCopy()
	preset := m.Spec.AntiAffinityPreset
	if preset == cachev1.AntiAffinityNone || (a != nil && a.PodAntiAffinity != nil) {
		return a
	}
	if a == nil {
		a = &corev1.Affinity{}
	}
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: selectorLabels(m.Name)},
		TopologyKey:   HostnameTopologyKey,
	}
	switch preset {
	case cachev1.AntiAffinityHard:
		a.PodAntiAffinity = &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term},
		}
	default:
		a.PodAntiAffinity = &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}},
		}
	}
	return a
}

// topologySpreadConstraints are spec's, a constraint without a label
// selector selecting m's pods.
func topologySpreadConstraints(m *cachev1.Memcached) []corev1.TopologySpreadConstraint {
	if m.Spec.TopologySpreadConstraints == nil {
		return nil
	}
	out := make([]corev1.TopologySpreadConstraint, len(m.Spec.TopologySpreadConstraints))
	for i := range m.Spec.TopologySpreadConstraints {
		m.Spec.TopologySpreadConstraints[i].DeepCopyInto(&out[i])
		if out[i].LabelSelector == nil {
			out[i].LabelSelector = &metav1.LabelSelector{MatchLabels: selectorLabels(m.Name)}
		}
	}
	return out
}

func memcachedContainer(m *cachev1.Memcached, opts OperandOptions) corev1.Container {
	port := intstr.FromString(MemcachedPortName)
	return corev1.Container{
		Name:    memcachedContainerName,
		Image:   opts.image(m),
		Command: []string{"memcached"},
		Args:    memcachedArgs(m.Spec),
		Ports: []corev1.ContainerPort{{
			Name:          MemcachedPortName,
			ContainerPort: MemcachedPort,
			Protocol:      corev1.ProtocolTCP,
		}},
		Env:                      slices.Clone(opts.ProxyEnv),
		Resources:                memcachedResources(m.Spec),
		LivenessProbe:            tcpLivenessProbe(port),
		ReadinessProbe:           tcpReadinessProbe(port, 5),
		SecurityContext:          restrictedSecurityContext(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// exporterContainer serves memcached's statistics as Prometheus metrics. It
// reaches memcached over the pod's loopback interface.
func exporterContainer(m *cachev1.Memcached, opts OperandOptions) corev1.Container {
	port := intstr.FromString(ExporterPortName)
	return corev1.Container{
		Name:  exporterContainerName,
		Image: opts.exporterImage(m),
		Args: []string{
			"--memcached.address=localhost:" + strconv.Itoa(MemcachedPort),
			"--web.listen-address=:" + strconv.Itoa(ExporterPort),
		},
		Ports: []corev1.ContainerPort{{
			Name:          ExporterPortName,
			ContainerPort: ExporterPort,
			Protocol:      corev1.ProtocolTCP,
		}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("32Mi"),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
		},
		LivenessProbe:            tcpLivenessProbe(port),
		ReadinessProbe:           tcpReadinessProbe(port, 10),
		SecurityContext:          restrictedSecurityContext(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// tcpLivenessProbe restarts a container whose port stops accepting
// connections, after giving it 10 seconds to start.
func tcpLivenessProbe(port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}},
		InitialDelaySeconds: 10,
		PeriodSeconds:       10,
		TimeoutSeconds:      1,
		FailureThreshold:    3,
		SuccessThreshold:    1,
	}
}

// tcpReadinessProbe marks a container ready while its port accepts connections.
func tcpReadinessProbe(port intstr.IntOrString, periodSeconds int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}},
		PeriodSeconds:    periodSeconds,
		TimeoutSeconds:   1,
		FailureThreshold: 3,
		SuccessThreshold: 1,
	}
}

// restrictedSecurityContext passes the restricted Pod Security Standard
// without fixing a user, which OpenShift assigns per namespace.
func restrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// DeploymentUpToDate reports whether actual already runs what desired asks
// for. The API server defaults many fields the builder leaves empty, so the
// comparison ignores fields desired does not set, except that the number of
// containers and of their env, args and ports must match, and that the
// scheduling fields and resources, which come whole from the spec, must be
// equal: otherwise a removed proxy variable, toleration or limit, or an added
// container would go unnoticed.
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
		if !equality.Semantic.DeepEqual(d.Resources.Requests, a.Resources.Requests) ||
			!equality.Semantic.DeepEqual(d.Resources.Limits, a.Resources.Limits) {
			return false
		}
		// Compared whole: a field added by hand (runAsUser: 0, privileged)
		// weakens the pod and must not survive as "not set by us".
		if !equality.Semantic.DeepEqual(d.SecurityContext, a.SecurityContext) {
			return false
		}
	}
	if !equality.Semantic.DeepEqual(dt.Spec.SecurityContext, at.Spec.SecurityContext) {
		return false
	}
	if !equality.Semantic.DeepEqual(dt.Spec.NodeSelector, at.Spec.NodeSelector) ||
		!equality.Semantic.DeepEqual(dt.Spec.Tolerations, at.Spec.Tolerations) ||
		!equality.Semantic.DeepEqual(dt.Spec.Affinity, at.Spec.Affinity) ||
		!equality.Semantic.DeepEqual(dt.Spec.TopologySpreadConstraints, at.Spec.TopologySpreadConstraints) {
		return false
	}
	return equality.Semantic.DeepDerivative(dt, at)
}

// mergeDeployment returns actual with everything desired sets. It keeps
// actual's metadata (resourceVersion for optimistic concurrency, owner
// references, others' labels) and replaces the pod template, but for its
// annotations, so fields someone added by hand are dropped.
func mergeDeployment(desired, actual *appsv1.Deployment) *appsv1.Deployment {
	merged := actual.DeepCopy()
	merged.Labels = mergeLabels(desired.Labels, actual.Labels)
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
