package kubeversion

import (
	"fmt"
	"sort"

	"github.com/blang/semver/v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ruleFields are the fields of a CRD validation rule (x-kubernetes-validations)
// that came after 1.25, whose ValidationRule has only rule and message
// (apiextensions-apiserver v0.25.x), with the minor that added each:
// messageExpression kubernetes#115969 (1.27), reason and fieldPath
// kubernetes#118041 (1.28), optionalOldSelf 1.29.
var ruleFields = []struct {
	name  string
	since uint64
}{
	{"messageExpression", 27}, {"reason", 28}, {"fieldPath", 28}, {"optionalOldSelf", 29},
}

// ForServer removes from every CustomResourceDefinition among objs the
// validation-rule fields an API server of version server does not know, and
// returns where it removed one (sorted). Such a server drops them itself when
// a CRD is created or updated, so the CRD it stores is the same; but
// server-side apply refuses them ("field not declared in schema"), which is
// what `kubectl apply --server-side` of the CRD hits on 1.25.
func ForServer(objs []*unstructured.Unstructured, server semver.Version) []string {
	var unknown []string
	for _, f := range ruleFields {
		if server.Major == 1 && server.Minor < f.since {
			unknown = append(unknown, f.name)
		}
	}
	var removed []string
	if len(unknown) == 0 {
		return nil
	}
	for _, obj := range objs {
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		at := fmt.Sprintf("CustomResourceDefinition %s ", obj.GetName())
		removed = append(removed, dropRuleFields(obj.Object, at, unknown)...)
	}
	sort.Strings(removed)
	return removed
}

// dropRuleFields walks a decoded object and deletes the named fields from
// every rule of every x-kubernetes-validations list in it.
func dropRuleFields(node any, path string, names []string) []string {
	var removed []string
	switch n := node.(type) {
	case map[string]any:
		if rules, ok := n["x-kubernetes-validations"].([]any); ok {
			for i, r := range rules {
				rule, _ := r.(map[string]any)
				for _, name := range names {
					if _, ok := rule[name]; ok {
						delete(rule, name)
						removed = append(removed, fmt.Sprintf("%sx-kubernetes-validations[%d].%s", path, i, name))
					}
				}
			}
		}
		for k, v := range n {
			removed = append(removed, dropRuleFields(v, path+k+".", names)...)
		}
	case []any:
		for i, v := range n {
			removed = append(removed, dropRuleFields(v, fmt.Sprintf("%s[%d].", trimDot(path), i), names)...)
		}
	}
	return removed
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
