package scope

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WatchNamespaceEnv is the variable OLM sets to the OperatorGroup's target
// namespaces: empty for all namespaces, else a comma-separated list.
const WatchNamespaceEnv = "WATCH_NAMESPACE"

// ParseNamespaces turns a WATCH_NAMESPACE value into a sorted, de-duplicated
// list of namespaces; an empty list means all namespaces.
func ParseNamespaces(value string) ([]string, error) {
	var namespaces []string
	var problems []string
	for _, ns := range strings.Split(value, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("%q: %s", ns, strings.Join(errs, "; ")))
			continue
		}
		namespaces = append(namespaces, ns)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: invalid namespace %s", WatchNamespaceEnv, strings.Join(problems, ", "))
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces), nil
}

// CacheOptions restricts the cache to namespaces (all when empty) and, for
// each kind of selected (the operator's Deployments, Pods, Services,
// PodDisruptionBudgets, ServiceMonitors, PrometheusRules: see
// controller.CachedObjects), to the objects that carry managed: the
// operator's memory then grows with what it owns, not with the size of the
// cluster. Every cached object is kept without its managedFields, which the
// operator never reads (it writes merge patches, computed from two cached
// copies, and creates): on a Deployment or a Pod they are a good part of the
// object, and a cached copy is held for each (issue 16 item 3, memory).
func CacheOptions(namespaces []string, managed labels.Selector, selected []client.Object) cache.Options {
	opts := cache.Options{
		ByObject:         make(map[client.Object]cache.ByObject, len(selected)),
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	for _, obj := range selected {
		opts.ByObject[obj] = cache.ByObject{Label: managed}
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
