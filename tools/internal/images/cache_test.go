package images

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestCached: the same stamp reads the layout and builds nothing; another
// stamp, or a layout that went missing, builds again; a failed build keeps
// what was cached.
func TestCached(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layouts", "example.com_x_v1")
	builds := 0
	build := func(content string) func() (remote.Taggable, error) {
		return func() (remote.Taggable, error) {
			builds++
			tr := NewTree()
			if err := tr.AddFile("/x", []byte(content), 0o644, Root); err != nil {
				return nil, err
			}
			return NewImage(v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Config{}, LayerSpec{Tree: tr})
		}
	}
	digest := func(tt remote.Taggable) v1.Hash {
		t.Helper()
		img, err := ImageFor(tt, v1.Platform{OS: "linux", Architecture: "amd64"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first, built, err := Cached(dir, "example.com/x:v1", "stamp 1", build("one"))
	if err != nil || !built || builds != 1 {
		t.Fatalf("first call: built %v, %d builds, %v", built, builds, err)
	}
	again, built, err := Cached(dir, "example.com/x:v1", "stamp 1", build("two"))
	if err != nil || built || builds != 1 {
		t.Fatalf("same stamp: built %v, %d builds, %v", built, builds, err)
	}
	if digest(again) != digest(first) {
		t.Errorf("same stamp: %s, want the cached %s", digest(again), digest(first))
	}
	if _, _, err := Cached(dir, "example.com/x:v1", "stamp 2", func() (remote.Taggable, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("a failed build returned no error")
	}
	if stamp, _ := os.ReadFile(filepath.Join(dir, StampFile)); string(stamp) != "stamp 1" {
		t.Errorf("after a failed build the stamp is %q, want the cached one", stamp)
	}
	changed, built, err := Cached(dir, "example.com/x:v1", "stamp 2", build("two"))
	if err != nil || !built || digest(changed) == digest(first) {
		t.Fatalf("new stamp: built %v, digest %s (was %s), %v", built, digest(changed), digest(first), err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	if _, built, err := Cached(dir, "example.com/x:v1", "stamp 2", build("two")); err != nil || !built {
		t.Errorf("a layout without blobs: built %v, %v; want built again", built, err)
	}
}

// TestTreeSymlink: links are tar symlinks, owned by root, mode 0777, and
// replace nothing that is a directory.
func TestTreeSymlink(t *testing.T) {
	tr := NewTree()
	if err := tr.AddFile("/bin/busybox", []byte("bb"), 0o755, Root); err != nil {
		t.Fatal(err)
	}
	for p, target := range map[string]string{"/bin/sh": "busybox", "/lib64/ld.so": "/lib/x/ld.so"} {
		if err := tr.AddSymlink(p, target); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.AddSymlink("/bin", "usr/bin"); err == nil {
		t.Error("a link replaced a directory")
	}
	if err := tr.AddSymlink("/bin/x", ""); err == nil {
		t.Error("a link without target was added")
	}
	l, err := tr.Layer()
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := layerEntries(t, l)
	sh, ld := entries["bin/sh"], entries["lib64/ld.so"]
	if sh.Type != tar.TypeSymlink || sh.Linkname != "busybox" || sh.Mode != 0o777 || sh.UID != 0 || len(sh.Data) != 0 {
		t.Errorf("bin/sh: %+v", sh)
	}
	if ld.Type != tar.TypeSymlink || ld.Linkname != "/lib/x/ld.so" {
		t.Errorf("lib64/ld.so: %+v", ld)
	}
	if entries["lib64/"].Type != tar.TypeDir {
		t.Errorf("the link's parent is not listed: %+v", entries["lib64/"])
	}
	root := t.TempDir()
	if err := tr.Materialize(root); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(root, "bin", "sh")); err != nil || got != "busybox" {
		t.Errorf("materialized bin/sh -> %q, %v", got, err)
	}
}
