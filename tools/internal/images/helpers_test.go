package images

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sirupsen/logrus"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

func init() {
	// operator-registry's bundle parser logs at info level.
	logrus.SetLevel(logrus.WarnLevel)
}

// The helpers images' and release's tests share.
var (
	startRegistry     = imagestest.StartRegistry
	startAuthRegistry = imagestest.StartAuthRegistry
	anonymous         = imagestest.Anonymous
	fakeBuild         = imagestest.FakeBuild
	layerEntries      = imagestest.LayerEntries
	unpack            = imagestest.Unpack
	readDirFiles      = imagestest.ReadDirFiles
	diffFiles         = imagestest.DiffFiles
	copyTree          = imagestest.CopyTree
)

func fakeBinaries(p v1.Platform) (*CatalogBinaries, error) {
	return &CatalogBinaries{Opm: imagestest.FakeBinary("opm", p), HealthProbe: imagestest.FakeBinary("grpc_health_probe", p)}, nil
}

// hostPlatform is the platform binaries of this machine run on.
var hostPlatform = v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}

// realOrFakeBinaries uses the binaries of hack/opm-image-binaries.sh for
// the host platform when they were built (bin/opm-image), fakes otherwise.
func realOrFakeBinaries(t *testing.T) (BinariesFunc, bool) {
	dir := filepath.Join(repoRoot, DefaultOpmDir)
	real := BinariesFromDir(dir)
	if _, err := real(hostPlatform); err != nil {
		t.Logf("no opm binaries for %s in %s (make opm-image-binaries): the catalog image gets fake ones", PlatformString(hostPlatform), dir)
		return fakeBinaries, false
	}
	return func(p v1.Platform) (*CatalogBinaries, error) {
		if p.OS == hostPlatform.OS && p.Architecture == hostPlatform.Architecture && p.Variant == "" {
			return real(p)
		}
		return fakeBinaries(p)
	}, true
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := imageref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// snapshot copies a directory (and, when given, files beside it) of the
// repository to a temporary directory, so that a test reads one version of
// it while bundle/ or catalog/ are regenerated: it returns the copy's path
// (dir's base name under a temporary directory).
func snapshot(t *testing.T, dir string, files ...string) string {
	t.Helper()
	root := t.TempDir()
	dst := filepath.Join(root, filepath.Base(dir))
	copyTree(t, filepath.Join(repoRoot, dir), dst)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
