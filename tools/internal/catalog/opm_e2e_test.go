//go:build e2e

package catalog_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// TestOpmRenderTemplateGivesTheSameCatalog pushes the bundle image of every
// release in releases/ to a loopback registry, points a copy of
// catalog/template.yaml at them, and checks that opm itself (`opm alpha
// render-template semver --migrate-level bundle-object-to-csv-metadata -o
// yaml`, pulling the images) prints byte for byte the catalog.yaml that
// `tools catalog render` writes from releases/ for the same image
// references.
func TestOpmRenderTemplateGivesTheSameCatalog(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	olmBin := os.Getenv("OLM_BIN_DIR")
	if olmBin == "" {
		olmBin = filepath.Join(root, "bin", "olm")
	}
	opm := filepath.Join(olmBin, "opm")
	if _, err := os.Stat(opm); err != nil {
		t.Fatalf("%v: build opm with `make olm-binaries` (or set OLM_BIN_DIR)", err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	tmplData, err := os.ReadFile(filepath.Join(root, catalog.DefaultTemplate))
	if err != nil {
		t.Fatal(err)
	}
	indexData, err := os.ReadFile(filepath.Join(root, catalog.DefaultReleasesDir, catalog.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := catalog.LoadTemplate(filepath.Join(root, catalog.DefaultTemplate))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, r := range tmpl.Releases {
		dir := filepath.Join(root, catalog.DefaultReleasesDir, r.Version)
		img, err := images.BundleImage(images.BundleOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		local := host + "/memcached-operator-bundle:v" + r.Version
		ref, err := name.ParseReference(local, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		tmplData = bytes.ReplaceAll(tmplData, []byte(r.Image), []byte(local))
		indexData = bytes.ReplaceAll(indexData, []byte(r.Image), []byte(local))
		copyDir(t, dir, filepath.Join(work, "releases", r.Version))
	}
	template := filepath.Join(work, "catalog", "template.yaml")
	writeFile(t, template, tmplData)
	deprecations, err := os.ReadFile(filepath.Join(root, "catalog", catalog.DeprecationsFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "catalog", catalog.DeprecationsFile), deprecations)
	writeFile(t, filepath.Join(work, "releases", catalog.IndexFile), indexData)

	ctx := context.Background()
	res, err := catalog.Render(ctx, catalog.RenderOptions{Template: template, ReleasesDir: filepath.Join(work, "releases")})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(filepath.Join(res.PackageDir, catalog.CatalogFile))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, opm, "alpha", "render-template", "semver", "--migrate-level", catalog.CSVMetadataMigration, "-o", "yaml", "--use-http", template)
	// opm pulls with containers/image, which wants a signature policy:
	// accept the loopback registry's unsigned images.
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".config", "containers", "policy.json"), []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`))
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	theirs, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	if !bytes.Equal(ours, theirs) {
		writeFile(t, filepath.Join(work, "opm.yaml"), theirs)
		t.Errorf("opm renders another catalog than tools catalog render (diff %s %s)", filepath.Join(work, "opm.yaml"), filepath.Join(res.PackageDir, catalog.CatalogFile))
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}
