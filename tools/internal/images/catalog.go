package images

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/operator-framework/operator-registry/pkg/cache"
)

// Defaults and fixed paths of the catalog image, as catalog.Dockerfile and
// quay.io/operator-framework/opm:v1.73.0 have them.
const (
	DefaultCatalogDir = "catalog"
	// DefaultOpmDir is where hack/opm-image-binaries.sh writes
	// <os>_<arch>/{opm,grpc_health_probe}.
	DefaultOpmDir = "bin/opm-image"

	ConfigsDir      = "/configs"
	CacheDir        = "/tmp/cache"
	OpmPath         = "/bin/opm"
	HealthProbePath = "/bin/grpc_health_probe"
	NsswitchPath    = "/etc/nsswitch.conf"
	// CatalogUser is the opm image's USER; it owns the serve cache.
	CatalogUser = "1001"
	// LabelConfigs tells OLM and opm where the file-based catalog is.
	LabelConfigs = "operators.operatorframework.io.index.configs.v1"
)

// catalogCacheOwner owns /tmp/cache as in the opm image, where `opm serve
// --cache-only` runs as USER 1001 (group 0, which OpenShift's arbitrary
// UIDs share).
var catalogCacheOwner = Owner{UID: 1001, GID: 0}

// nsswitch is operator-registry's nsswitch.conf, which the opm image carries.
const nsswitch = "hosts: files dns\n"

// CatalogBinaries are the programs of the catalog image for one platform.
type CatalogBinaries struct {
	// Opm serves the catalog; HealthProbe is grpc_health_probe, which
	// OLM's registry pods exec as their readiness and liveness probes.
	Opm, HealthProbe []byte
}

// BinariesFunc returns the catalog image's programs for a platform.
type BinariesFunc func(p v1.Platform) (*CatalogBinaries, error)

// BinariesFromDir reads dir/<os>_<arch>[_<variant>]/{opm,grpc_health_probe}
// (hack/opm-image-binaries.sh).
func BinariesFromDir(dir string) BinariesFunc {
	return func(p v1.Platform) (*CatalogBinaries, error) {
		pd := filepath.Join(dir, platformDir(p))
		var b CatalogBinaries
		var err error
		if b.Opm, err = os.ReadFile(filepath.Join(pd, "opm")); err != nil {
			return nil, fmt.Errorf("no opm for %s in %s (build it with `make opm-image-binaries`, for CATALOG_PLATFORMS): %w", PlatformString(p), pd, err)
		}
		if b.HealthProbe, err = os.ReadFile(filepath.Join(pd, "grpc_health_probe")); err != nil {
			return nil, fmt.Errorf("no grpc_health_probe for %s in %s (build it with `make opm-image-binaries`, for CATALOG_PLATFORMS): %w", PlatformString(p), pd, err)
		}
		return &b, nil
	}
}

// CatalogOptions describe the catalog image.
type CatalogOptions struct {
	// Dir is the file-based catalog (DefaultCatalogDir), copied to /configs.
	Dir string
	// Platforms the index holds an image for.
	Platforms []v1.Platform
	// Binaries gives opm and grpc_health_probe; nil means
	// BinariesFromDir(DefaultOpmDir).
	Binaries BinariesFunc
}

// CatalogImage builds the catalog image as catalog.Dockerfile builds it on
// quay.io/operator-framework/opm: per platform, a layer with opm,
// grpc_health_probe and nsswitch.conf (the parts of the opm image a
// CatalogSource's registry pod uses), and a layer, the same for every
// platform, with the catalog at /configs and opm's serve cache at
// /tmp/cache; entrypoint /bin/opm, command `serve /configs
// --cache-dir=/tmp/cache`, user 1001, label
// operators.operatorframework.io.index.configs.v1=/configs.
//
// The cache is what catalog.Dockerfile's `RUN opm serve ... --cache-only`
// makes, built here by the same code (operator-registry's pkg/cache, the
// version of the image's opm) in its JSON format: plain files, the same for
// every platform and every build, and what `opm serve --cache-dir` (which
// enforces the cache's integrity unless told otherwise) loads without
// rebuilding. The pogreb format opm picks by default is neither portable
// across builds (random hash seed) nor needed.
func CatalogImage(ctx context.Context, opts CatalogOptions) (v1.ImageIndex, error) {
	if opts.Dir == "" {
		opts.Dir = DefaultCatalogDir
	}
	if len(opts.Platforms) == 0 {
		return nil, fmt.Errorf("catalog image: no platform")
	}
	binaries := opts.Binaries
	if binaries == nil {
		binaries = BinariesFromDir(DefaultOpmDir)
	}
	content, err := catalogContent(ctx, opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("catalog image: %w", err)
	}
	cfg := v1.Config{
		User:       CatalogUser,
		Entrypoint: []string{OpmPath},
		Cmd:        []string{"serve", ConfigsDir, "--cache-dir=" + CacheDir},
		Env:        []string{DefaultPath},
		Labels:     map[string]string{LabelConfigs: ConfigsDir},
	}
	var imgs []PlatformImage
	for _, p := range opts.Platforms {
		b, err := binaries(p)
		if err != nil {
			return nil, fmt.Errorf("catalog image: %w", err)
		}
		base, err := OpmLayer(b)
		if err != nil {
			return nil, err
		}
		img, err := NewImage(p, cfg, base,
			LayerSpec{Tree: content, CreatedBy: fmt.Sprintf("COPY %s %s && opm serve %s --cache-dir=%s --cache-only", DefaultCatalogDir, ConfigsDir, ConfigsDir, CacheDir)},
		)
		if err != nil {
			return nil, fmt.Errorf("catalog image for %s: %w", PlatformString(p), err)
		}
		imgs = append(imgs, PlatformImage{Platform: p, Image: img})
	}
	return newIndex(imgs)
}

// OpmLayer is the layer of the opm image that a catalog image uses: opm,
// grpc_health_probe, nsswitch.conf and /tmp. The catalog image and the
// testbed's opm image share it (the same bytes, the same digest), as
// catalog.Dockerfile's image shares it with quay.io/operator-framework/opm.
func OpmLayer(b *CatalogBinaries) (LayerSpec, error) {
	t := NewTree()
	for _, f := range []struct {
		path string
		data []byte
		mode fs.FileMode
	}{
		{OpmPath, b.Opm, 0o755},
		{HealthProbePath, b.HealthProbe, 0o755},
		{NsswitchPath, []byte(nsswitch), 0o644},
	} {
		if err := t.AddFile(f.path, f.data, f.mode, Root); err != nil {
			return LayerSpec{}, err
		}
	}
	if err := t.AddDir("/tmp", 0o777|fs.ModeSticky, Root); err != nil {
		return LayerSpec{}, err
	}
	return LayerSpec{Tree: t, CreatedBy: "COPY opm grpc_health_probe nsswitch.conf # operator-registry v1.73.0, CGO_ENABLED=0"}, nil
}

// catalogContent is the tree of /configs (a copy of dir, as `COPY catalog
// /configs`; leftover staging directories of `tools catalog`, dot-named,
// are left out) and /tmp/cache.
func catalogContent(ctx context.Context, dir string) (*Tree, error) {
	t := NewTree()
	if err := t.AddDir("/tmp", 0o777|fs.ModeSticky, Root); err != nil {
		return nil, err
	}
	copyOpts := CopyOptions{
		FileMode: 0o644, DirMode: 0o755, Owner: Root,
		Skip: func(rel string, dir bool) bool { return dir && strings.HasPrefix(path.Base(rel), ".") },
	}
	if err := t.AddDirFrom(dir, ConfigsDir, copyOpts); err != nil {
		return nil, err
	}

	// The cache is computed from the catalog exactly as the image holds it
	// (opm hashes names, sizes and modes along with the content).
	tmp, err := os.MkdirTemp("", "catalog-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := t.Materialize(tmp); err != nil {
		return nil, err
	}
	configs := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(ConfigsDir, "/")))
	cacheDir := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(CacheDir, "/")))
	if err := BuildServeCache(ctx, configs, cacheDir); err != nil {
		return nil, err
	}
	if err := t.AddDirFrom(cacheDir, CacheDir, CopyOptions{Owner: catalogCacheOwner}); err != nil {
		return nil, err
	}
	return t, nil
}

// BuildServeCache builds opm's serve cache of the catalog configs into
// cacheDir (which must not exist or be empty), in the JSON format, and
// checks it as `opm serve --cache-dir` does at start.
func BuildServeCache(ctx context.Context, configs, cacheDir string) error {
	if entries, err := os.ReadDir(cacheDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("serve cache: %s is not empty", cacheDir)
	}
	c, err := cache.New(cacheDir, cache.WithFormat(cache.FormatJSON))
	if err != nil {
		return fmt.Errorf("serve cache: %w", err)
	}
	defer c.Close()
	if err := c.Build(ctx, os.DirFS(configs)); err != nil {
		return fmt.Errorf("serve cache of %s: %w", configs, err)
	}
	return CheckServeCache(ctx, configs, cacheDir)
}

// CheckServeCache does what `opm serve CONFIGS --cache-dir=CACHE` does
// before it serves: check that the cache is the one of the catalog, and
// load it.
func CheckServeCache(ctx context.Context, configs, cacheDir string) error {
	c, err := cache.New(cacheDir)
	if err != nil {
		return fmt.Errorf("serve cache %s: %w", cacheDir, err)
	}
	defer c.Close()
	if err := c.CheckIntegrity(ctx, os.DirFS(configs)); err != nil {
		return fmt.Errorf("serve cache %s of %s: %w", cacheDir, configs, err)
	}
	if err := c.Load(ctx); err != nil {
		return fmt.Errorf("serve cache %s: load: %w", cacheDir, err)
	}
	return nil
}

// Materialize writes the tree under root with its modes (not its owners);
// links are written as they are (an absolute target points into the host).
func (t *Tree) Materialize(root string) error {
	for _, p := range t.Paths() {
		isDir := strings.HasSuffix(p, "/")
		name := strings.TrimSuffix(p, "/")
		e := t.entries[name]
		target := filepath.Join(root, filepath.FromSlash(name))
		switch {
		case isDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case e.link != "":
			if err := os.Symlink(e.link, target); err != nil {
				return err
			}
			continue
		default:
			if err := os.WriteFile(target, e.data, 0o600); err != nil {
				return err
			}
		}
		if err := os.Chmod(target, e.mode); err != nil {
			return err
		}
	}
	return nil
}
