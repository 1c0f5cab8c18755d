package scope

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestParseNamespaces(t *testing.T) {
	tests := []struct {
		value   string
		want    []string
		wantErr string
	}{
		{value: "", want: nil},
		{value: "  ", want: nil},
		{value: "team-a", want: []string{"team-a"}},
		{value: "team-b,team-a", want: []string{"team-a", "team-b"}},
		{value: "team-a, team-b ,team-a,", want: []string{"team-a", "team-b"}},
		{value: "Team_A", wantErr: `invalid namespace "Team_A"`},
		{value: "ok,Bad,also bad", wantErr: `"Bad"`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := ParseNamespaces(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), WatchNamespaceEnv) {
					t.Fatalf("error = %v, want one naming %s and containing %s", err, WatchNamespaceEnv, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseNamespaces(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseNamespacesReportsEveryBadName(t *testing.T) {
	_, err := ParseNamespaces("Bad1,good,Bad2")
	if err == nil || !strings.Contains(err.Error(), "Bad1") || !strings.Contains(err.Error(), "Bad2") {
		t.Errorf("error = %v, want both bad names", err)
	}
}

func TestCacheOptions(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": "memcached-operator"})
	serviceMonitor := &unstructured.Unstructured{}
	serviceMonitor.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"})
	selected := []client.Object{&appsv1.Deployment{}, &corev1.Pod{}, &corev1.Service{}, &policyv1.PodDisruptionBudget{}, serviceMonitor}

	if opts := CacheOptions(nil, sel, selected); opts.DefaultNamespaces != nil {
		t.Errorf("all namespaces: DefaultNamespaces = %v, want nil", opts.DefaultNamespaces)
	}
	opts := CacheOptions([]string{"a", "b"}, sel, selected)
	if len(opts.DefaultNamespaces) != 2 {
		t.Errorf("DefaultNamespaces = %v, want a and b", opts.DefaultNamespaces)
	}
	if len(opts.ByObject) != len(selected) {
		t.Fatalf("ByObject has %d entries, want one per selected kind (%d)", len(opts.ByObject), len(selected))
	}
	for _, obj := range selected {
		by, ok := opts.ByObject[obj]
		if !ok {
			t.Errorf("%T not selected", obj)
			continue
		}
		if by.Label.String() != sel.String() {
			t.Errorf("%T selected by %q, want %q", obj, by.Label, sel)
		}
	}
	if opts := CacheOptions(nil, sel, nil); len(opts.ByObject) != 0 {
		t.Errorf("nothing selected: ByObject = %v, want empty", opts.ByObject)
	}

	pod := &corev1.Pod{}
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	if opts.DefaultTransform == nil {
		t.Fatal("no DefaultTransform: cached objects keep their managedFields")
	}
	if _, err := opts.DefaultTransform(pod); err != nil || pod.ManagedFields != nil {
		t.Errorf("DefaultTransform left managedFields %v (err %v), want none", pod.ManagedFields, err)
	}
}
