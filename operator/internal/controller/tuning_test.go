package controller

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func TestMemcachedArgs(t *testing.T) {
	base := []string{"-m", "64", "-p", "11211", "-o", "modern"}
	tests := []struct {
		name string
		spec cachev1.MemcachedSpec
		want []string
	}{
		{"nothing set: 0.1.0's arguments", cachev1.MemcachedSpec{}, base},
		{"memoryMB defaulted by the API server", cachev1.MemcachedSpec{MemoryMB: 64}, base},
		{"memoryMB", cachev1.MemcachedSpec{MemoryMB: 1024}, []string{"-m", "1024", "-p", "11211", "-o", "modern"}},
		{"maxConnections", cachev1.MemcachedSpec{MaxConnections: ptr.To[int32](4096)}, append(slices.Clone(base), "-c", "4096")},
		{"threads", cachev1.MemcachedSpec{Threads: ptr.To[int32](8)}, append(slices.Clone(base), "-t", "8")},
		{"maxItemSize", cachev1.MemcachedSpec{MaxItemSize: "2m"}, append(slices.Clone(base), "-I", "2m")},
		{"verbosity 0 adds nothing", cachev1.MemcachedSpec{Verbosity: ptr.To[int32](0)}, base},
		{"verbosity 1", cachev1.MemcachedSpec{Verbosity: ptr.To[int32](1)}, append(slices.Clone(base), "-v")},
		{"verbosity 2", cachev1.MemcachedSpec{Verbosity: ptr.To[int32](2)}, append(slices.Clone(base), "-vv")},
		{"extraArgs last", cachev1.MemcachedSpec{ExtraArgs: []string{"-o", "lru_crawler", "-R", "40"}}, append(slices.Clone(base), "-o", "lru_crawler", "-R", "40")},
		// Outside the allow-list (-Mm2 and -d pass the CRD's rule, -l where
		// CEL validation is off): left out, their values apart left as
		// arguments memcached ignores.
		{"refused extraArgs left out", cachev1.MemcachedSpec{ExtraArgs: []string{"-Mm2", "-o", "modern", "-l", "0.0.0.0", "-d"}},
			append(slices.Clone(base), "-o", "modern", "0.0.0.0")},
		{"everything, in a fixed order", cachev1.MemcachedSpec{
			MemoryMB:       256,
			MaxConnections: ptr.To[int32](2048),
			Threads:        ptr.To[int32](2),
			MaxItemSize:    "1m",
			Verbosity:      ptr.To[int32](1),
			ExtraArgs:      []string{"-B", "ascii"},
		}, []string{"-m", "256", "-p", "11211", "-o", "modern", "-c", "2048", "-t", "2", "-I", "1m", "-v", "-B", "ascii"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memcached(1, "")
			m.Spec = tt.spec
			m.Spec.Size = 1
			got := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec.Containers[0].Args
			if !slices.Equal(got, tt.want) {
				t.Errorf("args = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMemcachedArgsDoNotAliasExtraArgs(t *testing.T) {
	m := memcached(1, "")
	m.Spec.ExtraArgs = make([]string, 1, 10)
	m.Spec.ExtraArgs[0] = "-R"
	before := m.DeepCopy()
	args := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec.Containers[0].Args
	args[len(args)-1] = "changed"
	if !equality.Semantic.DeepEqual(m, before) {
		t.Error("the Deployment's args share memory with spec.extraArgs")
	}
}

func quantities(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func TestMemcachedResources(t *testing.T) {
	tests := []struct {
		name         string
		memoryMB     int32
		resources    *corev1.ResourceRequirements
		wantRequests corev1.ResourceList
		wantLimits   corev1.ResourceList
	}{
		{
			name:         "default: 0.1.0's resources",
			wantRequests: quantities("cpu", "50m", "memory", "96Mi"),
			wantLimits:   quantities("memory", "128Mi"),
		},
		{
			name:         "memoryMB 64 as defaulted",
			memoryMB:     64,
			wantRequests: quantities("cpu", "50m", "memory", "96Mi"),
			wantLimits:   quantities("memory", "128Mi"),
		},
		{
			name:         "small memory: at least 64Mi headroom",
			memoryMB:     16,
			wantRequests: quantities("cpu", "50m", "memory", "48Mi"),
			wantLimits:   quantities("memory", "80Mi"),
		},
		{
			name:         "large memory: a quarter headroom",
			memoryMB:     1024,
			wantRequests: quantities("cpu", "50m", "memory", "1056Mi"),
			wantLimits:   quantities("memory", "1280Mi"),
		},
		{
			name:         "odd memory rounds the quarter down",
			memoryMB:     1030,
			wantRequests: quantities("cpu", "50m", "memory", "1062Mi"),
			wantLimits:   quantities("memory", "1287Mi"),
		},
		{
			name:         "resources override per key",
			memoryMB:     64,
			resources:    &corev1.ResourceRequirements{Requests: quantities("cpu", "500m"), Limits: quantities("cpu", "2")},
			wantRequests: quantities("cpu", "500m", "memory", "96Mi"),
			wantLimits:   quantities("cpu", "2", "memory", "128Mi"),
		},
		{
			name:         "memory request and limit replaced",
			memoryMB:     64,
			resources:    &corev1.ResourceRequirements{Requests: quantities("memory", "200Mi"), Limits: quantities("memory", "1Gi")},
			wantRequests: quantities("cpu", "50m", "memory", "200Mi"),
			wantLimits:   quantities("memory", "1Gi"),
		},
		{
			name:         "a limit below the derived request lowers the request",
			memoryMB:     64,
			resources:    &corev1.ResourceRequirements{Limits: quantities("memory", "80Mi", "cpu", "20m")},
			wantRequests: quantities("cpu", "20m", "memory", "80Mi"),
			wantLimits:   quantities("cpu", "20m", "memory", "80Mi"),
		},
		{
			name:         "a request above the derived limit raises the limit",
			memoryMB:     64,
			resources:    &corev1.ResourceRequirements{Requests: quantities("memory", "512Mi")},
			wantRequests: quantities("cpu", "50m", "memory", "512Mi"),
			wantLimits:   quantities("memory", "512Mi"),
		},
		{
			name:         "a limit without a request gets the request a pod would default to",
			memoryMB:     64,
			resources:    &corev1.ResourceRequirements{Limits: quantities("ephemeral-storage", "1Gi")},
			wantRequests: quantities("cpu", "50m", "memory", "96Mi", "ephemeral-storage", "1Gi"),
			wantLimits:   quantities("memory", "128Mi", "ephemeral-storage", "1Gi"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memcached(1, "")
			m.Spec.MemoryMB = tt.memoryMB
			m.Spec.Resources = tt.resources
			got := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec.Containers[0].Resources
			if !equality.Semantic.DeepEqual(got.Requests, tt.wantRequests) {
				t.Errorf("requests = %v, want %v", got.Requests, tt.wantRequests)
			}
			if !equality.Semantic.DeepEqual(got.Limits, tt.wantLimits) {
				t.Errorf("limits = %v, want %v", got.Limits, tt.wantLimits)
			}
		})
	}
}

func TestMemcachedResourcesDoNotAliasSpec(t *testing.T) {
	m := memcached(1, "")
	m.Spec.Resources = &corev1.ResourceRequirements{Requests: quantities("cpu", "1")}
	before := m.DeepCopy()
	r := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec.Containers[0].Resources
	r.Requests[corev1.ResourceCPU] = resource.MustParse("3")
	if !equality.Semantic.DeepEqual(m, before) {
		t.Error("the Deployment's resources share memory with spec.resources")
	}
}

func TestAntiAffinityPreset(t *testing.T) {
	term := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{NameLabel: AppName, InstanceLabel: "memcached-sample"}},
		TopologyKey:   "kubernetes.io/hostname",
	}
	nodeAffinity := &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
			Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"cache"},
		}}}},
	}}
	explicit := &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}, TopologyKey: "topology.kubernetes.io/zone",
	}}}
	tests := []struct {
		name     string
		preset   cachev1.AntiAffinityPreset
		affinity *corev1.Affinity
		want     *corev1.Affinity
	}{
		{name: "no preset, no affinity", want: nil},
		{name: "no preset keeps the affinity", affinity: &corev1.Affinity{NodeAffinity: nodeAffinity}, want: &corev1.Affinity{NodeAffinity: nodeAffinity}},
		{name: "soft", preset: cachev1.AntiAffinitySoft, want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}},
		}}},
		{name: "hard", preset: cachev1.AntiAffinityHard, want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term},
		}}},
		{name: "hard next to a node affinity", preset: cachev1.AntiAffinityHard, affinity: &corev1.Affinity{NodeAffinity: nodeAffinity},
			want: &corev1.Affinity{NodeAffinity: nodeAffinity, PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term},
			}}},
		{name: "an explicit pod anti-affinity wins", preset: cachev1.AntiAffinitySoft, affinity: &corev1.Affinity{PodAntiAffinity: explicit},
			want: &corev1.Affinity{PodAntiAffinity: explicit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memcached(3, "")
			m.Spec.AntiAffinityPreset = tt.preset
			m.Spec.Affinity = tt.affinity
			before := m.DeepCopy()
			got := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec.Affinity
			if !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("affinity = %+v, want %+v", got, tt.want)
			}
			if !equality.Semantic.DeepEqual(m, before) {
				t.Error("DesiredDeployment modified spec.affinity")
			}
		})
	}
}

func TestSchedulingFields(t *testing.T) {
	m := memcached(3, "")
	m.Spec.NodeSelector = map[string]string{"pool": "cache"}
	m.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cache", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](30)}}
	custom := &metav1.LabelSelector{MatchLabels: map[string]string{"custom": "x"}}
	m.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway},
		{MaxSkew: 2, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: custom},
	}
	before := m.DeepCopy()
	pod := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec

	if !equality.Semantic.DeepEqual(pod.NodeSelector, m.Spec.NodeSelector) {
		t.Errorf("nodeSelector = %v", pod.NodeSelector)
	}
	if !equality.Semantic.DeepEqual(pod.Tolerations, m.Spec.Tolerations) {
		t.Errorf("tolerations = %v", pod.Tolerations)
	}
	if len(pod.TopologySpreadConstraints) != 2 {
		t.Fatalf("topologySpreadConstraints = %v", pod.TopologySpreadConstraints)
	}
	own := &metav1.LabelSelector{MatchLabels: selectorLabels(m.Name)}
	if got := pod.TopologySpreadConstraints[0].LabelSelector; !equality.Semantic.DeepEqual(got, own) {
		t.Errorf("constraint without selector got %v, want the pods' selector %v", got, own)
	}
	if got := pod.TopologySpreadConstraints[1].LabelSelector; !equality.Semantic.DeepEqual(got, custom) {
		t.Errorf("constraint with a selector got %v, want it kept: %v", got, custom)
	}

	// Nothing is shared with the Memcached.
	pod.NodeSelector["pool"] = "changed"
	*pod.Tolerations[0].TolerationSeconds = 99
	pod.TopologySpreadConstraints[1].LabelSelector.MatchLabels["custom"] = "changed"
	if !equality.Semantic.DeepEqual(m, before) {
		t.Error("DesiredDeployment modified or aliases the Memcached's scheduling fields")
	}
}

func TestExporterSidecar(t *testing.T) {
	tests := []struct {
		name       string
		monitoring *cachev1.MonitoringSpec
		opts       OperandOptions
		wantImage  string // empty: no sidecar
	}{
		{name: "no monitoring"},
		{name: "monitoring disabled", monitoring: &cachev1.MonitoringSpec{ExporterImage: "example.com/exporter:1"}},
		{name: "built-in image", monitoring: &cachev1.MonitoringSpec{Enabled: true}, wantImage: DefaultExporterImage},
		{name: "operator's image", monitoring: &cachev1.MonitoringSpec{Enabled: true},
			opts: OperandOptions{DefaultExporterImage: "mirror.example.com/exporter:2"}, wantImage: "mirror.example.com/exporter:2"},
		{name: "spec image wins", monitoring: &cachev1.MonitoringSpec{Enabled: true, ExporterImage: "example.com/exporter:1"},
			opts: OperandOptions{DefaultExporterImage: "mirror.example.com/exporter:2"}, wantImage: "example.com/exporter:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memcached(2, "")
			m.Spec.Monitoring = tt.monitoring
			cs := DesiredDeployment(m, tt.opts).Spec.Template.Spec.Containers
			if tt.wantImage == "" {
				if len(cs) != 1 {
					t.Errorf("containers = %v, want memcached alone", containerNames(cs))
				}
				return
			}
			if len(cs) != 2 || cs[0].Name != "memcached" || cs[1].Name != "exporter" {
				t.Fatalf("containers = %v, want [memcached exporter]", containerNames(cs))
			}
			e := cs[1]
			if e.Image != tt.wantImage {
				t.Errorf("exporter image = %q, want %q", e.Image, tt.wantImage)
			}
			if len(e.Ports) != 1 || e.Ports[0].Name != "metrics" || e.Ports[0].ContainerPort != 9150 || e.Ports[0].Protocol != corev1.ProtocolTCP {
				t.Errorf("exporter ports = %+v, want 9150/TCP named metrics", e.Ports)
			}
			if !slices.Contains(e.Args, "--memcached.address=localhost:11211") || !slices.Contains(e.Args, "--web.listen-address=:9150") {
				t.Errorf("exporter args = %q", e.Args)
			}
			if e.LivenessProbe == nil || e.ReadinessProbe == nil || e.ReadinessProbe.TCPSocket == nil || e.ReadinessProbe.TCPSocket.Port.StrVal != "metrics" {
				t.Errorf("exporter probes = %+v / %+v, want TCP probes of port metrics", e.LivenessProbe, e.ReadinessProbe)
			}
			// Adding the sidecar changes nothing of memcached's container.
			plain := memcached(2, "")
			if want := DesiredDeployment(plain, tt.opts).Spec.Template.Spec.Containers[0]; !equality.Semantic.DeepEqual(cs[0], want) {
				t.Errorf("the memcached container changed with monitoring: %+v", cs[0])
			}
		})
	}
}

func containerNames(cs []corev1.Container) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// TestEveryOperandSettingRollsThePods checks that each setting of the spec
// reaches the pod template, so that changing it rolls the pods, and that the
// Deployment the operator stored is then found out of date.
func TestEveryOperandSettingRollsThePods(t *testing.T) {
	base := memcached(3, "")
	tests := []struct {
		name   string
		mutate func(*cachev1.Memcached)
	}{
		{"image", func(m *cachev1.Memcached) { m.Spec.Image = "example.com/memcached:2" }},
		{"memoryMB", func(m *cachev1.Memcached) { m.Spec.MemoryMB = 128 }},
		{"maxConnections", func(m *cachev1.Memcached) { m.Spec.MaxConnections = ptr.To[int32](100) }},
		{"threads", func(m *cachev1.Memcached) { m.Spec.Threads = ptr.To[int32](2) }},
		{"maxItemSize", func(m *cachev1.Memcached) { m.Spec.MaxItemSize = "2m" }},
		{"verbosity", func(m *cachev1.Memcached) { m.Spec.Verbosity = ptr.To[int32](1) }},
		{"extraArgs", func(m *cachev1.Memcached) { m.Spec.ExtraArgs = []string{"-R", "40"} }},
		{"resources", func(m *cachev1.Memcached) {
			m.Spec.Resources = &corev1.ResourceRequirements{Limits: quantities("cpu", "1")}
		}},
		{"nodeSelector", func(m *cachev1.Memcached) { m.Spec.NodeSelector = map[string]string{"a": "b"} }},
		{"tolerations", func(m *cachev1.Memcached) {
			m.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		}},
		{"affinity", func(m *cachev1.Memcached) {
			m.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{}}
		}},
		{"topologySpreadConstraints", func(m *cachev1.Memcached) {
			m.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}
		}},
		{"antiAffinityPreset", func(m *cachev1.Memcached) { m.Spec.AntiAffinityPreset = cachev1.AntiAffinitySoft }},
		{"monitoring", func(m *cachev1.Memcached) { m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := defaulted(DesiredDeployment(base, OperandOptions{}))
			changed := base.DeepCopy()
			tt.mutate(changed)
			desired := DesiredDeployment(changed, OperandOptions{})
			if equality.Semantic.DeepEqual(desired.Spec.Template, DesiredDeployment(base, OperandOptions{}).Spec.Template) {
				t.Fatal("the pod template did not change")
			}
			if DeploymentUpToDate(desired, stored) {
				t.Error("the stored Deployment is taken as up to date")
			}
			merged := mergeDeployment(desired, stored)
			if !DeploymentUpToDate(desired, merged) {
				t.Error("the merged Deployment is still not up to date")
			}
			// And back: unsetting the setting is noticed too.
			if DeploymentUpToDate(DesiredDeployment(base, OperandOptions{}), defaulted(desired)) {
				t.Error("unsetting the setting is not noticed")
			}
		})
	}
}
