package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// memcached refuses to start with an item size above half its memory, or
// not a multiple of its slab_chunk_max (512k by default):
//
// +kubebuilder:validation:XValidation:rule="!has(self.maxItemSize) || int(self.maxItemSize.endsWith('m') || self.maxItemSize.endsWith('k') ? self.maxItemSize.substring(0, size(self.maxItemSize) - 1) : self.maxItemSize) * (self.maxItemSize.endsWith('m') ? 1048576 : self.maxItemSize.endsWith('k') ? 1024 : 1) * 2 <= (has(self.memoryMB) ? self.memoryMB : 64) * 1048576",message="maxItemSize must be at most half of memoryMB",fieldPath=".maxItemSize"
// +kubebuilder:validation:XValidation:rule="!has(self.maxItemSize) || int(self.maxItemSize.endsWith('m') || self.maxItemSize.endsWith('k') ? self.maxItemSize.substring(0, size(self.maxItemSize) - 1) : self.maxItemSize) * (self.maxItemSize.endsWith('m') ? 1048576 : self.maxItemSize.endsWith('k') ? 1024 : 1) % 524288 == 0 || (has(self.extraArgs) && self.extraArgs.exists(a, a.contains('slab_chunk_max')))",message="maxItemSize must be a multiple of 512k (memcached's default slab_chunk_max) unless extraArgs sets -o slab_chunk_max",fieldPath=".maxItemSize"

// MemcachedSpec is the desired state of a memcached cluster.
type MemcachedSpec struct {
	// Size is the number of memcached pods. Zero scales the cluster down
	// without deleting it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +required
	Size int32 `json:"size"`

	// Image is the memcached container image. When empty the operator uses
	// the image it was installed with (its RELATED_IMAGE_MEMCACHED variable),
	// so disconnected installs mirror it with the rest of the bundle.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`
	// +optional
	Image string `json:"image,omitempty"`

	// MemoryMB is the memory memcached may use for items, in megabytes
	// (memcached -m). The container's memory request is MemoryMB + 32 MiB and
	// its limit MemoryMB + max(64 MiB, MemoryMB/4), for connections and the
	// hash table, unless resources sets them.
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=65536
	// +kubebuilder:default=64
	// +optional
	MemoryMB int32 `json:"memoryMB,omitempty"`

	// MaxConnections is the most simultaneous connections each pod accepts
	// (memcached -c). Unset: memcached's default, 1024.
	// +kubebuilder:validation:Minimum=16
	// +kubebuilder:validation:Maximum=1048576
	// +optional
	MaxConnections *int32 `json:"maxConnections,omitempty"`

	// Threads is the number of worker threads of each pod (memcached -t).
	// Unset: memcached's default, 4.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Threads *int32 `json:"threads,omitempty"`

	// MaxItemSize is the largest item memcached stores (memcached -I), in
	// bytes or with a k or m suffix: "512k", "1m", "2m". It must be between 1k
	// and 128m and at most half of memoryMB. memcached also requires a
	// multiple of 512k (its slab_chunk_max) unless extraArgs sets
	// "-o slab_chunk_max=...". Unset: memcached's default, 1m.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:Pattern=`^[1-9][0-9]{0,8}[km]?$`
	// +kubebuilder:validation:XValidation:rule="int(self.endsWith('m') ? self.substring(0, size(self) - 1) : self.endsWith('k') ? self.substring(0, size(self) - 1) : self) * (self.endsWith('m') ? 1048576 : self.endsWith('k') ? 1024 : 1) >= 1024",message="maxItemSize must be at least 1k"
	// +kubebuilder:validation:XValidation:rule="int(self.endsWith('m') ? self.substring(0, size(self) - 1) : self.endsWith('k') ? self.substring(0, size(self) - 1) : self) * (self.endsWith('m') ? 1048576 : self.endsWith('k') ? 1024 : 1) <= 134217728",message="maxItemSize must be at most 128m"
	// +optional
	MaxItemSize string `json:"maxItemSize,omitempty"`

	// Verbosity is memcached's log level: 0 logs nothing but start-up
	// errors, 1 (-v) errors and warnings, 2 (-vv) also every client command.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2
	// +optional
	Verbosity *int32 `json:"verbosity,omitempty"`

	// ExtraArgs are appended to memcached's command line, for settings the
	// spec has no field for, such as ["-o", "lru_crawler,lru_maintainer"].
	// Only options that tune the cache are used, as memcached's getopt reads
	// them (short ones may be grouped: -MC): -o/--extended,
	// -f/--slab-growth-factor, -n/--slab-min-size, -R/--max-reqs-per-event,
	// -b/--listen-backlog, -B/--protocol, -D, -M/--disable-evictions,
	// -C/--disable-cas, -F/--disable-flush-all, -X/--disable-dumping,
	// -W/--disable-watch, -L/--enable-largepages, and values that do not
	// start with '-'. The API server refuses the flags the operator sets from
	// the spec (-m -c -t -I -p -U -l -v and their long forms): use the fields
	// instead. The operator leaves any other option out of memcached's
	// command line and names each in the Degraded condition (reason
	// InvalidExtraArgs), such as a managed flag inside a group (-Mm2), an
	// abbreviated long option (--ext) and those that would stop, detach or
	// expose memcached (-d, -h, -V, -i, -A, -s, -u, ...): the pod runs it in
	// the foreground, as the pod's user, on TCP.
	// ---
	// The rule below is 0.3.1's, unchanged, and must stay so: OLM v1's CRD
	// upgrade-safety preflight (operator-controller v1.11.0, crdify with
	// UnhandledEnforcement Error) classifies no change to a CEL rule, so any
	// change is an "unhandled change" that its default Strict enforcement
	// refuses, and every release from 0.2.1 on must stay upgradeable (issue
	// 18). The schema therefore refuses what 0.3.1 refused and the operator
	// (controller.ExtraArgAllowed) enforces the allow-list, on every
	// Kubernetes version. A later release can move the allow-list into the
	// CRD once crdify classifies CEL rule changes. See
	// docs/crd-upgrade-safety.md.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.all(a, !a.matches('^-[mctIpUlv]') && !(a.startsWith('--') && size(a.split('=')[0]) > 2 && ['--memory-limit', '--conn-limit', '--threads', '--max-item-size', '--port', '--udp-port', '--listen', '--verbose'].exists(f, f.startsWith(a.split('=')[0]))))",message="extraArgs must not set a flag the operator manages: -m/--memory-limit (use memoryMB), -c/--conn-limit (maxConnections), -t/--threads (threads), -I/--max-item-size (maxItemSize), -v/--verbose (verbosity), -p/--port, -U/--udp-port, -l/--listen"
	// +listType=atomic
	// +optional
	ExtraArgs []string `json:"extraArgs,omitempty"`

	// Resources of the memcached container. Each request or limit set here
	// replaces the operator's: cpu request 50m, memory request memoryMB +
	// 32Mi, memory limit memoryMB + max(64Mi, memoryMB/4).
	// +kubebuilder:validation:XValidation:rule="!has(self.claims) || size(self.claims) == 0",message="resources.claims is not supported"
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// NodeSelector restricts the memcached pods to nodes with these labels.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the memcached pods.
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the memcached pods. A podAntiAffinity set here replaces
	// antiAffinityPreset.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// TopologySpreadConstraints of the memcached pods. A constraint without
	// a labelSelector selects this Memcached's pods.
	// +listType=atomic
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// AntiAffinityPreset spreads the memcached pods across nodes
	// (kubernetes.io/hostname), so that losing a node loses one pod's share
	// of the cache: "soft" prefers distinct nodes, "hard" requires them
	// (then size must not exceed the schedulable nodes, and a rollout needs
	// one node more, since a new pod starts before an old one stops). Empty:
	// no preset. Ignored when affinity.podAntiAffinity is set.
	// +kubebuilder:validation:Enum="";soft;hard
	// +optional
	AntiAffinityPreset AntiAffinityPreset `json:"antiAffinityPreset,omitempty"`

	// Monitoring adds a Prometheus exporter to every memcached pod and, where
	// the Prometheus Operator is installed, a ServiceMonitor.
	// +optional
	Monitoring *MonitoringSpec `json:"monitoring,omitempty"`
}

// AntiAffinityPreset is a ready-made pod anti-affinity of memcached pods.
type AntiAffinityPreset string

const (
	// AntiAffinityNone sets no anti-affinity.
	AntiAffinityNone AntiAffinityPreset = ""
	// AntiAffinitySoft prefers to run each memcached pod on its own node.
	AntiAffinitySoft AntiAffinityPreset = "soft"
	// AntiAffinityHard requires each memcached pod to run on its own node.
	AntiAffinityHard AntiAffinityPreset = "hard"
)

// MonitoringSpec configures the metrics of a memcached cluster.
type MonitoringSpec struct {
	// Enabled adds a memcached exporter sidecar serving Prometheus metrics
	// on port 9150 (named metrics, also on the Service) and, where the
	// cluster serves the Prometheus Operator's monitoring.coreos.com/v1 API
	// at the operator's start, a ServiceMonitor scraping it and a
	// PrometheusRule with alerts on it.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// ExporterImage is the exporter's image. When empty the operator uses
	// the image it was installed with (its RELATED_IMAGE_MEMCACHED_EXPORTER
	// variable).
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`
	// +optional
	ExporterImage string `json:"exporterImage,omitempty"`
}

// MemcachedStatus is the observed state of a memcached cluster.
type MemcachedStatus struct {
	// Nodes are the names of the memcached pods, sorted.
	// +listType=set
	// +optional
	Nodes []string `json:"nodes,omitempty"`

	// Endpoints are the addresses (ip:11211) of the ready memcached pods,
	// sorted: the server list of clients that hash keys over the pods
	// themselves; the headless Service <name>-headless resolves to the same.
	// +listType=atomic
	// +optional
	Endpoints []string `json:"endpoints,omitempty"`

	// ReadyReplicas is the number of memcached pods that are ready.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Available, Progressing and Degraded.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// MaxNameLength is the longest Memcached name the API accepts: its headless
// Service, <name>-headless, must still be a DNS label (63 characters).
const MaxNameLength = 54

// Memcached runs a memcached cluster of spec.size pods.
//
// Its name is refused at the API when it could not name the Services (DNS
// labels of at most 63 characters, the headless one with a suffix) or be the
// value of the pods' instance label.
//
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 54 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be at most 54 characters of lowercase letters, digits and '-', starting with a letter: it names the Memcached's Services (<name> and <name>-headless) and is its pods' app.kubernetes.io/instance label"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=all
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.spec.size`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Memcached struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec MemcachedSpec `json:"spec"`
	// +optional
	Status MemcachedStatus `json:"status,omitempty"`
}

// MemcachedList is a list of Memcached.
//
// +kubebuilder:object:root=true
type MemcachedList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Memcached `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Memcached{}, &MemcachedList{})
}
