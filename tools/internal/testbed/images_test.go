package testbed

import (
	"archive/tar"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/images"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// The node images are built (or read from bin/testbed-images/layouts) once
// per test binary: the inputs are this repository's bin/debs (make debs) and
// bin/testbed-images (make testbed-image-binaries).
var (
	nodeImagesOnce  sync.Once
	nodeImagesByRef map[string]v1.Image
	nodeImagesRefs  []string
	nodeImagesErr   error
)

func testRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func builtNodeImages(t *testing.T) map[string]v1.Image {
	t.Helper()
	root := testRepoRoot(t)
	nodeImagesOnce.Do(func() {
		var list []NodeImage
		list, nodeImagesErr = NodeImages(context.Background(), NodeImagesOptions{RepoRoot: root, Log: t.Logf})
		nodeImagesByRef = map[string]v1.Image{}
		for _, ni := range list {
			nodeImagesRefs = append(nodeImagesRefs, ni.Ref)
			nodeImagesByRef[ni.Ref] = ni.Image
		}
	})
	if nodeImagesErr != nil {
		t.Fatalf("NodeImages (run `make debs testbed-image-binaries` first): %v", nodeImagesErr)
	}
	return nodeImagesByRef
}

// TestNodeImagesList: one image per reference, for the node's platform: the
// operator and bundle image of every release and of the version under
// development, the catalog image of catalog/ and of each older release,
// and the stand-ins.
func TestNodeImagesList(t *testing.T) {
	imgs := builtNodeImages(t)
	root := testRepoRoot(t)
	releases, err := catalog.LoadReleases(filepath.Join(root, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	dev, _, err := bundleVersionAndOperator(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{MemcachedImage, ExporterImage, OpmImage, OpmLatestImage, OLMUtilImage, ScorecardTestImage,
		ScorecardUntarImage, ScorecardStorageImage, DecompressionImage, "quay.io/example-inc/memcached-operator-catalog:v" + dev}
	for _, v := range append(releaseVersions(releases), dev) {
		want = append(want, "quay.io/example-inc/memcached-operator:v"+v, "quay.io/example-inc/memcached-operator-bundle:v"+v)
		if v != dev {
			want = append(want, "quay.io/example-inc/memcached-operator-catalog:v"+v)
		}
	}
	// A released development version (bundle/ = releases/<VERSION>) is
	// built once, from its release.
	want = slices.Compact(slices.Sorted(slices.Values(want)))
	if got := slices.Sorted(maps.Keys(imgs)); !slices.Equal(got, want) {
		t.Errorf("refs\n%v\nwant\n%v", got, want)
	}
	if len(nodeImagesRefs) != len(imgs) {
		t.Errorf("%d images for %d references: a reference is listed twice", len(nodeImagesRefs), len(imgs))
	}
	for ref, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != NodePlatform.OS || cf.Architecture != NodePlatform.Architecture {
			t.Errorf("%s: platform %s/%s, want %s", ref, cf.OS, cf.Architecture, images.PlatformString(NodePlatform))
		}
		if mt, _ := img.MediaType(); mt != images.ManifestMediaType {
			t.Errorf("%s: media type %s", ref, mt)
		}
	}
}

func releaseVersions(rs []catalog.Released) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Version)
	}
	return out
}

// TestNodeImagesCoverWhatIsPulled: every image a bundle's CSV (released or
// under development) runs or relates, its scorecard configuration names,
// and OLM's catalog operator is told to use, is a node image.
func TestNodeImagesCoverWhatIsPulled(t *testing.T) {
	imgs := builtNodeImages(t)
	root := testRepoRoot(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "releases", "*", "manifests"))
	dirs = append(dirs, filepath.Join(root, "bundle", "manifests"))
	named := map[string]string{}
	for _, dir := range dirs {
		bundleDir := filepath.Dir(dir)
		for _, ref := range csvImages(t, dir) {
			named[ref] = dir
		}
		for _, ref := range scorecardImages(t, filepath.Join(bundleDir, filepath.FromSlash(bundleformat.ScorecardFile))) {
			named[ref] = bundleDir + "/" + bundleformat.ScorecardFile
		}
	}
	for _, spec := range olmOperators("/bin", "kubeconfig", nil) {
		for _, a := range spec.Args {
			if k, ref, ok := strings.Cut(a, "Image="); ok && !strings.Contains(k, "configmapServer") {
				named[ref] = "StartOLM " + k
			}
			if ref, ok := strings.CutPrefix(a, "--util-image="); ok {
				named[ref] = "StartOLM --util-image"
			}
		}
	}
	if len(named) < 5 {
		t.Fatalf("found only %v", named)
	}
	for ref, where := range named {
		if imgs[ref] == nil {
			t.Errorf("%s (named by %s) is not a node image", ref, where)
		}
	}
}

func csvImages(t *testing.T, manifests string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(manifests, "*.clusterserviceversion.yaml"))
	if len(files) != 1 {
		t.Fatalf("%s: %d CSVs", manifests, len(files))
	}
	var csv struct {
		Spec struct {
			RelatedImages []struct {
				Image string `json:"image"`
			} `json:"relatedImages"`
			Install struct {
				Spec struct {
					Deployments []struct {
						Spec struct {
							Template struct {
								Spec struct {
									Containers []struct {
										Image string   `json:"image"`
										Env   []envVar `json:"env"`
									} `json:"containers"`
								} `json:"spec"`
							} `json:"template"`
						} `json:"spec"`
					} `json:"deployments"`
				} `json:"spec"`
			} `json:"install"`
		} `json:"spec"`
	}
	readYAML(t, files[0], &csv)
	var out []string
	for _, r := range csv.Spec.RelatedImages {
		out = append(out, r.Image)
	}
	for _, d := range csv.Spec.Install.Spec.Deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			out = append(out, c.Image)
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "RELATED_IMAGE_") {
					out = append(out, e.Value)
				}
			}
		}
	}
	return out
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func scorecardImages(t *testing.T, file string) []string {
	t.Helper()
	var cfg struct {
		Stages []struct {
			Tests []struct {
				Image string `json:"image"`
			} `json:"tests"`
		} `json:"stages"`
	}
	readYAML(t, file, &cfg)
	var out []string
	for _, s := range cfg.Stages {
		for _, tc := range s.Tests {
			out = append(out, tc.Image)
		}
	}
	return out
}

func readYAML(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestNodeImagesStamp: a second call with unchanged inputs builds nothing
// and returns the same images.
func TestNodeImagesStamp(t *testing.T) {
	first := builtNodeImages(t)
	var built []string
	again, err := NodeImages(context.Background(), NodeImagesOptions{
		RepoRoot: testRepoRoot(t),
		Log: func(format string, args ...any) {
			if strings.HasPrefix(format, "building") {
				built = append(built, args[0].(string))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(built) > 0 {
		t.Errorf("unchanged inputs rebuilt %v", built)
	}
	for _, ni := range again {
		d1, _ := first[ni.Ref].Digest()
		d2, _ := ni.Image.Digest()
		if d1 != d2 {
			t.Errorf("%s: %s, then %s", ni.Ref, d1, d2)
		}
	}
}

// TestStandInStamps: a stand-in's stamp changes with its files and its
// config, and only then.
func TestStandInStamps(t *testing.T) {
	ctx := context.Background()
	program := filepath.Join(t.TempDir(), "memcached_exporter")
	stamp := func(s standIn) string {
		t.Helper()
		got, err := s.nodeImage().stamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	write := func(content string) {
		if err := os.WriteFile(program, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("v1")
	a := stamp(exporterStandIn(program))
	if b := stamp(exporterStandIn(program)); a != b {
		t.Errorf("the same inputs give two stamps:\n%s\n%s", a, b)
	}
	write("v2")
	if b := stamp(exporterStandIn(program)); a == b {
		t.Error("another program gives the same stamp")
	}
	write("v1")
	s := exporterStandIn(program)
	s.config.User = "0"
	if b := stamp(s); a == b {
		t.Error("another user gives the same stamp")
	}

	bundle := filepath.Join(t.TempDir(), "bundle")
	imagestest.CopyTree(t, filepath.Join(testRepoRoot(t), "bundle"), bundle)
	before, err := bundleImage("x/y:v1", bundle, "").stamp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "manifests", "extra.yaml"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if after, _ := bundleImage("x/y:v1", bundle, "").stamp(ctx); after == before {
		t.Error("a bundle with another file gives the same stamp")
	}
}

// flatten is an image's file system: the entries of its layers by path
// (without a trailing slash), later layers over earlier ones.
func flatten(t *testing.T, img v1.Image) map[string]imagestest.Entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]imagestest.Entry{}
	for _, l := range layers {
		entries, _ := imagestest.LayerEntries(t, l)
		for name, e := range entries {
			out[strings.TrimSuffix(name, "/")] = e
		}
	}
	return out
}

func configOf(t *testing.T, img v1.Image) v1.Config {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.Config
}

// fileWant is what an image must hold at a path: a regular file of mode
// (0 any), or a link to target.
type fileWant struct {
	mode int64
	link string
}

func checkFiles(t *testing.T, ref string, files map[string]imagestest.Entry, want map[string]fileWant) {
	t.Helper()
	for p, w := range want {
		e, ok := files[strings.TrimPrefix(p, "/")]
		switch {
		case !ok:
			t.Errorf("%s: no %s", ref, p)
		case w.link != "" && (e.Type != tar.TypeSymlink || e.Linkname != w.link):
			t.Errorf("%s: %s is %q -> %q, want a link to %q", ref, p, e.Type, e.Linkname, w.link)
		case w.link == "" && w.mode != 0 && e.Mode != w.mode:
			t.Errorf("%s: %s mode %o, want %o", ref, p, e.Mode, w.mode)
		}
	}
}
