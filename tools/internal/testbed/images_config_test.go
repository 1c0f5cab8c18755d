package testbed

import (
	"archive/tar"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/images"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// TestStandInImages: each stand-in's config (user, entrypoint, command,
// environment, working directory, labels) and the files the pods that run
// it use, as docs/registry-mirrors.md describes them.
func TestStandInImages(t *testing.T) {
	imgs := builtNodeImages(t)
	busybox := func(dir string, applets ...string) map[string]fileWant {
		out := map[string]fileWant{dir + "/busybox": {mode: 0o755}}
		for _, a := range applets {
			out[dir+"/"+a] = fileWant{link: "busybox"}
		}
		return out
	}
	for _, tc := range []struct {
		ref, user, workdir string
		entrypoint, cmd    []string
		env                []string
		files              map[string]fileWant
		passwd             string
		absent             []string
	}{{
		ref: MemcachedImage, user: MemcachedUser, entrypoint: []string{"memcached"}, workdir: "/",
		env:    []string{images.DefaultPath},
		files:  map[string]fileWant{MemcachedPath: {mode: 0o755}, "/tmp": {mode: 0o1777}, "/usr/share/doc/memcached/copyright": {mode: 0o644}},
		passwd: "memcache:x:11211:11211:", absent: []string{"bin/sh", "bin/busybox"},
	}, {
		ref: ExporterImage, user: ExporterUser, entrypoint: []string{ExporterPath},
		env: []string{images.DefaultPath}, files: map[string]fileWant{ExporterPath: {mode: 0o755}},
		passwd: "nobody:x:65534:65534:",
	}, {
		ref: OpmImage, user: OLMUser, entrypoint: []string{images.OpmPath}, env: []string{distrolessDebugPath},
		files: merge(busybox(BusyboxDir, "sh", "cp", "tar"), map[string]fileWant{
			images.OpmPath: {mode: 0o755}, images.HealthProbePath: {mode: 0o755}, images.NsswitchPath: {mode: 0o644}, "/tmp": {mode: 0o1777}}),
		passwd: "nonroot:x:65532:65532:",
	}, {
		ref: OLMUtilImage, user: OLMUser, workdir: "/", env: []string{distrolessDebugPath},
		files: merge(busybox(BusyboxDir, "cp"), map[string]fileWant{CpbPath: {mode: 0o755}, "/bin/cp": {link: BusyboxDir + "/cp"}}),
	}, {
		ref: ScorecardTestImage, user: "1001", entrypoint: []string{ScorecardTestPath}, workdir: ScorecardTestHome,
		env:    []string{images.DefaultPath, "HOME=" + ScorecardTestHome},
		files:  map[string]fileWant{ScorecardTestPath: {mode: 0o755}, ScorecardTestHome: {mode: 0o755}},
		passwd: "scorecard-test:x:1001:0:",
	}, {
		ref: ScorecardUntarImage, user: "1001", cmd: []string{"sh"}, workdir: ScorecardUntarHome,
		env:    []string{images.DefaultPath, "HOME=" + ScorecardUntarHome},
		files:  busybox("/bin", "sh", "tar", "sleep", "gzip"),
		passwd: "scorecard-untar:x:1001:0:",
	}, {
		ref: DecompressionImage, cmd: []string{"/bin/sh"}, env: []string{images.DefaultPath},
		files: busybox("/bin", "sh", "cat", "gzip"), passwd: "root:x:0:0:",
	}} {
		t.Run(tc.ref, func(t *testing.T) {
			img := imgs[tc.ref]
			if img == nil {
				t.Fatalf("no image %s", tc.ref)
			}
			cfg := configOf(t, img)
			if cfg.User != tc.user || cfg.WorkingDir != tc.workdir || !slices.Equal(cfg.Entrypoint, tc.entrypoint) || !slices.Equal(cfg.Cmd, tc.cmd) {
				t.Errorf("user %q, workdir %q, entrypoint %q, cmd %q; want %q, %q, %q, %q",
					cfg.User, cfg.WorkingDir, cfg.Entrypoint, cfg.Cmd, tc.user, tc.workdir, tc.entrypoint, tc.cmd)
			}
			for _, e := range tc.env {
				if !slices.Contains(cfg.Env, e) {
					t.Errorf("env %q lacks %q", cfg.Env, e)
				}
			}
			if d := cfg.Labels[images.LabelDescription]; !strings.Contains(d, "stand-in for "+tc.ref) {
				t.Errorf("description label %q", d)
			}
			files := flatten(t, img)
			checkFiles(t, tc.ref, files, tc.files)
			if !strings.Contains(string(files["etc/passwd"].Data), "\n"+tc.passwd) && !strings.HasPrefix(string(files["etc/passwd"].Data), tc.passwd) {
				t.Errorf("/etc/passwd has no %q:\n%s", tc.passwd, files["etc/passwd"].Data)
			}
			for _, p := range tc.absent {
				if _, ok := files[p]; ok {
					t.Errorf("holds %s", p)
				}
			}
		})
	}
	// One image under two names, as one build serves both.
	for a, b := range map[string]string{OpmLatestImage: OpmImage, ScorecardStorageImage: ScorecardUntarImage} {
		da, _ := imgs[a].Digest()
		db, _ := imgs[b].Digest()
		if da != db {
			t.Errorf("%s is %s, %s is %s: want one image", a, da, b, db)
		}
	}
}

// TestProjectImages: the operator images run the manager as
// `make image-push` builds it; each bundle image holds its directory and is
// labelled with its annotations; the catalog image holds catalog/ and
// shares its opm layer with the opm image, and an older release's catalog
// image the template rendered up to it.
func TestProjectImages(t *testing.T) {
	imgs := builtNodeImages(t)
	root := testRepoRoot(t)
	dirs := map[string]string{}
	versions, _ := filepath.Glob(filepath.Join(root, "releases", "*.*.*"))
	for _, d := range versions {
		dirs[filepath.Base(d)] = d
	}
	dev, _, err := bundleVersionAndOperator(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	dirs[dev] = filepath.Join(root, "bundle")
	for v, dir := range dirs {
		op := imgs["quay.io/example-inc/memcached-operator:v"+v]
		cfg := configOf(t, op)
		if cfg.User != images.NonRootUser || !slices.Equal(cfg.Entrypoint, []string{images.ManagerPath}) || cfg.Labels[images.LabelVersion] != v {
			t.Errorf("operator %s: user %q, entrypoint %q, labels %v", v, cfg.User, cfg.Entrypoint, cfg.Labels)
		}
		checkFiles(t, "operator "+v, flatten(t, op), map[string]fileWant{images.ManagerPath: {mode: 0o755}})
		checkBundleImage(t, v, imgs["quay.io/example-inc/memcached-operator-bundle:v"+v], dir)
	}
	checkCatalogImage(t, imgs["quay.io/example-inc/memcached-operator-catalog:v"+dev], imgs[OpmImage], filepath.Join(root, "catalog"))
	for v := range dirs {
		if v != dev {
			checkReleasedCatalogImage(t, root, v, dev, imgs)
		}
	}
}

// checkReleasedCatalogImage: the catalog image of an older release holds
// the template rendered up to it, which names its bundle and not the one
// under development.
func checkReleasedCatalogImage(t *testing.T, root, v, dev string, imgs map[string]v1.Image) {
	t.Helper()
	want := t.TempDir()
	if _, err := catalog.Render(t.Context(), catalog.RenderOptions{
		Template: filepath.Join(root, catalog.DefaultTemplate), ReleasesDir: filepath.Join(root, catalog.DefaultReleasesDir),
		OutputDir: want, MaxVersion: v,
	}); err != nil {
		t.Fatal(err)
	}
	checkCatalogImage(t, imgs["quay.io/example-inc/memcached-operator-catalog:v"+v], imgs[OpmImage], want)
	fbc, err := os.ReadFile(filepath.Join(want, "memcached-operator", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(fbc), "memcached-operator.v"+v) || strings.Contains(string(fbc), "memcached-operator.v"+dev) {
		t.Errorf("catalog of v%s: want its bundle and not v%s's:\n%s", v, dev, fbc)
	}
}

func checkBundleImage(t *testing.T, version string, img v1.Image, dir string) {
	t.Helper()
	want, err := bundleformat.ReadAnnotations(filepath.Join(dir, filepath.FromSlash(bundleformat.AnnotationsFile)))
	if err != nil {
		t.Fatal(err)
	}
	if got := configOf(t, img).Labels; !maps.Equal(got, want) {
		t.Errorf("bundle %s: labels %v, want the annotations %v", version, got, want)
	}
	unpacked := t.TempDir()
	imagestest.Unpack(t, img, unpacked)
	// The bundle image carries the bundle, not the tools' ownership marker.
	notMarker := func(rel string) bool { return rel == atomicdir.Marker }
	if diff := imagestest.DiffFiles(imagestest.ReadDirFiles(t, dir, notMarker), imagestest.ReadDirFiles(t, unpacked, nil)); len(diff) > 0 {
		t.Errorf("bundle %s: the image differs from %s: %v", version, dir, diff)
	}
}

func checkCatalogImage(t *testing.T, img, opm v1.Image, dir string) {
	t.Helper()
	cfg := configOf(t, img)
	if !slices.Equal(cfg.Entrypoint, []string{images.OpmPath}) || cfg.User != images.CatalogUser || cfg.Labels[images.LabelConfigs] != images.ConfigsDir {
		t.Errorf("catalog: entrypoint %q, user %q, labels %v", cfg.Entrypoint, cfg.User, cfg.Labels)
	}
	unpacked := t.TempDir()
	imagestest.Unpack(t, img, unpacked)
	got := imagestest.ReadDirFiles(t, filepath.Join(unpacked, "configs"), nil)
	if diff := imagestest.DiffFiles(imagestest.ReadDirFiles(t, dir, nil), got); len(diff) > 0 {
		t.Errorf("catalog: /configs differs from %s: %v", dir, diff)
	}
	layers, _ := img.Layers()
	first, _ := layers[0].Digest()
	opmLayers, _ := opm.Layers()
	var shared bool
	for _, l := range opmLayers {
		d, _ := l.Digest()
		shared = shared || d == first
	}
	if !shared {
		t.Errorf("catalog: its opm layer %s is not the opm image's", first)
	}
	if e := flatten(t, img)[strings.TrimPrefix(images.HealthProbePath, "/")]; e.Type != tar.TypeReg || e.Mode != 0o755 {
		t.Errorf("catalog: %s %+v", images.HealthProbePath, e.Type)
	}
}
