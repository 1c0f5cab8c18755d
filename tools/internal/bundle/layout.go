package bundle

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// fileName is the name operator-sdk gives an object in bundle/manifests:
// <package>.clusterserviceversion.yaml, <group>_<plural>.yaml for a CRD,
// <name>_<group>_<version>_<kind>.yaml (no group for core) otherwise.
func fileName(pkg string, obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Kind == "ClusterServiceVersion":
		return pkg + ".clusterserviceversion.yaml"
	case gvk.Kind == "CustomResourceDefinition":
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		return group + "_" + plural + ".yaml"
	default:
		gv := strings.ReplaceAll(gvk.GroupVersion().String(), "/", "_")
		return fmt.Sprintf("%s_%s_%s.yaml", obj.GetName(), gv, strings.ToLower(gvk.Kind))
	}
}

// marshalYAML writes obj with sorted keys, as kubectl and operator-sdk do.
func marshalYAML(obj any) ([]byte, error) {
	return yaml.Marshal(obj)
}
