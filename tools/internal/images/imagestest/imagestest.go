// Package imagestest holds what the tests of images, release and testbed
// share: an in-process registry on loopback, fake builds, and readers of
// pushed layers and of directories. It is for tests only: no other package
// may import it.
package imagestest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
)

// epoch is the time of every file of a deterministic layer.
var epoch = time.Unix(0, 0).UTC()

// Anonymous reaches registries without credentials, whatever the test
// machine's docker config holds.
var Anonymous = imageref.Registry{Keychain: authn.NewMultiKeychain()}

// FakeBuild writes a small, platform-specific "binary": the assembly tests
// need no compiler.
func FakeBuild(_ context.Context, p v1.Platform, out string) error {
	return os.WriteFile(out, []byte("#!/bin/sh\necho manager for "+p.OS+"/"+p.Architecture+"\n"), 0o755)
}

// FakeBinary is the content of a fake program (opm, grpc_health_probe)
// for a platform.
func FakeBinary(program string, p v1.Platform) []byte {
	return []byte("fake " + program + " for " + p.OS + "/" + p.Architecture)
}

// Entry is a file or directory of a pulled layer.
type Entry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Data     []byte
	// Linkname is a symbolic link's target.
	Linkname string
}

// StartRegistry starts an in-process registry on loopback and returns its
// host:port.
func StartRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// StartAuthRegistry starts an in-process registry that wants basic auth.
func StartAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// LayerEntries reads a layer's tar: entries by name, in order.
func LayerEntries(t *testing.T, l v1.Layer) (map[string]Entry, []string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]Entry{}
	var order []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %s, want %s", h.Name, h.ModTime, epoch)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner names %q:%q, want none", h.Name, h.Uname, h.Gname)
		}
		out[h.Name] = Entry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Data: data, Linkname: h.Linkname}
		order = append(order, h.Name)
	}
	return out, order
}

// Unpack writes an image's layers under dir, with their modes; links are
// written as they are (an absolute target points into the host).
func Unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		entries, order := LayerEntries(t, l)
		for _, name := range order {
			e := entries[name]
			target := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(name, "/")))
			switch e.Type {
			case tar.TypeDir:
				if err := os.MkdirAll(target, 0o700); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				if err := os.WriteFile(target, e.Data, 0o600); err != nil {
					t.Fatal(err)
				}
			case tar.TypeSymlink:
				_ = os.Remove(target)
				if err := os.Symlink(e.Linkname, target); err != nil {
					t.Fatal(err)
				}
				continue
			default:
				t.Fatalf("%s: unexpected tar type %q", name, e.Type)
			}
			mode := fs.FileMode(e.Mode & 0o777)
			if e.Mode&0o1000 != 0 {
				mode |= fs.ModeSticky
			}
			if err := os.Chmod(target, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// ReadDirFiles reads every regular file under root by slash path.
func ReadDirFiles(t *testing.T, root string, skip func(rel string) bool) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if skip != nil && rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = data
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func DiffFiles(want, got map[string][]byte) []string {
	var diff []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diff = append(diff, "missing "+p)
		case !bytes.Equal(w, g):
			diff = append(diff, "differs "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diff = append(diff, "extra "+p)
		}
	}
	return diff
}

// CopyTree copies the directory src to dst.
func CopyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(fmt.Errorf("copy %s: %w", src, err))
	}
}

// Pull fetches an index or an image through reg.
func Pull(ctx context.Context, reg imageref.Registry, reference string) (*remote.Descriptor, error) {
	ref, err := imageref.Parse(reference)
	if err != nil {
		return nil, err
	}
	return remote.Get(ref, reg.Options(ctx)...)
}
