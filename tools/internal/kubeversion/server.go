package kubeversion

import (
	"fmt"

	"github.com/blang/semver/v4"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// ServerVersion asks the API server of config its version (GET /version),
// as OLM does for minKubeVersion: MAJOR.MINOR.PATCH, pre-release and build
// parts (OpenShift's v1.25.4+77bec7a) dropped.
func ServerVersion(config *rest.Config) (semver.Version, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return semver.Version{}, fmt.Errorf("asking %s its version: %w", config.Host, err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return semver.Version{}, fmt.Errorf("asking %s its version: %w", config.Host, err)
	}
	v, err := semver.ParseTolerant(info.GitVersion)
	if err != nil {
		return semver.Version{}, fmt.Errorf("the API server at %s reports version %q: %w", config.Host, info.GitVersion, err)
	}
	v.Pre, v.Build = nil, nil
	return v, nil
}
