package platform

import (
	"fmt"

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
