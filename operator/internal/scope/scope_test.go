package scope

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
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
	if opts := CacheOptions(nil, sel); opts.DefaultNamespaces != nil {
		t.Errorf("all namespaces: DefaultNamespaces = %v, want nil", opts.DefaultNamespaces)
	}
	opts := CacheOptions([]string{"a", "b"}, sel)
	if len(opts.DefaultNamespaces) != 2 {
		t.Errorf("DefaultNamespaces = %v, want a and b", opts.DefaultNamespaces)
	}
	if len(opts.ByObject) != 2 {
		t.Fatalf("ByObject has %d entries, want Deployments and Pods", len(opts.ByObject))
	}
	for obj, by := range opts.ByObject {
		if by.Label.String() != sel.String() {
			t.Errorf("%T selected by %q, want %q", obj, by.Label, sel)
		}
	}
}
