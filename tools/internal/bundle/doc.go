// Package bundle makes and checks the operator's OLM bundle (registry+v1).
//
// Build and Generate render config/manifests with kustomize's Go API into
// the ClusterServiceVersion (install strategy, RBAC split into permissions
// and clusterPermissions, descriptors, alm-examples, relatedImages), the
// CRD, metadata/annotations.yaml and the scorecard configuration, and write
// them atomically (atomicdir): a failed generation leaves the previous
// bundle as it was. minKubeVersion and com.redhat.openshift.versions are
// derived from the Kubernetes versions the tests ran on (kubeversion).
//
// Validate runs, in one pass that reports every problem at once, the
// validators `operator-sdk bundle validate --select-optional
// suite=operatorframework` runs (operator-framework/api), the CSV against
// OLM's CSV CRD schema, the offline scorecard checks (package scorecard),
// the bundle's Dockerfile and annotations (bundleformat), properties.yaml as
// OLM parses it, the operatorframework.io/arch.* labels against the
// platforms the operator image is built for, and the derived versions.
//
// It must not define the bundle format itself (bundleformat does), build or
// push images (images), or release a bundle into releases/ (catalog).
package bundle
