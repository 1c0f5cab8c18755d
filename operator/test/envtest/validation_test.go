package envtest_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// TestSchemaValidation creates Memcacheds the CRD's OpenAPI schema must
// refuse or accept. It needs no operator. The objects are unstructured so
// that a missing field is really missing, not sent as Go's zero value.
func TestSchemaValidation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	digest := "@sha256:" + strings.Repeat("0123456789abcdef", 4)

	for i, tc := range []struct {
		name string
		spec map[string]any // nil: no spec at all
		// wantField names the refused field; empty when the object is valid.
		wantField string
	}{
		{name: "negative size", spec: map[string]any{"size": int64(-1)}, wantField: "spec.size"},
		{name: "size above 1000", spec: map[string]any{"size": int64(1001)}, wantField: "spec.size"},
		{name: "size not a number", spec: map[string]any{"size": "three"}, wantField: "spec.size"},
		{name: "size missing", spec: map[string]any{"image": "memcached"}, wantField: "spec.size"},
		{name: "spec missing", spec: nil, wantField: "spec"},
		{name: "image with upper case and double colon", spec: map[string]any{"size": int64(1), "image": "UPPER/Case::bad"}, wantField: "spec.image"},
		{name: "image with a space", spec: map[string]any{"size": int64(1), "image": "with space"}, wantField: "spec.image"},
		{name: "image with a short digest", spec: map[string]any{"size": int64(1), "image": "memcached@sha256:abc"}, wantField: "spec.image"},
		{name: "image too long", spec: map[string]any{"size": int64(1), "image": strings.Repeat("a", 513)}, wantField: "spec.image"},

		{name: "size 0", spec: map[string]any{"size": int64(0)}},
		{name: "size 1000", spec: map[string]any{"size": int64(1000)}},
		{name: "short image name", spec: map[string]any{"size": int64(1), "image": "memcached"}},
		{name: "image with tag", spec: map[string]any{"size": int64(1), "image": "docker.io/library/memcached:1.6.38-alpine"}},
		{name: "image with registry port, tag and digest", spec: map[string]any{
			"size":  int64(1),
			"image": "registry.example.com:5000/team/memcached:1.6.38" + digest,
		}},
		{name: "image by digest only", spec: map[string]any{"size": int64(1), "image": "quay.io/team/memcached" + digest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": cachev1.GroupVersion.String(),
				"kind":       "Memcached",
				"metadata":   map[string]any{"namespace": ns, "name": fmt.Sprintf("case-%d", i)},
			}}
			if tc.spec != nil {
				u.Object["spec"] = tc.spec
			}
			err := k8sClient.Create(t.Context(), u)
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("valid Memcached refused: %v", err)
			case tc.wantField == "":
				return
			case !apierrors.IsInvalid(err):
				t.Fatalf("got %v, want an Invalid error about %s", err, tc.wantField)
			}
			var fields []string
			if status, ok := err.(apierrors.APIStatus); ok && status.Status().Details != nil {
				for _, c := range status.Status().Details.Causes {
					fields = append(fields, c.Field)
				}
			}
			for _, f := range fields {
				if f == tc.wantField {
					return
				}
			}
			t.Errorf("error names fields %q, want %s: %v", fields, tc.wantField, err)
		})
	}
}

// TestNameValidation: the name of a Memcached names its Services, which
// must be DNS labels, and is a label value; names that cannot be are refused
// at the API rather than failing at reconcile time.
func TestNameValidation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, tc := range []struct {
		name  string
		valid bool
	}{
		{name: "cache", valid: true},
		{name: "a", valid: true},
		{name: "team-a-cache-2", valid: true},
		{name: strings.Repeat("m", cachev1.MaxNameLength), valid: true},
		{name: strings.Repeat("m", cachev1.MaxNameLength+1)},
		{name: strings.Repeat("m", 64)},
		{name: strings.Repeat("m", 253)},
		{name: "my.cache"},
		{name: "1cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": cachev1.GroupVersion.String(),
				"kind":       "Memcached",
				"metadata":   map[string]any{"namespace": ns, "name": tc.name},
				"spec":       map[string]any{"size": int64(1)},
			}}
			err := k8sClient.Create(t.Context(), u)
			switch {
			case tc.valid && err != nil:
				t.Fatalf("valid name refused: %v", err)
			case tc.valid:
				return
			case !apierrors.IsInvalid(err):
				t.Fatalf("got %v, want an Invalid error about metadata.name", err)
			case !strings.Contains(err.Error(), "metadata.name"):
				t.Errorf("error does not name metadata.name: %v", err)
			}
		})
	}
}
