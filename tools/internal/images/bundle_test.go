package images

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"
	"github.com/operator-framework/operator-registry/pkg/image"
	"github.com/operator-framework/operator-registry/pkg/registry"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// renderedBundle is a bundle directory read as `opm render` reads a bundle
// (image or directory): operator-registry's parser, then the objects and
// properties of its olm.bundle.
type renderedBundle struct {
	Name, Package string
	Channels      []string
	Objects       []string
	Properties    []property.Property
}

func renderBundleDir(t *testing.T, ref, dir string) renderedBundle {
	t.Helper()
	in, err := registry.NewImageInput(image.SimpleReference(ref), dir)
	if err != nil {
		t.Fatalf("read bundle %s: %v", dir, err)
	}
	objs, props, err := registry.ObjectsAndPropertiesFromBundle(in.Bundle)
	if err != nil {
		t.Fatalf("bundle %s: %v", dir, err)
	}
	return renderedBundle{Name: in.Bundle.Name, Package: in.Bundle.Package, Channels: in.Bundle.Channels, Objects: objs, Properties: props}
}

func TestBundleImage(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t)
	bundleDir := snapshot(t, bundleformat.DefaultDir, bundleformat.DefaultDockerfile)
	dockerfile := filepath.Join(filepath.Dir(bundleDir), bundleformat.DefaultDockerfile)
	img, err := BundleImage(BundleOptions{Dir: bundleDir, Dockerfile: dockerfile})
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/memcached-operator-bundle:v0.1.0"
	pushed, err := Push(ctx, anonymous, ref, img)
	if err != nil {
		t.Fatal(err)
	}

	desc, err := imagestest.Pull(ctx, anonymous, ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Fatalf("bundle image is a %s, want an OCI manifest", desc.MediaType)
	}
	pulled, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}

	// Labels: the annotations, as bundle.Dockerfile's LABELs.
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	annotations, err := bundleformat.ReadAnnotations(filepath.Join(bundleDir, bundleformat.AnnotationsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Labels, annotations) {
		t.Errorf("labels %v, want the annotations %v", cf.Config.Labels, annotations)
	}
	dfData, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	dfLabels := map[string]string{}
	for _, ins := range bundleformat.ParseDockerfile(dfData) {
		if ins.Cmd == "LABEL" {
			l, err := bundleformat.ParseLabels(ins.Args)
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(dfLabels, l)
		}
	}
	if !reflect.DeepEqual(cf.Config.Labels, dfLabels) {
		t.Errorf("labels %v, want bundle.Dockerfile's %v", cf.Config.Labels, dfLabels)
	}
	if len(cf.Config.Entrypoint) != 0 || len(cf.Config.Cmd) != 0 || cf.Config.User != "" {
		t.Errorf("a bundle image runs nothing: entrypoint %q cmd %q user %q", cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User)
	}

	// One layer: exactly manifests/, metadata/, tests/scorecard/ of bundle/.
	layers, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	entries, order := layerEntries(t, layers[0])
	if !slices.IsSorted(order) {
		t.Errorf("layer entries are not sorted: %v", order)
	}
	// Not the marker of atomicdir: bundle.Dockerfile copies the three
	// directories only.
	wantFiles := readDirFiles(t, bundleDir, func(rel string) bool { return rel == atomicdir.Marker })
	gotFiles := map[string][]byte{}
	for name, e := range entries {
		if strings.HasSuffix(name, "/") {
			if e.Mode != 0o755 || e.UID != 0 || e.GID != 0 {
				t.Errorf("%s: mode %o owner %d:%d", name, e.Mode, e.UID, e.GID)
			}
			continue
		}
		if e.Mode != 0o644 || e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: mode %o owner %d:%d", name, e.Mode, e.UID, e.GID)
		}
		gotFiles[name] = e.Data
	}
	if diff := diffFiles(wantFiles, gotFiles); len(diff) > 0 {
		t.Errorf("the layer is not bundle/: %v", diff)
	}
	for _, d := range []string{"manifests/", "metadata/", "tests/", "tests/scorecard/"} {
		if _, ok := entries[d]; !ok {
			t.Errorf("no directory %s in the layer", d)
		}
	}

	// Rendered as opm renders a bundle image: the same objects and
	// properties as the directory.
	unpacked := t.TempDir()
	unpack(t, pulled, unpacked)
	fromImage := renderBundleDir(t, ref, unpacked)
	fromDir := renderBundleDir(t, "", bundleDir)
	if !reflect.DeepEqual(fromImage, fromDir) {
		a, _ := json.MarshalIndent(fromImage, "", " ")
		b, _ := json.MarshalIndent(fromDir, "", " ")
		t.Errorf("the pushed bundle renders differently from bundle/:\nimage: %.2000s\ndir: %.2000s", a, b)
	}
	if len(fromDir.Objects) == 0 || len(fromDir.Properties) == 0 {
		t.Errorf("nothing rendered: %+v", fromDir)
	}

	// Deterministic: another build, from a copy with other times and modes,
	// has the same digest.
	cp := filepath.Join(t.TempDir(), "bundle")
	copyTree(t, bundleDir, cp)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	_ = filepath.Walk(cp, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			_ = os.Chmod(p, 0o600)
			_ = os.Chtimes(p, old, old)
		}
		return err
	})
	img2, err := BundleImage(BundleOptions{Dir: cp})
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := img2.Digest(); d2 != pushed.Digest {
		t.Errorf("rebuilt bundle image %s, first %s", d2, pushed.Digest)
	}

	// And with opm itself, when it was built (make olm-binaries).
	t.Run("opm render", func(t *testing.T) { opmRenderBundle(t, ref, bundleDir) })
}

// opmRenderBundle renders the pushed bundle image and bundle/ with the opm
// binary (what `make olm-binaries` builds) and compares the olm.bundle blobs.
func opmRenderBundle(t *testing.T, ref, bundleDir string) {
	opm := hostOpm(t)
	render := func(args ...string) declcfg.Bundle {
		out := opm.render(t, args...)
		var b declcfg.Bundle
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("opm render %v: %v", args, err)
		}
		return b
	}
	fromImage := render(ref, "--use-http")
	fromDir := render(bundleDir)
	if fromImage.Image != ref {
		t.Errorf("image %q, want %q", fromImage.Image, ref)
	}
	// The image's olm.bundle has the image, and lists it among the related
	// images; everything else is the directory's.
	fromImage.Image = ""
	fromImage.RelatedImages = slices.DeleteFunc(fromImage.RelatedImages, func(r declcfg.RelatedImage) bool { return r.Image == ref })
	if !reflect.DeepEqual(fromImage, fromDir) {
		a, _ := json.MarshalIndent(fromImage, "", " ")
		b, _ := json.MarshalIndent(fromDir, "", " ")
		t.Errorf("opm renders the image and bundle/ differently:\nimage: %.3000s\ndir:   %.3000s", a, b)
	}
	if !slices.ContainsFunc(fromImage.Properties, func(p property.Property) bool { return p.Type == property.TypeBundleObject }) {
		t.Error("opm render of the image has no olm.bundle.object")
	}
}

func TestBundleDockerfileMismatch(t *testing.T) {
	bundleDir := snapshot(t, bundleformat.DefaultDir, bundleformat.DefaultDockerfile)
	dir := filepath.Dir(bundleDir)
	df := filepath.Join(dir, "bundle.Dockerfile")
	data, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}

	// As written by the generator: accepted.
	if err := os.WriteFile(df, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BundleImage(BundleOptions{Dir: filepath.Join(dir, "bundle"), Dockerfile: df}); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"label": func(s string) string {
			return strings.Replace(s, "channels.v1=candidate", "channels.v1=stable", 1)
		},
		"copy": func(s string) string {
			return strings.Replace(s, "COPY bundle/tests/scorecard /tests/scorecard/\n", "", 1)
		},
	} {
		if err := os.WriteFile(df, []byte(edit(string(data))), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := BundleImage(BundleOptions{Dir: filepath.Join(dir, "bundle"), Dockerfile: df})
		if err == nil || !strings.Contains(err.Error(), "make bundle") {
			t.Errorf("%s: want a mismatch error, got %v", name, err)
		}
	}
}

// opmBinary runs the host's opm (make olm-binaries) with a containers
// policy that accepts the test registry's images.
type opmBinary struct{ path, home string }

func hostOpm(t *testing.T) opmBinary {
	t.Helper()
	opm, err := filepath.Abs(filepath.Join(repoRoot, "bin", "olm", "opm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(opm); err != nil {
		t.Skipf("no %s (make olm-binaries)", opm)
	}
	home := t.TempDir()
	policy := filepath.Join(home, ".config", "containers", "policy.json")
	if err := os.MkdirAll(filepath.Dir(policy), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return opmBinary{path: opm, home: home}
}

// render runs `opm render -o json ARGS...` and returns its output.
func (o opmBinary) render(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(o.path, append([]string{"render", "-o", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+o.home, "TMPDIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("opm render %v: %v\n%s", args, err, stderr)
	}
	return out
}
