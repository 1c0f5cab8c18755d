// Package kubeversion holds, in one place, what this project's tooling knows
// about Kubernetes and OpenShift versions: the versions the tests passed on
// (Tested) and their floor, which becomes the CSV's minKubeVersion; which
// OpenShift release ships which Kubernetes minor, for the bundle's
// com.redhat.openshift.versions; and which fields of a CRD's validation
// rules each Kubernetes minor knows, so that a CRD can be applied to an
// older API server as that server would store it.
//
// It must not read files, know the bundle's layout or change a cluster: the
// only thing it asks a cluster is its version (ServerVersion). The version
// list itself comes from the Makefile (K8S_COMPAT_VERSIONS and the newest);
// nothing here types it.
package kubeversion
