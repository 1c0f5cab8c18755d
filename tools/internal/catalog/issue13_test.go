package catalog

// The inputs of issue 13 that the catalog side answers, each as a small
// fixture with the right answer and a message that names the file and the
// field.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
)

// expectErr fails unless err holds every fragment.
func expectErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want an error with %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not say %q:\n%v", f, err)
		}
	}
}

// renderedRepo renders releases into a repository and returns the
// published catalog directory and the releases directory.
func renderedRepo(t *testing.T, releases ...fixture.Release) (catalogDir, releasesDir string) {
	t.Helper()
	template, releasesDir := repo(t, releases...)
	if _, err := Render(context.Background(), RenderOptions{Template: template, ReleasesDir: releasesDir}); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(template), releasesDir
}

// editCatalog loads catalog.yaml of the package, edits it and writes it back.
func editCatalog(t *testing.T, catalogDir string, edit func(cfg *declcfg.DeclarativeConfig)) {
	t.Helper()
	path := filepath.Join(catalogDir, "memcached-operator", CatalogFile)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := declcfg.LoadReader(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := declcfg.WriteYAML(*cfg, out); err != nil {
		t.Fatal(err)
	}
}

// Input 1: a release keeps v1 (served: false, storage: false) and adds v2.
func TestIssue13RetireCRDVersionIsAccepted(t *testing.T) {
	catalogDir, releasesDir := renderedRepo(t,
		fixture.Release{Version: "0.1.0", Channels: []string{"stable"}},
		fixture.Release{Version: "0.2.0", Channels: []string{"stable"}, Edits: []fixture.Edit{fixture.RetireV1}})
	if err := ValidateDir(context.Background(), catalogDir, releasesDir); err != nil {
		t.Fatal(err)
	}
}

// Input 2: spec.image changes from string to integer.
func TestIssue13TypeChangeIsRefused(t *testing.T) {
	template, releasesDir := repo(t,
		fixture.Release{Version: "0.1.0", Channels: []string{"stable"}},
		fixture.Release{Version: "0.2.0", Channels: []string{"stable"}, Edits: []fixture.Edit{fixture.SetSpecFieldType("image", "integer")}})
	_, err := Render(context.Background(), RenderOptions{Template: template, ReleasesDir: releasesDir})
	expectErr(t, err, filepath.Join(filepath.Dir(template), "memcached-operator", CatalogFile)+`, package "memcached-operator", bundle "memcached-operator.v0.2.0": CRD memcacheds.cache.example.com v1 spec.image: type: type changed : "string" -> "integer"`)
}

// Input 3: olm.maxOpenShiftVersion "4.x" in the bundle's properties:
// refused by release before anything is written, and by validate.
func TestIssue13MaxOpenShiftVersionIsRefused(t *testing.T) {
	root := t.TempDir()
	bundle := filepath.Join(root, "bundle")
	if err := fixture.WriteBundle(bundle, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	props := "properties:\n- type: olm.maxOpenShiftVersion\n  value: 4.x\n"
	if err := os.WriteFile(filepath.Join(bundle, "metadata", "properties.yaml"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	_, err := Release(context.Background(), ReleaseOptions{Version: "0.1.0", BundleDir: bundle, Image: fixture.Image("0.1.0"),
		Template: filepath.Join(root, "catalog", "template.yaml"), ReleasesDir: filepath.Join(root, "releases")})
	expectErr(t, err, filepath.Join(bundle, "metadata", "properties.yaml")+`, package "memcached-operator", bundle "memcached-operator.v0.1.0": properties[`,
		`] olm.maxOpenShiftVersion: "4.x" is not a version`)
	if !sameSnapshot(before, snapshot(t, root)) {
		t.Error("a refused release wrote files")
	}

	catalogDir, releasesDir := renderedRepo(t, fixture.Release{Version: "0.1.0", Channels: []string{"stable"}})
	editCatalog(t, catalogDir, func(cfg *declcfg.DeclarativeConfig) {
		cfg.Bundles[0].Properties = append(cfg.Bundles[0].Properties, property.Property{Type: MaxOpenShiftVersionProperty, Value: json.RawMessage(`"4.x"`)})
	})
	expectErr(t, ValidateDir(context.Background(), catalogDir, releasesDir),
		filepath.Join(catalogDir, "memcached-operator", CatalogFile)+`, package "memcached-operator", bundle "memcached-operator.v0.1.0": properties[`,
		`olm.maxOpenShiftVersion: "4.x" is not a version`)
}

// Input 6: the oldest release was pruned (olm.bundle and channel entry
// removed) while the next one still replaces it.
func TestIssue13PrunedOldestReleaseIsAccepted(t *testing.T) {
	catalogDir, releasesDir := renderedRepo(t,
		fixture.Release{Version: "0.1.0", Channels: []string{"stable"}},
		fixture.Release{Version: "0.1.1", Channels: []string{"stable"}},
		fixture.Release{Version: "0.2.0", Channels: []string{"stable"}})
	pruned := "memcached-operator.v0.1.0"
	editCatalog(t, catalogDir, func(cfg *declcfg.DeclarativeConfig) {
		var bundles []declcfg.Bundle
		for _, b := range cfg.Bundles {
			if b.Name != pruned {
				bundles = append(bundles, b)
			}
		}
		cfg.Bundles = bundles
		ch := &cfg.Channels[0]
		ch.Entries = ch.Entries[1:]
		ch.Entries[0].Replaces = pruned // 0.1.1 replaces the pruned release
	})
	if err := ValidateDir(context.Background(), catalogDir, releasesDir); err != nil {
		t.Fatal(err)
	}
}

// Input 7: olm.package defaultChannel names a channel that does not exist.
func TestIssue13MissingDefaultChannelIsNamed(t *testing.T) {
	catalogDir, releasesDir := renderedRepo(t, fixture.Release{Version: "0.1.0", Channels: []string{"candidate"}})
	editCatalog(t, catalogDir, func(cfg *declcfg.DeclarativeConfig) { cfg.Packages[0].DefaultChannel = "stable" })
	err := ValidateDir(context.Background(), catalogDir, releasesDir)
	expectErr(t, err, filepath.Join(catalogDir, "memcached-operator", CatalogFile)+`, package "memcached-operator": defaultChannel: "stable" is not a channel of the package (its channels: candidate-v0)`)
	if strings.Contains(err.Error(), "channel must contain at least one bundle") {
		t.Errorf("opm's message that does not name defaultChannel is left in:\n%v", err)
	}
}

// Input 8: an olm.deprecations blob with four faults, all reported at once.
func TestIssue13DeprecationsReportEveryFault(t *testing.T) {
	template, releasesDir := repo(t, fixture.Release{Version: "0.1.0", Channels: []string{"stable"}})
	if err := fixture.WriteDeprecations(template, `schema: olm.deprecations
package: memcached-operator
entries:
  - reference: {schema: olm.bundle, name: memcached-operator.v9.9.9}
    message: gone
  - reference: {schema: olm.channel, name: alpha}
    message: gone
  - reference: {schema: olm.bundel, name: memcached-operator.v0.1.0}
    message: typo
  - reference: {schema: olm.bundle, name: memcached-operator.v0.1.0}
    message: ""
`); err != nil {
		t.Fatal(err)
	}
	_, err := Render(context.Background(), RenderOptions{Template: template, ReleasesDir: releasesDir})
	file := filepath.Join(filepath.Dir(template), "memcached-operator", DeprecationsFile) + `, package "memcached-operator": olm.deprecations[0].entries`
	expectErr(t, err, "4 problems",
		file+`[0].reference.name: bundle "memcached-operator.v9.9.9" is not in package "memcached-operator"`,
		file+`[1].reference.name: channel "alpha" is not in package "memcached-operator"`,
		file+`[2].reference.schema: "olm.bundel" is not olm.bundle, olm.channel or olm.package`,
		file+`[3].message: must say why`)
}

// TestDeprecationsOfAnotherSchemaAreRefused: opm would skip the whole blob
// of a mistyped schema, and every deprecation with it.
func TestDeprecationsOfAnotherSchemaAreRefused(t *testing.T) {
	template, releasesDir := repo(t, fixture.Release{Version: "0.1.0", Channels: []string{"stable"}})
	if err := fixture.WriteDeprecations(template, `schema: olm.deprecation
package: memcached-operator
entries:
  - reference: {schema: olm.bundle, name: memcached-operator.v0.1.0}
    message: gone
`); err != nil {
		t.Fatal(err)
	}
	_, err := Render(context.Background(), RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err == nil || !strings.Contains(err.Error(), DeprecationsFile+`: schema: "olm.deprecation", want "olm.deprecations"`) {
		t.Errorf("render with a mistyped deprecations schema: %v", err)
	}
}

// A valid deprecation is rendered beside the catalog; a catalog cut below
// the deprecated bundle leaves its entry out.
func TestDeprecationsAreRendered(t *testing.T) {
	template, releasesDir := repo(t, fixture.ThreeReleases()...)
	if err := fixture.WriteDeprecations(template, `schema: olm.deprecations
package: memcached-operator
entries:
  - reference: {schema: olm.bundle, name: memcached-operator.v0.1.1}
    message: 0.1.1 is deprecated, use 0.2.0
`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(res.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Deprecations) != 1 || len(cfg.Deprecations[0].Entries) != 1 || cfg.Deprecations[0].Entries[0].Message != "0.1.1 is deprecated, use 0.2.0" {
		t.Errorf("deprecations = %+v", cfg.Deprecations)
	}
	out := filepath.Join(t.TempDir(), "old")
	if _, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir, OutputDir: out, MaxVersion: "0.1.0", EmbedBundles: true}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "memcached-operator", DeprecationsFile))
	if err != nil || strings.Contains(string(data), "v0.1.1") {
		t.Errorf("cut at 0.1.0: deprecations %q, %v", data, err)
	}
}
