package platform

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
)

// openShiftSecurityGroup is served only by OpenShift, whose security context
// constraints assign each namespace's pods a user id.
const openShiftSecurityGroup = "security.openshift.io"

// IsOpenShift reports whether the cluster serves OpenShift's security API.
func IsOpenShift(d discovery.ServerGroupsInterface) (bool, error) {
	groups, err := d.ServerGroups()
	if err != nil {
		return false, fmt.Errorf("discovering API groups: %w", err)
	}
	for _, g := range groups.Groups {
		if g.Name == openShiftSecurityGroup {
			return true, nil
		}
	}
	return false, nil
}

// monitoringGroupVersion is the Prometheus Operator's API.
const monitoringGroupVersion = "monitoring.coreos.com/v1"

// HasServiceMonitors reports whether the cluster serves the Prometheus
// Operator's ServiceMonitor API (monitoring.coreos.com/v1 servicemonitors).
func HasServiceMonitors(d discovery.ServerResourcesInterface) (bool, error) {
	return serves(d, monitoringGroupVersion, "servicemonitors")
}

// HasPrometheusRules reports whether the cluster serves the Prometheus
// Operator's PrometheusRule API (monitoring.coreos.com/v1 prometheusrules).
func HasPrometheusRules(d discovery.ServerResourcesInterface) (bool, error) {
	return serves(d, monitoringGroupVersion, "prometheusrules")
}

// serves reports whether the cluster serves resource in groupVersion.
func serves(d discovery.ServerResourcesInterface, groupVersion, resource string) (bool, error) {
	resources, err := d.ServerResourcesForGroupVersion(groupVersion)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("discovering %s: %w", groupVersion, err)
	}
	for _, r := range resources.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}
