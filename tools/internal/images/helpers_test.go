package images

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
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sirupsen/logrus"
)

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

func init() {
	// operator-registry's bundle parser logs at info level.
	logrus.SetLevel(logrus.WarnLevel)
}

// startRegistry starts an in-process registry on loopback and returns its
// host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startAuthRegistry starts an in-process registry that wants basic auth.
func startAuthRegistry(t *testing.T, user, pass string) string {
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

// anonymous is a Registry that uses no credentials, whatever the test
// machine's docker config holds.
var anonymous = Registry{Keychain: authn.NewMultiKeychain()}

// fakeBuild writes a small, platform-specific "binary": the assembly tests
// need no compiler.
func fakeBuild(ctx context.Context, p v1.Platform, out string) error {
	return os.WriteFile(out, []byte("#!/bin/sh\necho manager for "+PlatformString(p)+"\n"), 0o755)
}

func fakeBinaries(p v1.Platform) (*CatalogBinaries, error) {
	return &CatalogBinaries{
		Opm:         []byte("fake opm for " + PlatformString(p)),
		HealthProbe: []byte("fake grpc_health_probe for " + PlatformString(p)),
	}, nil
}

// hostPlatform is the platform binaries of this machine run on.
var hostPlatform = v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}

// realOrFakeBinaries uses the binaries of hack/opm-image-binaries.sh for
// the host platform when they were built (bin/opm-image), fakes otherwise.
func realOrFakeBinaries(t *testing.T) (BinariesFunc, bool) {
	dir := filepath.Join(repoRoot, DefaultOpmDir)
	real := BinariesFromDir(dir)
	if _, err := real(hostPlatform); err != nil {
		t.Logf("no opm binaries for %s in %s (make opm-image-binaries): the catalog image gets fake ones", PlatformString(hostPlatform), dir)
		return fakeBinaries, false
	}
	return func(p v1.Platform) (*CatalogBinaries, error) {
		if p.OS == hostPlatform.OS && p.Architecture == hostPlatform.Architecture && p.Variant == "" {
			return real(p)
		}
		return fakeBinaries(p)
	}, true
}

// entry is a file or directory of a pulled layer.
type entry struct {
	typ      byte
	mode     int64
	uid, gid int
	data     []byte
}

// layerEntries reads a layer's tar: entries by name, in order.
func layerEntries(t *testing.T, l v1.Layer) (map[string]entry, []string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
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
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %s, want %s", h.Name, h.ModTime, Epoch)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner names %q:%q, want none", h.Name, h.Uname, h.Gname)
		}
		out[h.Name] = entry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, data: data}
		order = append(order, h.Name)
	}
	return out, order
}

// unpack writes an image's layers under dir, with their modes.
func unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		entries, order := layerEntries(t, l)
		for _, name := range order {
			e := entries[name]
			target := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(name, "/")))
			switch e.typ {
			case tar.TypeDir:
				if err := os.MkdirAll(target, 0o700); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				if err := os.WriteFile(target, e.data, 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("%s: unexpected tar type %q", name, e.typ)
			}
			mode := fs.FileMode(e.mode & 0o777)
			if e.mode&0o1000 != 0 {
				mode |= fs.ModeSticky
			}
			if err := os.Chmod(target, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// readDirFiles reads every regular file under root by slash path.
func readDirFiles(t *testing.T, root string, skip func(rel string) bool) map[string][]byte {
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

func diffFiles(want, got map[string][]byte) []string {
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

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(fmt.Errorf("copy %s: %w", src, err))
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// snapshot copies a directory (and, when given, files beside it) of the
// repository to a temporary directory, so that a test reads one version of
// it while bundle/ or catalog/ are regenerated: it returns the copy's path
// (dir's base name under a temporary directory).
func snapshot(t *testing.T, dir string, files ...string) string {
	t.Helper()
	root := t.TempDir()
	dst := filepath.Join(root, filepath.Base(dir))
	copyTree(t, filepath.Join(repoRoot, dir), dst)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
