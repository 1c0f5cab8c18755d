package catalog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"
	"github.com/sirupsen/logrus"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"

	"github.com/example-inc/memcached-operator/tools/internal/golden"
)

func TestMain(m *testing.M) {
	// operator-registry's bundle parser logs at info level for every bundle.
	logrus.SetLevel(logrus.WarnLevel)
	os.Exit(m.Run())
}

// repo writes a repository with the given releases into a temp dir.
func repo(t testing.TB, releases ...fixture.Release) (template, releasesDir string) {
	t.Helper()
	template, releasesDir, err := fixture.WriteRepo(t.TempDir(), releases...)
	if err != nil {
		t.Fatal(err)
	}
	return template, releasesDir
}

func TestRenderGolden(t *testing.T) {
	template, releasesDir := repo(t, fixture.ThreeReleases()...)
	ctx := context.Background()

	res, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || strings.Join(res.Bundles, " ") != "memcached-operator.v0.1.0 memcached-operator.v0.1.1 memcached-operator.v0.2.0" {
		t.Errorf("result = %+v", res)
	}
	published, err := os.ReadFile(filepath.Join(res.PackageDir, CatalogFile))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "catalog.golden"), published)

	// Rendering again changes nothing.
	res, err = Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err != nil || res.Changed {
		t.Errorf("second render: changed=%v err=%v", res != nil && res.Changed, err)
	}
	if _, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir, Check: true}); err != nil {
		t.Errorf("check after render: %v", err)
	}

	out := filepath.Join(t.TempDir(), "e2e")
	if _, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir, OutputDir: out, EmbedBundles: true}); err != nil {
		t.Fatal(err)
	}
	embedded, err := os.ReadFile(filepath.Join(out, "memcached-operator", CatalogFile))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "catalog-embedded.golden"), embedded)

	out = filepath.Join(t.TempDir(), "old")
	res, err = Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir, OutputDir: out, EmbedBundles: true, MaxVersion: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Bundles, " ") != "memcached-operator.v0.1.0" {
		t.Errorf("--max-version 0.1.0 rendered %v", res.Bundles)
	}
	// stable only has 0.2.0: cut away, so only candidate-v0 remains, and
	// the semver template makes it the default channel.
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Channels) != 1 || cfg.Channels[0].Name != "candidate-v0" || len(cfg.Bundles) != 1 || cfg.Packages[0].DefaultChannel != "candidate-v0" {
		t.Errorf("--max-version 0.1.0: channels %+v, %d bundles, package %+v", cfg.Channels, len(cfg.Bundles), cfg.Packages)
	}
}

func TestRenderedCatalogContent(t *testing.T) {
	template, releasesDir := repo(t, fixture.ThreeReleases()...)
	ctx := context.Background()
	if _, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir}); err != nil {
		t.Fatal(err)
	}
	catalogDir := filepath.Dir(template)
	// opm loads catalog/ as it is: the template is ignored (.indexignore),
	// and so is a staging directory an interrupted run left behind.
	stale := filepath.Join(catalogDir, ".memcached-operator.tmp-123")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, CatalogFile), []byte("schema: olm.package\nname: broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(catalogDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Packages) != 1 || len(cfg.Others) != 0 || len(cfg.Bundles) != 3 {
		t.Fatalf("LoadFS(catalog/) = %d packages, %d bundles, others %v", len(cfg.Packages), len(cfg.Bundles), cfg.Others)
	}
	if err := ValidateDir(ctx, catalogDir, releasesDir); err != nil {
		t.Fatal(err)
	}

	pkg := cfg.Packages[0]
	if pkg.DefaultChannel != "stable-v0" || pkg.Icon == nil || pkg.Icon.MediaType != "image/svg+xml" || !bytes.HasPrefix(pkg.Icon.Data, []byte("<svg")) ||
		!strings.HasPrefix(pkg.Description, "Memcached Operator runs") {
		t.Errorf("olm.package = %+v", pkg)
	}
	for _, b := range cfg.Bundles {
		v := strings.TrimPrefix(b.Name, "memcached-operator.v")
		if b.Image != fixture.Image(v) {
			t.Errorf("bundle %s image = %q", b.Name, b.Image)
		}
		types := map[string]int{}
		for _, p := range b.Properties {
			types[p.Type]++
		}
		if types[property.TypePackage] != 1 || types[property.TypeGVK] != 1 || types[property.TypeCSVMetadata] != 1 || types[property.TypeBundleObject] != 0 {
			t.Errorf("bundle %s properties: %v", b.Name, types)
		}
	}
	// The semver template's edges: the head of each minor version replaces
	// the head of the one before and skips the rest of the channel.
	entries := map[string]string{}
	for _, c := range cfg.Channels {
		for _, e := range c.Entries {
			entries[c.Name+"/"+e.Name] = e.Replaces + "|" + strings.Join(e.Skips, ",") + "|" + e.SkipRange
		}
	}
	want := map[string]string{
		"candidate-v0/memcached-operator.v0.1.0": "||",
		"candidate-v0/memcached-operator.v0.1.1": "|memcached-operator.v0.1.0|",
		"candidate-v0/memcached-operator.v0.2.0": "memcached-operator.v0.1.1|memcached-operator.v0.1.0|",
		"stable-v0/memcached-operator.v0.2.0":    "||",
	}
	for k, v := range want {
		if entries[k] != v {
			t.Errorf("entry %s = %q, want %q", k, entries[k], v)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("entries = %v", entries)
	}
}

func TestRenderFailureLeavesCatalogIntact(t *testing.T) {
	releases := fixture.ThreeReleases()[:2]
	template, releasesDir := repo(t, releases...)
	ctx := context.Background()
	res, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(res.PackageDir, CatalogFile))
	if err != nil {
		t.Fatal(err)
	}

	// 0.2.0 makes a field required: unsafe for 0.1.x's resources.
	bad := fixture.Release{Version: "0.2.0", Channels: []string{"candidate"}, Edits: []fixture.Edit{fixture.EditSpecSchema(func(spec map[string]any) {
		spec["properties"].(map[string]any)["zone"] = map[string]any{"type": "string"}
		spec["required"] = []any{"size", "zone"}
	})}}
	if _, _, err := fixture.WriteRepo(filepath.Dir(filepath.Dir(template)), append(releases, bad)...); err != nil {
		t.Fatal(err)
	}
	_, err = Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err == nil || !strings.Contains(err.Error(), "new required fields: [zone]") || !strings.Contains(err.Error(), "memcached-operator.v0.2.0") {
		t.Fatalf("render with an unsafe CRD change: err = %v", err)
	}
	after, err := os.ReadFile(filepath.Join(res.PackageDir, CatalogFile))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("a failed render changed the catalog (err %v)", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(template))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".memcached-operator.") {
			t.Errorf("a failed render left %s behind", e.Name())
		}
	}

	// A missing release directory is reported with the others.
	if err := os.RemoveAll(filepath.Join(releasesDir, "0.1.1")); err != nil {
		t.Fatal(err)
	}
	_, err = Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err == nil || !strings.Contains(err.Error(), "releases[1].version: no released bundle directory") {
		t.Errorf("render with a missing release: err = %v", err)
	}
}

func TestRenderRefusesToOverwritePublishedCatalog(t *testing.T) {
	template, releasesDir := repo(t, fixture.ThreeReleases()...)
	for _, opts := range []RenderOptions{
		{Template: template, ReleasesDir: releasesDir, EmbedBundles: true},
		{Template: template, ReleasesDir: releasesDir, MaxVersion: "0.1.0", OutputDir: filepath.Dir(template)},
	} {
		if _, err := Render(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("Render(%+v) err = %v, want a refusal", opts, err)
		}
	}
}

// TestRenderRefusesAForeignPackageDir: --output names a directory whose
// <package>/ is a user's (a clone named after the package, say): the render
// refuses it and leaves it as it was; a previous render's is replaced.
func TestRenderRefusesAForeignPackageDir(t *testing.T) {
	template, releasesDir := repo(t, fixture.ThreeReleases()...)
	out := t.TempDir()
	pkgDir := filepath.Join(out, "memcached-operator")
	if err := os.MkdirAll(filepath.Join(pkgDir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "mine.txt"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := RenderOptions{Template: template, ReleasesDir: releasesDir, OutputDir: out}
	_, err := Render(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "refusing to replace "+pkgDir) {
		t.Errorf("render over a user's directory: err = %v, want a refusal naming it", err)
	}
	if b, err := os.ReadFile(filepath.Join(pkgDir, "mine.txt")); err != nil || string(b) != "precious" {
		t.Errorf("the user's file after the refusal: %q, %v", b, err)
	}
	out = t.TempDir()
	opts.OutputDir = out
	for range 2 { // the second render replaces the first's
		if _, err := Render(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTemplateValidation(t *testing.T) {
	idx := &releaseIndex{path: "releases/index.yaml", Releases: []indexEntry{{Version: "0.1.0", Image: "quay.io/x/y:v0.1.0"}}}
	_, problems := parseTemplate("catalog/template.yaml", []byte(`schema: olm.basic
candidate:
  bundles:
  - image: quay.io/x/y:v0.1.0
  - image: quay.io/x/y:v0.1.0
  - image: quay.io/x/y:v0.9.0
stable:
  bundles:
  - image: ""
`), idx)
	err := problems.Err("template")
	for _, want := range []string{
		`catalog/template.yaml: schema: is "olm.basic", want "olm.semver"`,
		"catalog/template.yaml: candidate.bundles[1].image: quay.io/x/y:v0.1.0 is listed twice",
		"catalog/template.yaml: candidate.bundles[2].image: quay.io/x/y:v0.9.0 is not a release: releases/index.yaml lists no such image",
		"catalog/template.yaml: stable.bundles[0].image: must be set",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("template error does not say %q:\n%v", want, err)
		}
	}
	if _, p := parseTemplate("t.yaml", []byte("schema: olm.semver\nchannelz: []\n"), nil); !strings.Contains(p.Err("t").Error(), "channelz") {
		t.Errorf("unknown field accepted: %v", p.Err("t"))
	}
}

func TestAddToTemplateKeepsComments(t *testing.T) {
	in := []byte(`# Hand-written header.
schema: olm.semver
generateMajorChannels: true
generateMinorChannels: false
candidate:
  bundles:
    # The first release.
    - image: quay.io/x/b:v0.1.0
stable:
  bundles: []
`)
	out, changed, err := addToTemplate(in, "quay.io/x/b:v0.2.0", []string{"candidate", "stable"})
	if err != nil || !changed {
		t.Fatalf("addToTemplate: changed=%v err=%v", changed, err)
	}
	want := `# Hand-written header.
schema: olm.semver
generateMajorChannels: true
generateMinorChannels: false
candidate:
  bundles:
    # The first release.
    - image: quay.io/x/b:v0.1.0
    - image: quay.io/x/b:v0.2.0
stable:
  bundles:
    - image: quay.io/x/b:v0.2.0
`
	if string(out) != want {
		t.Errorf("addToTemplate:\n%s\nwant:\n%s", out, want)
	}
	// The same image again: no change, byte for byte.
	again, changed, err := addToTemplate(out, "quay.io/x/b:v0.2.0", []string{"candidate", "stable"})
	if err != nil || changed || !bytes.Equal(again, out) {
		t.Errorf("same release again: changed=%v err=%v", changed, err)
	}
	// A new template starts from the header.
	fresh, _, err := addToTemplate(nil, "quay.io/x/b:v0.1.0", []string{"candidate"})
	if err != nil || !strings.HasPrefix(string(fresh), "# The catalog template") || !strings.Contains(string(fresh), "candidate:\n  bundles:\n    - image: quay.io/x/b:v0.1.0\n") {
		t.Errorf("new template:\n%s\n%v", fresh, err)
	}
}
