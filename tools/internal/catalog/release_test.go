package catalog

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
)

// snapshot reads every file under root but the bundle directory.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "bundle" && filepath.Dir(path) == root {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameSnapshot(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRelease(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bundle := filepath.Join(root, "bundle")
	opts := ReleaseOptions{
		Version:     "0.1.0",
		BundleDir:   bundle,
		Image:       fixture.Image("0.1.0"),
		Template:    filepath.Join(root, "catalog", "template.yaml"),
		ReleasesDir: filepath.Join(root, "releases"),
	}
	if err := fixture.WriteBundle(bundle, "0.1.0"); err != nil {
		t.Fatal(err)
	}

	// The first release starts the template and the index; the archetype
	// comes from the bundle's channels annotation (candidate).
	res, err := Release(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ReleaseChanged || !res.TemplateChanged || !res.CatalogChanged {
		t.Errorf("first release: %+v", res)
	}
	tmpl, err := LoadTemplate(opts.Template)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Releases) != 1 || tmpl.Releases[0].Image != opts.Image || strings.Join(tmpl.Releases[0].Channels, ",") != "candidate" {
		t.Errorf("template after the first release: %+v", tmpl)
	}
	if src, _ := readTree(bundle); diffTrees(src, mustReadTree(t, filepath.Join(opts.ReleasesDir, "0.1.0"))) != nil {
		t.Error("releases/0.1.0 is not a copy of the bundle")
	}
	if _, err := os.Stat(filepath.Join(root, "catalog", IndexIgnore)); err != nil {
		t.Errorf("no .indexignore beside the template: %v", err)
	}
	if err := ValidateDir(ctx, filepath.Join(root, "catalog"), opts.ReleasesDir); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)

	// The same release again is a no-op.
	res, err = Release(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.ReleaseChanged || res.TemplateChanged || res.CatalogChanged || !sameSnapshot(before, snapshot(t, root)) {
		t.Errorf("re-release changed something: %+v", res)
	}

	// Different content for a released version is refused, and nothing changes.
	if err := fixture.WriteBundle(bundle, "0.1.0", fixture.SetExamples(`[]`)); err != nil {
		t.Fatal(err)
	}
	_, err = Release(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "immutable") || !strings.Contains(err.Error(), "~manifests/memcached-operator.clusterserviceversion.yaml") {
		t.Errorf("re-release with other content: err = %v", err)
	}
	// So is another image.
	other := opts
	other.Image += "-rebuilt"
	if err := fixture.WriteBundle(bundle, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := Release(ctx, other); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("re-release with another image: err = %v", err)
	}
	if !sameSnapshot(before, snapshot(t, root)) {
		t.Error("a refused release changed files")
	}

	// A bundle of another version than --version is refused.
	v2 := opts
	v2.Version = "0.2.0"
	v2.Image = fixture.Image("0.2.0")
	if _, err := Release(ctx, v2); err == nil || !strings.Contains(err.Error(), "is version 0.1.0") {
		t.Errorf("release of a 0.1.0 bundle as 0.2.0: err = %v", err)
	}

	// 0.2.0 with an unsafe CRD change fails validation: nothing is written.
	if err := fixture.WriteBundle(bundle, "0.2.0", fixture.EditSpecSchema(func(spec map[string]any) {
		spec["properties"].(map[string]any)["size"].(map[string]any)["minimum"] = int64(4)
	})); err != nil {
		t.Fatal(err)
	}
	_, err = Release(ctx, v2)
	if err == nil || !strings.Contains(err.Error(), "spec.size") || !strings.Contains(err.Error(), "memcached-operator.v0.2.0") {
		t.Errorf("unsafe release: err = %v", err)
	}
	if !sameSnapshot(before, snapshot(t, root)) {
		t.Error("a failed release changed files")
	}

	// A good 0.2.0 in candidate and stable: stable-v0 becomes the default
	// channel, as the semver template computes it.
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	if err := fixture.WriteBundle(bundle, "0.2.0"); err != nil {
		t.Fatal(err)
	}
	v2.Channels = []string{"candidate", "stable"}
	v2.DefaultChannel = "candidate-v0"
	if _, err := Release(ctx, v2); err == nil || !strings.Contains(err.Error(), "makes stable-v0 the default channel") {
		t.Errorf("a default channel the template does not compute: err = %v", err)
	}
	v2.DefaultChannel = "stable-v0"
	// 0.2.0 published under 0.1.0's image: refused, nothing written, even
	// with --force (the index and the catalog name one release per image).
	for _, force := range []bool{false, true} {
		same := v2
		same.Image, same.Force = fixture.Image("0.1.0"), force
		if _, err := Release(ctx, same); err == nil || !strings.Contains(err.Error(), "already the image of release 0.1.0") {
			t.Errorf("0.2.0 as 0.1.0's image (force %v): err = %v", force, err)
		}
		if !sameSnapshot(before, snapshot(t, root)) {
			t.Errorf("a release refused for its image changed files (force %v)", force)
		}
	}
	// A dry run checks and writes nothing.
	dry := v2
	dry.DryRun = true
	if res, err := Release(ctx, dry); err != nil || !res.ReleaseChanged || !sameSnapshot(before, snapshot(t, root)) {
		t.Errorf("dry run: %+v, %v; files changed: %v", res, err, !sameSnapshot(before, snapshot(t, root)))
	}
	res, err = Release(ctx, v2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Bundles, " ") != "memcached-operator.v0.1.0 memcached-operator.v0.2.0" {
		t.Errorf("bundles after 0.2.0: %v", res.Bundles)
	}
	tmpl, err = LoadTemplate(opts.Template)
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.Releases) != 2 || strings.Join(tmpl.Releases[1].Channels, ",") != "candidate,stable" {
		t.Errorf("template after 0.2.0: %+v", tmpl)
	}
	if _, err := Render(ctx, RenderOptions{Template: opts.Template, ReleasesDir: opts.ReleasesDir, Check: true}); err != nil {
		t.Errorf("catalog after release is not a fresh render: %v", err)
	}

	// Another archetype than candidate, fast and stable is refused.
	bad := v2
	bad.Channels = []string{"alpha"}
	if _, err := Release(ctx, bad); err == nil || !strings.Contains(err.Error(), `--channels: "alpha" is not an archetype`) {
		t.Errorf("release into alpha: err = %v", err)
	}

	// --force replaces a release.
	if err := fixture.WriteBundle(bundle, "0.2.0", fixture.SetExamples(`[]`)); err != nil {
		t.Fatal(err)
	}
	v2.Force = true
	res, err = Release(ctx, v2)
	if err != nil || !res.ReleaseChanged || res.TemplateChanged {
		t.Errorf("forced re-release: %+v, %v", res, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "*", ".*"))
	for _, l := range leftovers {
		if filepath.Base(l) != IndexIgnore {
			t.Errorf("left behind: %s", l)
		}
	}
}

func mustReadTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files, err := readTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestValidateBundle checks bundle/ as the next release against the
// released ones, writing nothing (`tools catalog validate --bundle-dir`,
// run by make verify).
func TestValidateBundle(t *testing.T) {
	ctx := context.Background()
	template, releasesDir := repo(t, fixture.Release{Version: "0.1.0", Channels: []string{"stable"}})
	if _, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releasesDir}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(template))
	bundle := filepath.Join(root, "bundle")
	before := snapshot(t, root)

	// The released version, same content: valid.
	if err := fixture.WriteBundle(bundle, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := ValidateBundle(ctx, bundle, template, releasesDir); err != nil {
		t.Errorf("the released bundle: %v", err)
	}
	// The released version, other content: released versions are immutable.
	if err := fixture.WriteBundle(bundle, "0.1.0", fixture.SetExamples(`[]`)); err != nil {
		t.Fatal(err)
	}
	expectErr(t, ValidateBundle(ctx, bundle, template, releasesDir), "immutable")
	// The next version with an unsafe CRD change.
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	if err := fixture.WriteBundle(bundle, "0.2.0", fixture.SetSpecFieldType("image", "integer")); err != nil {
		t.Fatal(err)
	}
	expectErr(t, ValidateBundle(ctx, bundle, template, releasesDir), `CRD memcacheds.cache.example.com v1 spec.image: type: type changed : "string" -> "integer"`)
	// A safe next version.
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	if err := fixture.WriteBundle(bundle, "0.2.0"); err != nil {
		t.Fatal(err)
	}
	if err := ValidateBundle(ctx, bundle, template, releasesDir); err != nil {
		t.Errorf("a safe next release: %v", err)
	}
	if !sameSnapshot(before, snapshot(t, root)) {
		t.Error("ValidateBundle wrote files")
	}
}

// TestReleaseRefusesWhatAReleaseCannotKeep: a version written otherwise
// than bundle generate takes it, and a bundle image that is not fully
// qualified or not pinned (no tag, latest), are refused before anything is
// written.
func TestReleaseRefusesWhatAReleaseCannotKeep(t *testing.T) {
	root := t.TempDir()
	bundle := filepath.Join(root, "bundle")
	if err := fixture.WriteBundle(bundle, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ version, image, want string }{
		{"v0.1.0", fixture.Image("0.1.0"), "--version: \"v0.1.0\": give the version without the leading v"},
		{"0.1.0+b1", fixture.Image("0.1.0"), "has build metadata"},
		{"0.1.0", "memcached-operator-bundle:v0.1.0", "names no registry"},
		{"0.1.0", "example-inc/memcached-operator-bundle:v0.1.0", "names no registry"},
		{"0.1.0", "quay.io/example-inc/memcached-operator-bundle", "names no tag or digest"},
		{"0.1.0", "quay.io/example-inc/memcached-operator-bundle:latest", "latest is a moving tag"},
	} {
		_, err := Release(context.Background(), ReleaseOptions{
			Version: c.version, BundleDir: bundle, Image: c.image,
			Template: filepath.Join(root, "catalog", "template.yaml"), ReleasesDir: filepath.Join(root, "releases"),
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("release %s as %s: %v, want an error containing %q", c.version, c.image, err, c.want)
		}
	}
	for _, dir := range []string{"catalog", "releases"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			t.Errorf("a refused release created %s", dir)
		}
	}
}
