package bundle

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestSplitRule(t *testing.T) {
	rule := func(groups, resources []string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: []string{"get"}}
	}
	tests := []struct {
		name        string
		in          rbacv1.PolicyRule
		ns, cluster *rbacv1.PolicyRule
		clusterCRDs map[string]bool
	}{
		{
			name: "namespaced resources and subresources",
			in:   rule([]string{"cache.example.com"}, []string{"memcacheds", "memcacheds/status"}),
			ns:   ptr(rule([]string{"cache.example.com"}, []string{"memcacheds", "memcacheds/status"})),
		},
		{
			name:    "cluster-scoped review",
			in:      rule([]string{"authentication.k8s.io"}, []string{"tokenreviews"}),
			cluster: ptr(rule([]string{"authentication.k8s.io"}, []string{"tokenreviews"})),
		},
		{
			name:    "mixed core resources are split",
			in:      rule([]string{""}, []string{"pods", "nodes"}),
			ns:      ptr(rule([]string{""}, []string{"pods"})),
			cluster: ptr(rule([]string{""}, []string{"nodes"})),
		},
		{
			name:    "wildcard",
			in:      rule([]string{"apps"}, []string{"*"}),
			cluster: ptr(rule([]string{"apps"}, []string{"*"})),
		},
		{
			name:        "cluster-scoped CRD of the bundle",
			in:          rule([]string{"example.com"}, []string{"widgets"}),
			cluster:     ptr(rule([]string{"example.com"}, []string{"widgets"})),
			clusterCRDs: map[string]bool{"example.com/widgets": true},
		},
		{
			name:    "non-resource URLs",
			in:      rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
			cluster: &rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns, cluster := splitRule(tc.in, tc.clusterCRDs)
			if !reflect.DeepEqual(ns, tc.ns) || !reflect.DeepEqual(cluster, tc.cluster) {
				t.Errorf("got namespaced %+v, cluster %+v; want %+v, %+v", ns, cluster, tc.ns, tc.cluster)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
