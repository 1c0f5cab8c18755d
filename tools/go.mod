module github.com/example-inc/memcached-operator/tools

go 1.26.3

require (
	github.com/operator-framework/api v0.45.0
	github.com/operator-framework/operator-registry v1.73.0
	k8s.io/api v0.37.2
	k8s.io/apimachinery v0.37.2
	k8s.io/client-go v0.37.2
	sigs.k8s.io/controller-runtime v0.25.2
	sigs.k8s.io/kustomize/api v0.21.2
	sigs.k8s.io/kustomize/kyaml v0.21.2
	github.com/spf13/cobra v1.10.2
)
