package kubeversion

import (
	"fmt"

	"github.com/blang/semver/v4"
)

// openShiftReleases are the OpenShift 4 minors and the Kubernetes minor each
// ships, in order. Source: Red Hat's table "What version of the Kubernetes
// API is included with each OpenShift 4.x release?"
// (https://access.redhat.com/solutions/4870701) and each release's notes
// ("OpenShift Container Platform 4.12 uses Kubernetes 1.25"). A release newer
// than the last row is added here, nowhere else.
var openShiftReleases = []struct{ openShift, kube uint64 }{
	{1, 13}, {2, 14}, {3, 16}, {4, 17}, {5, 18}, {6, 19}, {7, 20}, {8, 21}, {9, 22}, {10, 23},
	{11, 24}, {12, 25}, {13, 26}, {14, 27}, {15, 28}, {16, 29}, {17, 30}, {18, 31}, {19, 32}, {20, 33},
}

// OpenShiftVersions is the bundle's com.redhat.openshift.versions for a CSV
// whose minKubeVersion is minKube: "v4.N", which Red Hat's catalogs read as
// OpenShift 4.N and every later release, where 4.N is the first release
// whose Kubernetes minor is minKube's or newer.
func OpenShiftVersions(minKube semver.Version) (string, error) {
	last := openShiftReleases[len(openShiftReleases)-1]
	if minKube.Major != 1 {
		return "", fmt.Errorf("Kubernetes %s: no OpenShift 4 release ships a Kubernetes other than 1.x", minKube)
	}
	for _, r := range openShiftReleases {
		if r.kube >= minKube.Minor {
			return fmt.Sprintf("v4.%d", r.openShift), nil
		}
	}
	return "", fmt.Errorf("Kubernetes %d.%d is newer than the Kubernetes of every OpenShift release kubeversion knows (up to 4.%d, Kubernetes 1.%d): add the newer releases to its table",
		minKube.Major, minKube.Minor, last.openShift, last.kube)
}
