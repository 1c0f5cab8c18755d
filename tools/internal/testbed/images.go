package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// NodePlatform is the platform of the real node's images: the host's
// (linux/amd64 on the project's machines), which the Debian packages and
// the programs of `make testbed-image-binaries` are built for.
var NodePlatform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}

// NodeImage is an image the real node pulls. Ref is the upstream reference
// the manifests name (quay.io/..., docker.io/...), unchanged: the node's
// registry mirrors send it to the loopback registry, where Image is pushed
// as 127.0.0.1:PORT/<Ref>.
type NodeImage struct {
	Ref   string
	Image v1.Image
}

// NodeImagesOptions say where the images' inputs and their cache are.
type NodeImagesOptions struct {
	// RepoRoot is the repository: operator/, bundle/, catalog/, releases/
	// and the git history of the releases.
	RepoRoot string
	// BinDir holds the programs of `make testbed-image-binaries`
	// (RepoRoot/bin/testbed-images); the built images are cached under
	// BinDir/layouts, one OCI image layout each.
	BinDir string
	// DebsDir is hack/debs.sh's output (RepoRoot/bin/debs): Debian's
	// memcached with its libraries, and busybox.
	DebsDir string
	// Log, when set, is told which image is built and which is cached.
	Log func(format string, args ...any)
	// Only, when set, limits the images to those pushed under one of these
	// references (an image pushed under several comes with all of them):
	// a scenario that runs memcached alone does not wait for every
	// release's manager to be built. A reference no image has is an error.
	Only []string
}

func (o NodeImagesOptions) withDefaults() NodeImagesOptions {
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.RepoRoot, "bin", "testbed-images")
	}
	if o.DebsDir == "" {
		o.DebsDir = filepath.Join(o.RepoRoot, "bin", "debs")
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o
}

// LayoutsDir is where the built images are cached.
func (o NodeImagesOptions) LayoutsDir() string { return filepath.Join(o.BinDir, "layouts") }

// nodeImage declares one image: the references it is pushed as, the stamp
// of its inputs (equal stamps, equal images) and how it is built.
type nodeImage struct {
	refs  []string
	stamp func(ctx context.Context) (string, error)
	build func(ctx context.Context) (remote.Taggable, error)
}

// NodeImages returns every image the real node's workloads pull, except the
// pause image: the operator and bundle images of every release and of the
// version under development, the catalog image of catalog/ and of each
// older release (releasedCatalogImage), and the stand-ins for the
// images the manifests, OLM and operator-sdk name (docs/registry-mirrors.md
// lists them). Each is built without a container engine, deterministically,
// for NodePlatform, and cached as an OCI image layout under LayoutsDir with
// the stamp of its inputs: a call with unchanged inputs builds nothing.
func NodeImages(ctx context.Context, opts NodeImagesOptions) ([]NodeImage, error) {
	opts = opts.withDefaults()
	unlock, err := lockLayouts(opts.LayoutsDir())
	if err != nil {
		return nil, err
	}
	defer unlock()
	project, err := projectImages(ctx, opts)
	if err != nil {
		return nil, err
	}
	standIns, err := standInImages(opts)
	if err != nil {
		return nil, err
	}
	selected, err := selectImages(append(project, standIns...), opts.Only)
	if err != nil {
		return nil, err
	}
	var out []NodeImage
	for _, d := range selected {
		img, err := d.load(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.refs[0], err)
		}
		for _, ref := range d.refs {
			out = append(out, NodeImage{Ref: ref, Image: img})
		}
	}
	return out, nil
}

// selectImages keeps the declarations pushed under one of refs; all of
// them when refs is empty.
func selectImages(decls []nodeImage, refs []string) ([]nodeImage, error) {
	if len(refs) == 0 {
		return decls, nil
	}
	var out []nodeImage
	found := map[string]bool{}
	for _, d := range decls {
		keep := false
		for _, ref := range d.refs {
			if slices.Contains(refs, ref) {
				found[ref], keep = true, true
			}
		}
		if keep {
			out = append(out, d)
		}
	}
	for _, ref := range refs {
		if !found[ref] {
			return nil, fmt.Errorf("no node image is pushed as %s", ref)
		}
	}
	return out, nil
}

// load returns the cached image when its stamp is unchanged, else builds it.
func (d nodeImage) load(ctx context.Context, opts NodeImagesOptions) (v1.Image, error) {
	stamp, err := d.stamp(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	dir := filepath.Join(opts.LayoutsDir(), LayoutName(d.refs[0]))
	t, built, err := images.Cached(dir, d.refs[0], stamp, func() (remote.Taggable, error) {
		opts.Log("building %s", d.refs[0])
		return d.build(ctx)
	})
	if err != nil {
		return nil, err
	}
	if built {
		opts.Log("built %s in %s", d.refs[0], time.Since(start).Round(time.Millisecond))
	}
	return images.ImageFor(t, NodePlatform)
}

// lockLayouts takes an exclusive lock on the cache for this process, so
// that test packages running at once build each image once: the second
// waits, then finds it cached.
func lockLayouts(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	// Closing the file releases the lock.
	return func() { _ = f.Close() }, nil
}

var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// LayoutName is the directory, under LayoutsDir, of the image first pushed
// as ref: the reference with every '/', ':' and '@' made '_'.
func LayoutName(ref string) string { return unsafeInName.ReplaceAllString(ref, "_") }

// stampOf joins the parts of a stamp, one a line.
func stampOf(parts ...string) string { return strings.Join(parts, "\n") + "\n" }

// dirStamp is the stamp of the parts and of a directory's files, modes and
// names, digested as a layer would hold them (skip leaves paths out, as
// images.CopyOptions.Skip does).
func dirStamp(dir string, skip func(rel string, dir bool) bool, parts ...string) (string, error) {
	t := images.NewTree()
	if err := t.AddDirFrom(dir, "/d", images.CopyOptions{Skip: skip}); err != nil {
		return "", err
	}
	h, err := t.Digest()
	if err != nil {
		return "", err
	}
	return stampOf(append(parts, "files="+h.String())...), nil
}

// fileDigest is the sha256 digest of a file's content.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h, _, err := v1.SHA256(f)
	return h.String(), err
}
