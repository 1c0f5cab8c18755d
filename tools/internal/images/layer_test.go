package images

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestTreeLayer(t *testing.T) {
	build := func(order []string) v1.Hash {
		tr := NewTree()
		for _, p := range order {
			if strings.HasSuffix(p, "/") {
				if err := tr.AddDir(p, 0o750, Owner{1001, 0}); err != nil {
					t.Fatal(err)
				}
			} else if err := tr.AddFile(p, []byte("content of "+p), 0o644, Root); err != nil {
				t.Fatal(err)
			}
		}
		l, err := tr.Layer()
		if err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		return d
	}
	a := build([]string{"/b/c.yaml", "/a.txt", "/b/", "/z/y/x"})
	b := build([]string{"/z/y/x", "/b/", "/a.txt", "/b/c.yaml"})
	if a != b {
		t.Errorf("the order of additions changes the layer: %s, %s", a, b)
	}

	tr := NewTree()
	if err := tr.AddFile("/x/y/z", []byte("z"), 0o600, Root); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddDir("/tmp", 0o777|fs.ModeSticky, Root); err != nil {
		t.Fatal(err)
	}
	if got, want := tr.Paths(), []string{"tmp/", "x/", "x/y/", "x/y/z"}; !slices.Equal(got, want) {
		t.Errorf("paths %v, want %v (parents are listed)", got, want)
	}
	l, err := tr.Layer()
	if err != nil {
		t.Fatal(err)
	}
	entries, order := layerEntries(t, l)
	if !slices.Equal(order, []string{"tmp/", "x/", "x/y/", "x/y/z"}) {
		t.Errorf("tar order %v", order)
	}
	if entries["tmp/"].Mode != 0o1777 || entries["x/"].Mode != 0o755 || entries["x/y/z"].Mode != 0o600 {
		t.Errorf("modes: tmp %o, x %o, x/y/z %o", entries["tmp/"].Mode, entries["x/"].Mode, entries["x/y/z"].Mode)
	}

	// A file where a directory is, and the root, are refused.
	if err := tr.AddDir("/x/y/z", 0o755, Root); err == nil {
		t.Error("a directory replaced a file")
	}
	if err := tr.AddFile("/x/y/z/w", nil, 0o644, Root); err == nil {
		t.Error("a file was added under a file")
	}
	if err := tr.AddFile("/", nil, 0o644, Root); err == nil {
		t.Error("the root was added as a file")
	}
	// Paths are cleaned, and cannot escape the root.
	if err := tr.AddFile("../../etc/passwd", []byte("x"), 0o644, Root); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tr.Paths(), "etc/passwd") {
		t.Errorf("paths %v", tr.Paths())
	}
}

func TestParsePlatforms(t *testing.T) {
	ps, err := ParsePlatforms(" linux/arm64, linux/amd64,linux/arm/v7 ")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, PlatformString(p))
	}
	if want := []string{"linux/arm64", "linux/amd64", "linux/arm/v7"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if env := goEnv(ps[2]); !slices.Equal(env, []string{"GOOS=linux", "GOARCH=arm", "GOARM=7"}) {
		t.Errorf("go env of linux/arm/v7: %v", env)
	}
	for _, bad := range []string{"", "linux", "linux/", "linux/amd64,linux/amd64", "a/b/c/d"} {
		if _, err := ParsePlatforms(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestOCILayout: --oci-layout writes the index a push would push.
func TestOCILayout(t *testing.T) {
	ctx := context.Background()
	platforms, _ := ParsePlatforms("linux/amd64,linux/arm64")
	idx, err := OperatorImage(ctx, OperatorOptions{Platforms: platforms, Version: "0.1.0", Build: fakeBuild})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() + "/layout"
	p, err := Output{LayoutDir: dir}.Write(ctx, "example.com/memcached-operator:v0.1.0", idx)
	if err != nil {
		t.Fatal(err)
	}
	// Written twice: replaced, not appended.
	if _, err := (Output{LayoutDir: dir}).Write(ctx, "example.com/memcached-operator:v0.1.0", idx); err != nil {
		t.Fatal(err)
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != p.Digest {
		t.Fatalf("layout holds %+v, want the index %s once", im.Manifests, p.Digest)
	}
	if im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "example.com/memcached-operator:v0.1.0" {
		t.Errorf("annotations %v", im.Manifests[0].Annotations)
	}
	inner, err := top.ImageIndex(p.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := inner.Digest(); d != p.Digest {
		t.Errorf("layout index %s, want %s", d, p.Digest)
	}
}
