package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// headlessSuffix ends the name of a Memcached's headless Service.
const headlessSuffix = "-headless"

// ServiceName is the name of m's ClusterIP Service: clients that let the
// Service pick a pod connect to <name>:11211.
func ServiceName(m *cachev1.Memcached) string { return m.Name }

// HeadlessServiceName is the name of m's headless Service, whose DNS name
// resolves to the ready pods' IPs, for clients that hash keys over the pods.
func HeadlessServiceName(m *cachev1.Memcached) string { return m.Name + headlessSuffix }

// DesiredServices are m's Services: the ClusterIP Service, with the metrics
// port when monitoring is on, and the headless Service. They set no owner
// reference and do not modify m.
func DesiredServices(m *cachev1.Memcached) []*corev1.Service {
	ports := []corev1.ServicePort{memcachedServicePort()}
	if monitoringEnabled(m) {
		ports = append(ports, corev1.ServicePort{
			Name:       ExporterPortName,
			Port:       ExporterPort,
			TargetPort: intstr.FromString(ExporterPortName),
			Protocol:   corev1.ProtocolTCP,
		})
	}
	clusterIP := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName(m), Namespace: m.Namespace, Labels: objectLabels(m.Name)},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(m.Name),
			Ports:    ports,
		},
	}
	headless := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: HeadlessServiceName(m), Namespace: m.Namespace, Labels: objectLabels(m.Name)},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: corev1.ClusterIPNone,
			Selector:  selectorLabels(m.Name),
			Ports:     []corev1.ServicePort{memcachedServicePort()},
		},
	}
	return []*corev1.Service{clusterIP, headless}
}

func memcachedServicePort() corev1.ServicePort {
	return corev1.ServicePort{
		Name:       MemcachedPortName,
		Port:       MemcachedPort,
		TargetPort: intstr.FromString(MemcachedPortName),
		Protocol:   corev1.ProtocolTCP,
	}
}

// ServiceUpToDate reports whether actual has what desired sets. The API
// server fills in clusterIP(s), ipFamilies, sessionAffinity and more, which
// desired leaves empty; those are not compared. clusterIP is immutable and
// set at creation, so it is not compared either.
func ServiceUpToDate(desired, actual *corev1.Service) bool {
	if !equality.Semantic.DeepDerivative(desired.Labels, actual.Labels) ||
		desired.Spec.Type != actual.Spec.Type ||
		!equality.Semantic.DeepEqual(desired.Spec.Selector, actual.Spec.Selector) ||
		len(desired.Spec.Ports) != len(actual.Spec.Ports) {
		return false
	}
	for i := range desired.Spec.Ports {
		if !equality.Semantic.DeepDerivative(desired.Spec.Ports[i], actual.Spec.Ports[i]) {
			return false
		}
	}
	return true
}

// mergeService returns actual with everything desired sets, keeping what
// the API server allocated (clusterIP, ipFamilies) and others' labels.
func mergeService(desired, actual *corev1.Service) *corev1.Service {
	merged := actual.DeepCopy()
	merged.Labels = mergeLabels(desired.Labels, actual.Labels)
	merged.Spec.Type = desired.Spec.Type
	merged.Spec.Selector = desired.Spec.Selector
	merged.Spec.Ports = desired.Spec.Ports
	return merged
}

// mergeLabels is actual's labels with desired's set over them.
func mergeLabels(desired, actual map[string]string) map[string]string {
	merged := make(map[string]string, len(desired)+len(actual))
	for k, v := range actual {
		merged[k] = v
	}
	for k, v := range desired {
		merged[k] = v
	}
	return merged
}
