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

// MonitoringAPIs says which of the Prometheus Operator's APIs the cluster
// serves.
type MonitoringAPIs struct {
	// ServiceMonitors: monitoring.coreos.com/v1 servicemonitors.
	ServiceMonitors bool
	// PrometheusRules: monitoring.coreos.com/v1 prometheusrules.
	PrometheusRules bool
}

// DiscoverMonitoring asks the cluster which monitoring APIs it serves.
func DiscoverMonitoring(d discovery.ServerResourcesInterface) (MonitoringAPIs, error) {
	resources, err := d.ServerResourcesForGroupVersion(monitoringGroupVersion)
	switch {
	case apierrors.IsNotFound(err):
		return MonitoringAPIs{}, nil
	case err != nil:
		return MonitoringAPIs{}, fmt.Errorf("discovering %s: %w", monitoringGroupVersion, err)
	}
	var apis MonitoringAPIs
	for _, r := range resources.APIResources {
		switch r.Name {
		case "servicemonitors":
			apis.ServiceMonitors = true
		case "prometheusrules":
			apis.PrometheusRules = true
		}
	}
	return apis, nil
}
