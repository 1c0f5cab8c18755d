package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func TestDesiredServices(t *testing.T) {
	memcachedPort := corev1.ServicePort{Name: "memcached", Port: 11211, TargetPort: intstr.FromString("memcached"), Protocol: corev1.ProtocolTCP}
	metricsPort := corev1.ServicePort{Name: "metrics", Port: 9150, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name       string
		monitoring *cachev1.MonitoringSpec
		wantPorts  []corev1.ServicePort
	}{
		{name: "no monitoring", wantPorts: []corev1.ServicePort{memcachedPort}},
		{name: "monitoring disabled", monitoring: &cachev1.MonitoringSpec{}, wantPorts: []corev1.ServicePort{memcachedPort}},
		{name: "monitoring enabled", monitoring: &cachev1.MonitoringSpec{Enabled: true}, wantPorts: []corev1.ServicePort{memcachedPort, metricsPort}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memcached(3, "")
			m.Spec.Monitoring = tt.monitoring
			before := m.DeepCopy()
			svcs := DesiredServices(m)
			if !equality.Semantic.DeepEqual(m, before) {
				t.Error("DesiredServices modified the Memcached")
			}
			if len(svcs) != 2 {
				t.Fatalf("%d services, want 2", len(svcs))
			}
			clusterIP, headless := svcs[0], svcs[1]
			if clusterIP.Name != "memcached-sample" || headless.Name != "memcached-sample-headless" {
				t.Errorf("names %s and %s, want memcached-sample and memcached-sample-headless", clusterIP.Name, headless.Name)
			}
			for _, s := range svcs {
				if s.Namespace != m.Namespace {
					t.Errorf("%s: namespace %q, want %q", s.Name, s.Namespace, m.Namespace)
				}
				if !ManagedSelector().Matches(labelsOf(s.Labels)) {
					t.Errorf("%s: labels %v not selected by the cache's selector", s.Name, s.Labels)
				}
				if !equality.Semantic.DeepEqual(s.Spec.Selector, selectorLabels(m.Name)) {
					t.Errorf("%s: selector %v, want the Deployment's %v", s.Name, s.Spec.Selector, selectorLabels(m.Name))
				}
				if s.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("%s: type %s, want ClusterIP", s.Name, s.Spec.Type)
				}
			}
			if clusterIP.Spec.ClusterIP != "" {
				t.Errorf("ClusterIP service asks for clusterIP %q, want one allocated", clusterIP.Spec.ClusterIP)
			}
			if headless.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("headless service clusterIP %q, want None", headless.Spec.ClusterIP)
			}
			if !equality.Semantic.DeepEqual(clusterIP.Spec.Ports, tt.wantPorts) {
				t.Errorf("ClusterIP service ports %+v, want %+v", clusterIP.Spec.Ports, tt.wantPorts)
			}
			if !equality.Semantic.DeepEqual(headless.Spec.Ports, []corev1.ServicePort{memcachedPort}) {
				t.Errorf("headless service ports %+v, want memcached only", headless.Spec.Ports)
			}
			// The ports target the container ports by name.
			pod := DesiredDeployment(m, OperandOptions{}).Spec.Template.Spec
			for _, p := range clusterIP.Spec.Ports {
				if !containerPortNamed(pod.Containers, p.TargetPort.StrVal) {
					t.Errorf("service port %s targets %q, which no container port is named", p.Name, p.TargetPort.StrVal)
				}
			}
		})
	}
}

func containerPortNamed(cs []corev1.Container, name string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

// serviceDefaulted mimics what the API server adds to a created Service.
func serviceDefaulted(s *corev1.Service) *corev1.Service {
	a := s.DeepCopy()
	a.ResourceVersion = "9"
	if a.Spec.ClusterIP == "" {
		a.Spec.ClusterIP = "10.0.0.17"
	}
	a.Spec.ClusterIPs = []string{a.Spec.ClusterIP}
	a.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	a.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
	a.Spec.SessionAffinity = corev1.ServiceAffinityNone
	a.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	return a
}

func TestServiceUpToDate(t *testing.T) {
	m := memcached(3, "")
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	for i, desired := range DesiredServices(m) {
		tests := []struct {
			name   string
			mutate func(*corev1.Service)
			want   bool
		}{
			{"server defaults only", func(*corev1.Service) {}, true},
			{"someone else's label", func(s *corev1.Service) { s.Labels["team"] = "a" }, true},
			{"someone else's annotation", func(s *corev1.Service) { s.Annotations = map[string]string{"a": "b"} }, true},
			{"managed-by label removed", func(s *corev1.Service) { delete(s.Labels, ManagedByLabel) }, false},
			{"selector widened", func(s *corev1.Service) { delete(s.Spec.Selector, InstanceLabel) }, false},
			{"selector narrowed", func(s *corev1.Service) { s.Spec.Selector["extra"] = "x" }, false},
			{"port changed", func(s *corev1.Service) { s.Spec.Ports[0].Port = 11212 }, false},
			{"port added", func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "x", Port: 1}) }, false},
			{"port removed", func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:0] }, false},
			{"type changed", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }, false},
		}
		for _, tt := range tests {
			t.Run(desired.Name+"/"+tt.name, func(t *testing.T) {
				actual := serviceDefaulted(desired)
				tt.mutate(actual)
				if got := ServiceUpToDate(desired, actual); got != tt.want {
					t.Errorf("ServiceUpToDate = %v, want %v", got, tt.want)
				}
				merged := mergeService(desired, actual)
				if !ServiceUpToDate(desired, merged) {
					t.Error("the merged service is still not up to date")
				}
				if merged.ResourceVersion != actual.ResourceVersion || merged.Spec.ClusterIP != actual.Spec.ClusterIP ||
					!equality.Semantic.DeepEqual(merged.Spec.IPFamilies, actual.Spec.IPFamilies) {
					t.Error("merge lost the resourceVersion or what the API server allocated")
				}
			})
		}
		if i == 1 && desired.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Error("second service is not headless")
		}
	}
}

func TestServiceMetricsPortRemovedWithMonitoring(t *testing.T) {
	m := memcached(3, "")
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	stored := serviceDefaulted(DesiredServices(m)[0])
	m.Spec.Monitoring.Enabled = false
	desired := DesiredServices(m)[0]
	if ServiceUpToDate(desired, stored) {
		t.Fatal("a Service with the metrics port is up to date after monitoring was turned off")
	}
	if merged := mergeService(desired, stored); len(merged.Spec.Ports) != 1 || merged.Spec.Ports[0].Name != "memcached" {
		t.Errorf("merged ports %+v, want memcached only", merged.Spec.Ports)
	}
}

// TestLongestNameFits: the longest name the API accepts still makes valid
// Service names and label values (the CRD's rule uses MaxNameLength).
func TestLongestNameFits(t *testing.T) {
	m := &cachev1.Memcached{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("m", cachev1.MaxNameLength), Namespace: "ns"}}
	for _, name := range []string{m.Name, HeadlessServiceName(m)} {
		if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
			t.Errorf("Service name %q: %v", name, errs)
		}
	}
	for k, v := range objectLabels(m.Name) {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("label %s=%q: %v", k, v, errs)
		}
	}
}
