package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// The references of the stand-ins: what the bundles' CSVs (the operand and
// its exporter), OLM's flags (StartOLM), the scorecard configuration and
// operator-sdk's defaults name. The scorecard untar and storage images are
// the exception: operator-sdk pins its defaults by upstream digests that no
// image built here can have, so `operator-sdk scorecard` is given these
// with --untar-image and --storage-image.
const (
	MemcachedImage        = "docker.io/library/memcached:1.6.38-alpine"
	ExporterImage         = "quay.io/prometheus/memcached-exporter:v0.15.3"
	OpmImage              = "quay.io/operator-framework/opm:v1.73.0"
	OpmLatestImage        = "quay.io/operator-framework/opm:latest"
	OLMUtilImage          = "quay.io/operator-framework/olm:v0.46.0"
	ScorecardTestImage    = "quay.io/operator-framework/scorecard-test:v1.42.2"
	ScorecardUntarImage   = "quay.io/operator-framework/scorecard-untar:v1.42.2"
	ScorecardStorageImage = "quay.io/operator-framework/scorecard-storage:v1.42.2"
	DecompressionImage    = "registry.access.redhat.com/ubi9/ubi:9.7"
)

// Paths and users of the stand-ins, as their upstream images have them.
const (
	MemcachedPath      = "/usr/bin/memcached"
	MemcachedUser      = "11211:11211"
	ExporterPath       = "/bin/memcached_exporter"
	ExporterUser       = "65534:65534"
	CpbPath            = "/bin/cpb"
	ScorecardTestPath  = "/usr/local/bin/scorecard-test"
	ScorecardTestHome  = "/opt/scorecard-test"
	ScorecardUntarHome = "/opt/scorecard-untar"
	// OLMUser is the user of the opm and OLM images.
	OLMUser = "1001"
	// BusyboxDir is where distroless' debug images, the base of the opm
	// and OLM images, keep busybox and its applets (on their PATH).
	BusyboxDir = "/busybox"
)

// distrolessDebugPath is the PATH of gcr.io/distroless/static:debug.
const distrolessDebugPath = images.DefaultPath + ":" + BusyboxDir

// standIn is a stand-in image declared as data: its config and its layers,
// made of files of this machine (hack/debs.sh's tree, the programs of
// `make testbed-image-binaries`).
type standIn struct {
	refs   []string
	config v1.Config
	layers func() ([]images.LayerSpec, error)
}

// nodeImage stamps a stand-in with the digests of its layers' content and
// its config, so any change to a file or to the declaration rebuilds it.
func (s standIn) nodeImage() nodeImage {
	var layers []images.LayerSpec
	return nodeImage{
		refs: s.refs,
		stamp: func(context.Context) (string, error) {
			var err error
			if layers, err = s.layers(); err != nil {
				return "", err
			}
			cfg, err := json.Marshal(s.config)
			if err != nil {
				return "", err
			}
			parts := []string{"stand-in/1", images.PlatformString(NodePlatform), "config=" + string(cfg)}
			for _, l := range layers {
				d, err := l.Tree.Digest()
				if err != nil {
					return "", err
				}
				parts = append(parts, "layer="+d.String()+" "+l.CreatedBy)
			}
			return stampOf(parts...), nil
		},
		build: func(context.Context) (remote.Taggable, error) {
			return images.NewImage(NodePlatform, s.config, layers...)
		},
	}
}

// standInImages declares the stand-ins, in docs/registry-mirrors.md's order.
func standInImages(opts NodeImagesOptions) ([]nodeImage, error) {
	debs, err := readDebs(opts.DebsDir)
	if err != nil {
		return nil, err
	}
	bin := func(name string) string { return filepath.Join(opts.BinDir, name) }
	var out []nodeImage
	for _, s := range []standIn{
		memcachedStandIn(debs),
		exporterStandIn(bin("memcached_exporter")),
		opmStandIn(debs, bin("opm"), bin("grpc_health_probe")),
		olmUtilStandIn(debs, bin("cpb")),
		scorecardTestStandIn(bin("scorecard-test")),
		scorecardUntarStandIn(debs),
		decompressionStandIn(debs),
	} {
		out = append(out, s.nodeImage())
	}
	return out, nil
}

func memcachedStandIn(debs debs) standIn {
	return standIn{
		refs: []string{MemcachedImage},
		config: v1.Config{
			User:         MemcachedUser,
			Entrypoint:   []string{"memcached"},
			Env:          []string{images.DefaultPath},
			WorkingDir:   "/",
			ExposedPorts: map[string]struct{}{"11211/tcp": {}},
			Labels:       standInLabels(MemcachedImage, "Debian's memcached "+debs.versions["memcached"]+" and the libraries it links"),
		},
		layers: func() ([]images.LayerSpec, error) {
			t, err := debs.programTree(MemcachedPath, "busybox-static")
			if err != nil {
				return nil, err
			}
			if err := addAccounts(t, account{"memcache", 11211, 11211, "/home/memcache"}); err != nil {
				return nil, err
			}
			return []images.LayerSpec{{Tree: t, CreatedBy: "COPY " + MemcachedPath + " and its libraries from Debian's packages (hack/debs.sh)"}}, nil
		},
	}
}

func exporterStandIn(program string) standIn {
	return standIn{
		refs: []string{ExporterImage},
		config: v1.Config{
			User:         ExporterUser,
			Entrypoint:   []string{ExporterPath},
			Env:          []string{images.DefaultPath},
			ExposedPorts: map[string]struct{}{"9150/tcp": {}},
			Labels:       standInLabels(ExporterImage, "memcached_exporter v0.16.0 (the Go module proxy serves no v0.15.x)"),
		},
		layers: func() ([]images.LayerSpec, error) {
			t := images.NewTree()
			if err := addProgram(t, program, ExporterPath); err != nil {
				return nil, err
			}
			if err := addAccounts(t, account{"nobody", 65534, 65534, "/home"}); err != nil {
				return nil, err
			}
			return []images.LayerSpec{{Tree: t, CreatedBy: "COPY memcached_exporter " + ExporterPath}}, nil
		},
	}
}

// opmStandIn is the opm image, tagged as operator-sdk's default index image
// (opm:latest) too: its opm layer is the catalog image's.
func opmStandIn(debs debs, opm, probe string) standIn {
	return standIn{
		refs: []string{OpmImage, OpmLatestImage},
		config: v1.Config{
			User:       OLMUser,
			Entrypoint: []string{images.OpmPath},
			Env:        []string{distrolessDebugPath},
			Labels:     standInLabels(OpmImage, "opm and grpc_health_probe of hack/opm-image-binaries.sh, busybox in "+BusyboxDir),
		},
		layers: func() ([]images.LayerSpec, error) {
			b, err := binariesFromFiles(opm, probe)(NodePlatform)
			if err != nil {
				return nil, err
			}
			opmLayer, err := images.OpmLayer(b)
			if err != nil {
				return nil, err
			}
			return distrolessLayers(debs, opmLayer)
		},
	}
}

// olmUtilStandIn is OLM's util image as its bundle unpack Jobs use it:
// `/bin/cp -Rv /bin/cpb /util/cpb`, /bin/cp being busybox's. OLM's own
// programs are not in it: the testbed runs them as processes.
func olmUtilStandIn(debs debs, cpb string) standIn {
	return standIn{
		refs: []string{OLMUtilImage},
		config: v1.Config{
			User:       OLMUser,
			Env:        []string{distrolessDebugPath},
			WorkingDir: "/",
			Labels:     merge(standInLabels(OLMUtilImage, "OLM's cpb and busybox's cp"), map[string]string{"stage": "olm"}),
		},
		layers: func() ([]images.LayerSpec, error) {
			t := images.NewTree()
			if err := addProgram(t, cpb, CpbPath); err != nil {
				return nil, err
			}
			if err := t.AddSymlink("/bin/cp", BusyboxDir+"/cp"); err != nil {
				return nil, err
			}
			return distrolessLayers(debs, images.LayerSpec{Tree: t, CreatedBy: "COPY cpb " + CpbPath + " && ln -s " + BusyboxDir + "/cp /bin/cp"})
		},
	}
}

func scorecardTestStandIn(program string) standIn {
	return standIn{
		refs: []string{ScorecardTestImage},
		config: v1.Config{
			User:       "1001",
			Entrypoint: []string{ScorecardTestPath},
			Env:        []string{images.DefaultPath, "HOME=" + ScorecardTestHome, "USER_NAME=scorecard-test", "USER_UID=1001"},
			WorkingDir: ScorecardTestHome,
			Labels:     standInLabels(ScorecardTestImage, "operator-sdk's scorecard-test program"),
		},
		layers: func() ([]images.LayerSpec, error) {
			t := images.NewTree()
			if err := addProgram(t, program, ScorecardTestPath); err != nil {
				return nil, err
			}
			if err := addAccounts(t, account{"scorecard-test", 1001, 0, ScorecardTestHome}); err != nil {
				return nil, err
			}
			if err := t.AddDir(ScorecardTestHome, 0o755, images.Root); err != nil {
				return nil, err
			}
			return []images.LayerSpec{{Tree: t, CreatedBy: "COPY scorecard-test " + ScorecardTestPath}}, nil
		},
	}
}

// scorecardUntarStandIn serves as operator-sdk's scorecard untar and
// storage images, whose Dockerfiles differ only in their base: busybox's
// tar (`tar xvzf`), sh and sleep, as user 1001.
func scorecardUntarStandIn(debs debs) standIn {
	return standIn{
		refs: []string{ScorecardUntarImage, ScorecardStorageImage},
		config: v1.Config{
			User:       "1001",
			Cmd:        []string{"sh"},
			Env:        []string{images.DefaultPath, "HOME=" + ScorecardUntarHome, "USER_NAME=scorecard-untar", "USER_UID=1001"},
			WorkingDir: ScorecardUntarHome,
			Labels:     standInLabels(ScorecardUntarImage, "busybox"),
		},
		layers: func() ([]images.LayerSpec, error) {
			t := images.NewTree()
			if err := addAccounts(t, account{"scorecard-untar", 1001, 0, ScorecardUntarHome}); err != nil {
				return nil, err
			}
			if err := t.AddDir(ScorecardUntarHome, 0o755, images.Root); err != nil {
				return nil, err
			}
			return busyboxLayers(debs, "/bin", images.LayerSpec{Tree: t, CreatedBy: "RUN echo scorecard-untar >> /etc/passwd"})
		},
	}
}

// decompressionStandIn is operator-sdk run bundle's registry init image
// (`sh -c "... cat ${f} | gzip -d -c > ${file} ..."`), root as UBI's.
func decompressionStandIn(debs debs) standIn {
	return standIn{
		refs: []string{DecompressionImage},
		config: v1.Config{
			Cmd:    []string{"/bin/sh"},
			Env:    []string{images.DefaultPath},
			Labels: standInLabels(DecompressionImage, "busybox"),
		},
		layers: func() ([]images.LayerSpec, error) {
			t := images.NewTree()
			if err := addAccounts(t); err != nil {
				return nil, err
			}
			return busyboxLayers(debs, "/bin", images.LayerSpec{Tree: t, CreatedBy: "COPY /etc/passwd /etc/group"})
		},
	}
}

// standInLabels say what a stand-in holds instead of the upstream image.
func standInLabels(ref, holds string) map[string]string {
	return map[string]string{
		images.LabelTitle:       ref,
		images.LabelDescription: "memcached-operator testbed stand-in for " + ref + ": " + holds + " (docs/registry-mirrors.md)",
		images.LabelSource:      images.DefaultSource,
	}
}

// merge adds b to a and returns a.
func merge[K comparable, V any](a, b map[K]V) map[K]V {
	maps.Copy(a, b)
	return a
}

// addProgram copies a program of this machine into the tree, mode 0755.
func addProgram(t *images.Tree, src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("%w (make testbed-image-binaries builds it)", err)
	}
	return t.AddFile(dst, data, 0o755, images.Root)
}

// account is a line of /etc/passwd (and its group's of /etc/group).
type account struct {
	name     string
	uid, gid int
	home     string
}

// addAccounts writes /etc/passwd and /etc/group with root and the accounts
// (a group per gid that root's is not), and a world-writable /tmp.
func addAccounts(t *images.Tree, accounts ...account) error {
	passwd := []string{"root:x:0:0:root:/root:/sbin/nologin"}
	group := []string{"root:x:0:"}
	for _, a := range accounts {
		passwd = append(passwd, fmt.Sprintf("%s:x:%d:%d:%s:%s:/sbin/nologin", a.name, a.uid, a.gid, a.name, a.home))
		if a.gid != 0 {
			group = append(group, fmt.Sprintf("%s:x:%d:", a.name, a.gid))
		}
	}
	for file, lines := range map[string][]string{"/etc/passwd": passwd, "/etc/group": group} {
		if err := t.AddFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644, images.Root); err != nil {
			return err
		}
	}
	return t.AddDir("/tmp", 0o777|fs.ModeSticky, images.Root)
}

// distrolessLayers are the layers of a stand-in for an image based on
// gcr.io/distroless/static:debug: busybox in BusyboxDir, distroless'
// accounts (root, nobody, nonroot), then top.
func distrolessLayers(debs debs, top images.LayerSpec) ([]images.LayerSpec, error) {
	t := images.NewTree()
	if err := addAccounts(t, account{"nobody", 65534, 65534, "/nonexistent"}, account{"nonroot", 65532, 65532, "/home/nonroot"}); err != nil {
		return nil, err
	}
	return busyboxLayers(debs, BusyboxDir, images.LayerSpec{Tree: t, CreatedBy: "COPY /etc/passwd /etc/group # distroless' accounts"}, top)
}

// busyboxLayers are busybox in dir (its applets linked to it, as the
// busybox image has them in /bin) and the layers on top.
func busyboxLayers(debs debs, dir string, top ...images.LayerSpec) ([]images.LayerSpec, error) {
	t, err := debs.busyboxTree(dir)
	if err != nil {
		return nil, err
	}
	return append([]images.LayerSpec{{Tree: t, CreatedBy: "COPY busybox " + dir + "/ # Debian's busybox-static " + debs.versions["busybox-static"] + ", its applets linked"}}, top...), nil
}
