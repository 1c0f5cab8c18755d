package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

// run runs the tools command with args and returns its error and output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// victims are the paths a mistyped output flag must not destroy: a user's
// directory with content, and a released bundle (in a copy of releases/).
type victims struct {
	// link is a symbolic link to the released bundle, outside releases/.
	foreign, released, releases, link string
	before                            map[string][]byte
}

func newVictims(t *testing.T) *victims {
	root := t.TempDir()
	v := &victims{foreign: filepath.Join(root, "home"), releases: filepath.Join(root, "releases")}
	if err := os.MkdirAll(v.foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.foreign, "thesis.tex"), []byte("years of work"), 0o644); err != nil {
		t.Fatal(err)
	}
	imagestest.CopyTree(t, filepath.Join(repoRoot, "releases"), v.releases)
	v.released = filepath.Join(v.releases, "0.3.1")
	v.link = filepath.Join(root, "link")
	if err := os.Symlink(v.released, v.link); err != nil {
		t.Fatal(err)
	}
	v.before = imagestest.ReadDirFiles(t, root, nil)
	t.Cleanup(func() {
		if diff := imagestest.DiffFiles(v.before, imagestest.ReadDirFiles(t, root, nil)); len(diff) > 0 {
			t.Errorf("a refused command changed files: %v", diff)
		}
	})
	return v
}

// refused runs args with flag set to each victim and expects a refusal
// naming the flag and the path, and no change (checked at cleanup).
func (v *victims) refused(t *testing.T, flag string, args ...string) {
	t.Helper()
	for _, c := range []struct{ path, why string }{
		{v.foreign, "was not created by the tools"},
		{v.released, "inside the releases directory"},
		{v.releases, "inside the releases directory"},
		{filepath.Join(v.link, "sub"), "inside the releases directory"},
	} {
		out, err := run(t, append(args, flag, c.path)...)
		if err == nil || !strings.Contains(err.Error(), flag+" "+c.path) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s %s: %v, want a refusal naming the flag and %q\n%s", flag, c.path, err, c.why, out)
		}
	}
}

// TestBundleGenerateOutputDir: `bundle generate --output-dir` replaces a
// bundle directory the tools generated, never a user's directory nor a
// released bundle.
func TestBundleGenerateOutputDir(t *testing.T) {
	v := newVictims(t)
	dir := t.TempDir()
	args := []string{"bundle", "generate", "--version", "0.9.0", "--image", "quay.io/example-inc/memcached-operator:v0.9.0", "--kube-versions", "v1.25.15 v1.37.2",
		"--config-dir", filepath.Join(repoRoot, "config"), "--dockerfile", filepath.Join(dir, "bundle.Dockerfile")}
	v.refused(t, "--output-dir", args...)

	// Released bundles are safe from --dockerfile too.
	dockerfile := filepath.Join(v.released, "bundle.Dockerfile")
	if _, err := run(t, "bundle", "generate", "--version", "0.9.0", "--image", "quay.io/example-inc/memcached-operator:v0.9.0",
		"--output-dir", filepath.Join(dir, "bundle"), "--dockerfile", dockerfile); err == nil || !strings.Contains(err.Error(), "--dockerfile "+dockerfile) {
		t.Errorf("--dockerfile inside releases/: %v, want a refusal", err)
	}

	// A file that is not a bundle Dockerfile (the operator's Dockerfile, a
	// README) is refused and left as it was.
	user := filepath.Join(dir, "README.md")
	if err := os.WriteFile(user, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	userArgs := slices.Clone(args)
	userArgs[len(userArgs)-1] = user
	if _, err := run(t, append(userArgs, "--output-dir", filepath.Join(dir, "other"))...); err == nil || !strings.Contains(err.Error(), "is not a bundle Dockerfile") {
		t.Errorf("--dockerfile naming a README: %v, want a refusal", err)
	}
	if data, err := os.ReadFile(user); err != nil || string(data) != "# mine\n" {
		t.Errorf("the refused --dockerfile changed: %q, %v", data, err)
	}

	out := filepath.Join(dir, "bundle")
	for i := range 2 { // created, then replaced
		if msg, err := run(t, append(args, "--output-dir", out)...); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, msg)
		}
		if _, err := os.Stat(filepath.Join(out, atomicdir.Marker)); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// TestImagesOCILayout: `images operator|bundle|catalog --oci-layout`
// replaces a layout the tools wrote, never a user's directory nor a
// released bundle. The refusal comes before anything is built.
func TestImagesOCILayout(t *testing.T) {
	v := newVictims(t)
	v.refused(t, "--oci-layout", "images", "operator", "--image", "localhost:5000/memcached-operator:v0.9.0")
	v.refused(t, "--oci-layout", "images", "catalog", "--image", "localhost:5000/memcached-operator-catalog:v0.9.0")
	bundleArgs := []string{"images", "bundle", "--image", "localhost:5000/memcached-operator-bundle:v0.9.0",
		"--dir", filepath.Join(repoRoot, "bundle"), "--dockerfile", filepath.Join(repoRoot, "bundle.Dockerfile")}
	v.refused(t, "--oci-layout", bundleArgs...)

	layout := filepath.Join(t.TempDir(), "bundle-image")
	for i := range 2 {
		if msg, err := run(t, append(bundleArgs, "--oci-layout", layout)...); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, msg)
		}
		if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
			t.Fatalf("run %d: no OCI layout: %v", i, err)
		}
	}
}

// TestDemoOLMWorkDir: `demo-olm --work-dir` empties only a work directory
// the tools created; it refuses before it starts anything.
func TestDemoOLMWorkDir(t *testing.T) {
	v := newVictims(t)
	v.refused(t, "--work-dir", "demo-olm", "--bin-dir", "/nonexistent", "--olm-bin-dir", "/nonexistent")
}

// TestCatalogRenderOutput: `catalog render --output` never writes inside
// releases/.
func TestCatalogRenderOutput(t *testing.T) {
	v := newVictims(t)
	for _, p := range []string{v.releases, v.released} {
		if _, err := run(t, "catalog", "render", "--output", p); err == nil || !strings.Contains(err.Error(), "inside the releases directory") {
			t.Errorf("--output %s: %v, want a refusal", p, err)
		}
	}
}

// TestCatalogReleaseValidatesTheBundle: a bundle `bundle validate` refuses
// (here its CSV lost spec.displayName) cannot be released, even as a dry
// run, and `catalog validate --bundle-dir` says why too.
func TestCatalogReleaseValidatesTheBundle(t *testing.T) {
	dir := t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	imagestest.CopyTree(t, filepath.Join(repoRoot, "bundle"), bundleDir)
	df, err := os.ReadFile(filepath.Join(repoRoot, "bundle.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bundle.Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(bundleDir, "manifests", "memcached-operator.clusterserviceversion.yaml")
	data, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "  displayName: Memcached Operator\n", "", 1)
	if edited == string(data) {
		t.Fatal("the CSV has no spec.displayName line to remove")
	}
	if err := os.WriteFile(csv, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"catalog", "release", "--dry-run", "--version", "0.9.0", "--bundle-dir", bundleDir, "--image", "quay.io/example-inc/memcached-operator-bundle:v0.9.0"},
		{"catalog", "validate", "--dir", filepath.Join(repoRoot, "catalog"), "--releases-dir", filepath.Join(repoRoot, "releases"), "--bundle-dir", bundleDir},
	} {
		out, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "spec.displayName") {
			t.Errorf("%s: %v, want the bundle refused for spec.displayName\n%s", strings.Join(args[:2], " "), err, out)
		}
	}
}
