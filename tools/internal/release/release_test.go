package release

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bundle"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// fakeRegistryResolver pins every image by a digest made from its name:
// the operand images (docker.io/library/memcached) cannot be resolved
// offline.
type fakeRegistryResolver struct {
	mu    sync.Mutex
	asked []string
}

func (r *fakeRegistryResolver) Resolve(_ context.Context, image string) (string, error) {
	r.mu.Lock()
	r.asked = append(r.asked, image)
	r.mu.Unlock()
	repo, err := imageref.Repository(image)
	return repo + "@" + fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(image))), err
}

// releaseRepo is a copy of the repository's release inputs (config/,
// catalog/, releases/) in a temporary directory, and the next version to
// release in it.
func releaseRepo(t *testing.T) (root, version string) {
	t.Helper()
	root = t.TempDir()
	for _, d := range []string{"config", images.DefaultCatalogDir, catalog.DefaultReleasesDir} {
		imagestest.CopyTree(t, filepath.Join(repoRoot, d), filepath.Join(root, d))
	}
	tmpl, err := catalog.LoadTemplate(filepath.Join(root, catalog.DefaultTemplate))
	if err != nil {
		t.Fatal(err)
	}
	next := semver.MustParse("0.0.0")
	for _, r := range tmpl.Releases {
		if v := semver.MustParse(r.Version); v.GTE(next) {
			next = v
		}
	}
	next.Minor++
	next.Patch = 0
	next.Pre = nil
	return root, next.String()
}

func releaseOptions(root, host, version string, digests bool, resolver bundle.DigestResolver) Options {
	platforms, _ := images.ParsePlatforms(images.DefaultPlatforms)
	return Options{
		Version:         version,
		OperatorImage:   host + "/memcached-operator:v" + version,
		BundleImage:     host + "/memcached-operator-bundle:v" + version,
		CatalogImage:    host + "/memcached-operator-catalog:v" + version,
		UseImageDigests: digests,
		Operator:        images.OperatorOptions{Platforms: platforms, Build: imagestest.FakeBuild},
		Bundle: bundle.Options{
			ConfigDir:  filepath.Join(root, "config"),
			OutputDir:  filepath.Join(root, "bundle"),
			Dockerfile: filepath.Join(root, "bundle.Dockerfile"),
			// The versions `make release` passes (KUBE_VERSIONS), as a list.
			KubeVersions: []string{"v1.25.15", "v1.30.14", "v1.37.2"},
		},
		Catalog: catalog.ReleaseOptions{
			Template:    filepath.Join(root, catalog.DefaultTemplate),
			ReleasesDir: filepath.Join(root, catalog.DefaultReleasesDir),
		},
		CatalogPlatforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
		Binaries:         fakeBinaries,
		Resolver:         resolver,
		Registry:         imagestest.Anonymous,
	}
}

// TestReleaseWithDigests runs `make release USE_IMAGE_DIGESTS=true` on a
// copy of the repository against a loopback registry: the CSV pins the
// pushed operator image, the catalog the pushed bundle image, and running
// it again pushes the same digests and changes nothing.
func TestReleaseWithDigests(t *testing.T) {
	ctx := context.Background()
	host := imagestest.StartRegistry(t)
	root, version := releaseRepo(t)
	resolver := &fakeRegistryResolver{}
	opts := releaseOptions(root, host, version, true, resolver)
	opts.Log = t.Logf

	start := time.Now()
	res, err := Release(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("release %s in %s", version, time.Since(start).Round(time.Millisecond))

	// What the registry holds is what the release reports.
	for ref, want := range map[string]v1.Hash{
		opts.OperatorImage: res.Operator.Digest,
		opts.BundleImage:   res.Bundle.Digest,
		opts.CatalogImage:  res.Catalog.Digest,
	} {
		got, err := imagestest.Anonymous.Digest(ctx, ref)
		if err != nil || got != want {
			t.Errorf("%s: registry %s (%v), release %s", ref, got, err, want)
		}
	}

	// The CSV: the operator image pinned by the pushed digest, everywhere;
	// the operand pinned by its registry's; no tag left.
	csvFile := filepath.Join(root, "bundle", "manifests", "memcached-operator.clusterserviceversion.yaml")
	csv, err := os.ReadFile(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	pinnedOp := host + "/memcached-operator@" + res.Operator.Digest.String()
	if res.Operator.Pinned() != pinnedOp {
		t.Errorf("pinned operator image %s, want %s", res.Operator.Pinned(), pinnedOp)
	}
	// The deployment's image, containerImage, relatedImages.
	if n := strings.Count(string(csv), pinnedOp); n < 3 {
		t.Errorf("the CSV names %s %d times, want at least 3 (deployment, containerImage, relatedImages)", pinnedOp, n)
	}
	if strings.Contains(string(csv), opts.OperatorImage) {
		t.Errorf("the CSV still names the tag %s", opts.OperatorImage)
	}
	if !strings.Contains(string(csv), "docker.io/library/memcached@sha256:") {
		t.Error("the operand image is not pinned by digest")
	}
	for _, img := range resolver.asked {
		if img == opts.OperatorImage {
			t.Errorf("the operator image was resolved through the registry resolver, not from the build")
		}
	}

	// The bundle image is the generated bundle.
	desc, err := imagestest.Pull(ctx, imagestest.Anonymous, opts.BundleImage)
	if err != nil {
		t.Fatal(err)
	}
	bimg, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	unpacked := t.TempDir()
	imagestest.Unpack(t, bimg, unpacked)
	notMarker := func(rel string) bool { return rel == atomicdir.Marker }
	if diff := imagestest.DiffFiles(imagestest.ReadDirFiles(t, filepath.Join(root, "bundle"), notMarker), imagestest.ReadDirFiles(t, unpacked, nil)); len(diff) > 0 {
		t.Errorf("the bundle image is not bundle/: %v", diff)
	}

	// The catalog: the release, with the bundle image by digest.
	pinnedBundle := host + "/memcached-operator-bundle@" + res.Bundle.Digest.String()
	if res.BundleImageRef != pinnedBundle {
		t.Errorf("catalog bundle image %s, want %s", res.BundleImageRef, pinnedBundle)
	}
	tmpl, err := catalog.LoadTemplate(opts.Catalog.Template)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range tmpl.Releases {
		if r.Version == version {
			found = true
			if r.Image != pinnedBundle {
				t.Errorf("template: release %s image %s, want %s", version, r.Image, pinnedBundle)
			}
		}
	}
	if !found {
		t.Errorf("template has no release %s", version)
	}
	rendered, err := os.ReadFile(filepath.Join(root, images.DefaultCatalogDir, "memcached-operator", catalog.CatalogFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rendered), "image: "+pinnedBundle) {
		t.Errorf("the rendered catalog does not reference %s", pinnedBundle)
	}
	if _, err := os.Stat(filepath.Join(root, catalog.DefaultReleasesDir, version)); err != nil {
		t.Errorf("releases/%s: %v", version, err)
	}

	// The catalog image holds the catalog as released.
	desc, err = imagestest.Pull(ctx, imagestest.Anonymous, opts.CatalogImage)
	if err != nil {
		t.Fatal(err)
	}
	cidx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := cidx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	cimg, err := cidx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cdir := t.TempDir()
	imagestest.Unpack(t, cimg, cdir)
	if diff := imagestest.DiffFiles(imagestest.ReadDirFiles(t, filepath.Join(root, images.DefaultCatalogDir), nil), imagestest.ReadDirFiles(t, filepath.Join(cdir, "configs"), nil)); len(diff) > 0 {
		t.Errorf("the catalog image's /configs is not catalog/: %v", diff)
	}
	if err := images.CheckServeCache(ctx, filepath.Join(cdir, "configs"), filepath.Join(cdir, "tmp", "cache")); err != nil {
		t.Error(err)
	}

	// Again: the same digests, nothing changes on disk.
	before := snapshotFiles(t, root)
	start = time.Now()
	res2, err := Release(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("release %s again in %s", version, time.Since(start).Round(time.Millisecond))
	if res2.Operator != res.Operator || res2.Bundle != res.Bundle || res2.Catalog != res.Catalog {
		t.Errorf("re-release pushed other digests:\nfirst  %+v %+v %+v\nsecond %+v %+v %+v",
			res.Operator, res.Bundle, res.Catalog, res2.Operator, res2.Bundle, res2.Catalog)
	}
	if r := res2.CatalogRelease; r.ReleaseChanged || r.TemplateChanged || r.CatalogChanged {
		t.Errorf("re-release changed the catalog: %+v", r)
	}
	if after := snapshotFiles(t, root); !reflect.DeepEqual(before, after) {
		t.Errorf("re-release changed files: %v", imagestest.DiffFiles(before, after))
	}
}

// TestReleaseWithTags: without digests, the CSV names IMG and the catalog
// BUNDLE_IMG as given, and nothing asks a registry for a digest.
func TestReleaseWithTags(t *testing.T) {
	ctx := context.Background()
	host := imagestest.StartRegistry(t)
	root, version := releaseRepo(t)
	resolver := &fakeRegistryResolver{}
	opts := releaseOptions(root, host, version, false, resolver)
	res, err := Release(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(resolver.asked) > 0 {
		t.Errorf("resolved %v without --use-image-digests", resolver.asked)
	}
	csv, err := os.ReadFile(filepath.Join(root, "bundle", "manifests", "memcached-operator.clusterserviceversion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(csv), "image: "+opts.OperatorImage) || strings.Contains(string(csv), "@sha256:") {
		t.Errorf("the CSV does not name %s by tag only", opts.OperatorImage)
	}
	if res.BundleImageRef != opts.BundleImage {
		t.Errorf("catalog bundle image %s, want %s", res.BundleImageRef, opts.BundleImage)
	}

	// A released version is immutable: the same version with another
	// bundle image reference is refused by the catalog release.
	opts.BundleImage = host + "/other-bundle:v" + version
	if _, err := Release(ctx, opts); err == nil || !strings.Contains(err.Error(), "already released") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("re-release with another bundle image: want the already-released error, got %v", err)
	}
}

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

func fakeBinaries(p v1.Platform) (*images.CatalogBinaries, error) {
	return &images.CatalogBinaries{Opm: imagestest.FakeBinary("opm", p), HealthProbe: imagestest.FakeBinary("grpc_health_probe", p)}, nil
}

// snapshotFiles reads every file under root.
func snapshotFiles(t *testing.T, root string) map[string][]byte {
	return imagestest.ReadDirFiles(t, root, nil)
}

// registryDigests asks the registry for the digest of each reference; a
// missing one is the zero hash.
func registryDigests(t *testing.T, refs ...string) map[string]v1.Hash {
	t.Helper()
	out := map[string]v1.Hash{}
	for _, ref := range refs {
		d, err := imagestest.Anonymous.Digest(context.Background(), ref)
		if err != nil && !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") && !strings.Contains(err.Error(), "404") {
			t.Fatalf("%s: %v", ref, err)
		}
		out[ref] = d
	}
	return out
}

// releasedFiles reads what a release must never change: releases/ and
// catalog/ (bundle/ is regenerated before the checks, as make bundle does).
func releasedFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := imagestest.ReadDirFiles(t, filepath.Join(root, catalog.DefaultReleasesDir), nil)
	for p, data := range imagestest.ReadDirFiles(t, filepath.Join(root, images.DefaultCatalogDir), nil) {
		files["catalog/"+p] = data
	}
	return files
}

var alreadyReleased = regexp.MustCompile(`is already released as .* needs --force|already holds a different release`)

// TestReleasedVersionIsNotRepublished releases a version, then releases it
// again from changed code: the release is refused before anything is
// pushed, so IMG, BUNDLE_IMG and CATALOG_IMG keep the released images;
// with --force the catalog would accept it, but no published tag moves.
func TestReleasedVersionIsNotRepublished(t *testing.T) {
	ctx := context.Background()
	host := imagestest.StartRegistry(t)
	root, version := releaseRepo(t)
	opts := releaseOptions(root, host, version, true, &fakeRegistryResolver{})
	if _, err := Release(ctx, opts); err != nil {
		t.Fatal(err)
	}
	tags := []string{opts.OperatorImage, opts.BundleImage, opts.CatalogImage}
	published, files := registryDigests(t, tags...), releasedFiles(t, root)

	// Changed code: another operator image, so another CSV (pinned by
	// digest) and another bundle image.
	opts.Operator.Labels = map[string]string{"org.opencontainers.image.revision": "changed"}
	for _, force := range []bool{false, true} {
		opts.Catalog.Force = force
		_, err := Release(ctx, opts)
		if err == nil || !strings.Contains(err.Error(), "nothing was pushed") {
			t.Errorf("force=%t: re-release of %s with changed code: %v, want a refusal before any push", force, version, err)
		}
		// The catalog refuses the release for its other bundle image (by
		// digest) or its other content, whichever it compares first.
		if !force && (err == nil || !alreadyReleased.MatchString(err.Error())) {
			t.Errorf("want the already-released refusal, got %v", err)
		}
		if force && (err == nil || !errors.Is(err, images.ErrTagTaken)) {
			t.Errorf("force: want the tags refused (they name the released images), got %v", err)
		}
		if got := registryDigests(t, tags...); !reflect.DeepEqual(got, published) {
			t.Errorf("force=%t: the registry changed:\nwas %v\nnow %v", force, published, got)
		}
		if diff := imagestest.DiffFiles(files, releasedFiles(t, root)); len(diff) > 0 {
			t.Errorf("force=%t: releases/ or catalog/ changed: %v", force, diff)
		}
	}
}

// TestReleaseRefusesTakenTags: a new version whose bundle tag already names
// another image (pushed by someone else) is refused before anything is
// pushed or released.
func TestReleaseRefusesTakenTags(t *testing.T) {
	ctx := context.Background()
	host := imagestest.StartRegistry(t)
	root, version := releaseRepo(t)
	opts := releaseOptions(root, host, version, false, &fakeRegistryResolver{})
	other, err := images.BundleImage(images.BundleOptions{Dir: filepath.Join(root, catalog.DefaultReleasesDir, "0.3.1")})
	if err != nil {
		t.Fatal(err)
	}
	squatter, err := images.Push(ctx, imagestest.Anonymous, opts.BundleImage, other)
	if err != nil {
		t.Fatal(err)
	}
	files := releasedFiles(t, root)

	_, err = Release(ctx, opts)
	if !errors.Is(err, images.ErrTagTaken) || !strings.Contains(err.Error(), "nothing was pushed") || !strings.Contains(err.Error(), opts.BundleImage) {
		t.Fatalf("release over a taken bundle tag: %v, want the tag refused before any push", err)
	}
	got := registryDigests(t, opts.OperatorImage, opts.BundleImage, opts.CatalogImage)
	if want := map[string]v1.Hash{opts.BundleImage: squatter.Digest, opts.OperatorImage: {}, opts.CatalogImage: {}}; !reflect.DeepEqual(got, want) {
		t.Errorf("registry after the refusal: %v, want %v", got, want)
	}
	if diff := imagestest.DiffFiles(files, releasedFiles(t, root)); len(diff) > 0 {
		t.Errorf("releases/ or catalog/ changed: %v", diff)
	}
}
