package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blang/semver/v4"
	"k8s.io/apimachinery/pkg/api/equality"
)

func TestParseImage(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		in      string
		want    Image
		wantErr string
	}{
		{in: "controller=quay.io/example/op:v0.1.0", want: Image{Name: "controller", NewName: "quay.io/example/op", NewTag: "v0.1.0"}},
		{in: "controller=localhost:5000/op", want: Image{Name: "controller", NewName: "localhost:5000/op"}},
		{in: "controller=localhost:5000/op:1", want: Image{Name: "controller", NewName: "localhost:5000/op", NewTag: "1"}},
		{in: "controller=quay.io/example/op@" + digest, want: Image{Name: "controller", NewName: "quay.io/example/op", Digest: digest}},
		{in: "controller", wantErr: "want NAME="},
		{in: "=quay.io/op", wantErr: "want NAME="},
		{in: "controller=quay.io/op@sha256:short", wantErr: "is not sha256"},
		{in: "controller=quay.io/op@sha256:" + strings.Repeat("g", 64), wantErr: "is not sha256"},
		{in: "controller=@" + digest, want: Image{Name: "controller", Digest: digest}},
		{in: "controller=quay.io/op:", wantErr: `tag ""`},
		{in: "controller=::", wantErr: `repository ":"`},
		{in: "controller=:v1", wantErr: "empty repository"},
		{in: "controller=quay.io/op:v 1", wantErr: `tag "v 1"`},
		{in: "controller=quay.io/my op:v1", wantErr: `repository "quay.io/my op"`},
		{in: "controller=Quay.io/Op", wantErr: `repository "Quay.io/Op"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseImage(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseImage = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// writeTree lays out files (path → content) under a temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: manager
spec:
  template:
    spec:
      containers:
      - name: manager
        image: controller:latest
`

func TestRenderSetsImagesWithoutTouchingConfig(t *testing.T) {
	root := writeTree(t, map[string]string{
		"base/kustomization.yaml":    "resources:\n- deployment.yaml\n",
		"base/deployment.yaml":       deployment,
		"default/kustomization.yaml": "namePrefix: memcached-\nresources:\n- ../base\n",
	})
	img, err := ParseImage("controller=quay.io/example/op:v0.2.0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(filepath.Join(root, "default"), img)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "image: quay.io/example/op:v0.2.0") || !strings.Contains(string(out), "name: memcached-manager") {
		t.Errorf("rendered output lacks the new image or the name prefix:\n%s", out)
	}
	kept, _ := os.ReadFile(filepath.Join(root, "base", "deployment.yaml"))
	if string(kept) != deployment {
		t.Error("Render modified the kustomization's files")
	}
	objs, err := Objects(filepath.Join(root, "default"))
	if err != nil || len(objs) != 1 || objs[0].GetName() != "memcached-manager" {
		t.Errorf("Objects = %v, %v; want the one prefixed deployment", objs, err)
	}
}

func TestRenderErrorsNameTheDirectory(t *testing.T) {
	root := writeTree(t, map[string]string{
		"broken/kustomization.yaml":  "resources:\n- missing.yaml\n",
		"invalid/kustomization.yaml": "resources: [\n",
	})
	for _, dir := range []string{"broken", "invalid", "absent"} {
		_, err := Render(filepath.Join(root, dir))
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Render(%s) error = %v, want one naming the directory", dir, err)
		}
	}
}

func TestRenderProjectConfig(t *testing.T) {
	// The project's own config/default must render with an image override:
	// `make deploy` depends on it.
	out, err := Render("../../../config/default", Image{Name: "controller", NewName: "quay.io/example-inc/memcached-operator", NewTag: "v9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: quay.io/example-inc/memcached-operator:v9.9.9", "namespace: memcached-operator-system", "name: memcached-operator-controller-manager"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config/default rendered without %q", want)
		}
	}
}

func TestDecodeSkipsEmptyDocuments(t *testing.T) {
	objs, err := Decode([]byte("---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# comment only\n"))
	if err != nil || len(objs) != 1 || objs[0].GetName() != "a" {
		t.Errorf("Decode = %v, %v; want one ConfigMap", objs, err)
	}
	if _, err := Decode([]byte("apiVersion: v1\nkind: [\n")); err == nil || !strings.Contains(err.Error(), "document 1") {
		t.Errorf("Decode of bad YAML: error = %v, want one naming the document", err)
	}
}

// TestRenderForOlderServer: the project's CRD, rendered for 1.25, leaves out
// the rule fields 1.25 does not know and nothing else; for 1.28 and later it
// is the CRD as rendered.
func TestRenderForOlderServer(t *testing.T) {
	const crd = "../../../config/crd"
	plain, err := Objects(crd)
	if err != nil {
		t.Fatal(err)
	}
	old, removed, err := RenderFor(crd, semver.MustParse("1.25.15"))
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) == 0 || strings.Contains(string(old), "fieldPath") {
		t.Errorf("for 1.25.15: removed %v, fieldPath still there: %v", removed, strings.Contains(string(old), "fieldPath"))
	}
	for _, r := range removed {
		if !strings.HasSuffix(r, ".fieldPath") {
			t.Errorf("removed %s: the CRD uses no other field 1.25 lacks", r)
		}
	}
	newer, removed, err := RenderFor(crd, semver.MustParse("1.28.0"))
	if err != nil || len(removed) > 0 {
		t.Fatalf("for 1.28.0: removed %v, %v", removed, err)
	}
	objs, err := Decode(newer)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(plain) || !equality.Semantic.DeepEqual(objs[0].Object, plain[0].Object) {
		t.Error("for 1.28.0 the CRD differs from the one rendered")
	}
}
