package images

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Every image is an OCI image (application/vnd.oci.image.manifest.v1+json,
// OCI config and gzip layers) and every multi-platform image an OCI image
// index, as ko writes them.
const (
	ManifestMediaType = types.OCIManifestSchema1
	IndexMediaType    = types.OCIImageIndex
)

// DefaultPath is the PATH of the images, distroless' (an exec probe such as
// OLM's `grpc_health_probe` is looked up in it).
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LayerSpec is one layer of an image and the history entry that says how
// it was made.
type LayerSpec struct {
	Tree *Tree
	// CreatedBy is the history's created_by, e.g. "COPY bundle/manifests /manifests/".
	CreatedBy string
}

// NewImage builds a FROM-scratch OCI image: cfg (its rootfs and history are
// filled in) and the layers, in order. The same inputs give the same digest.
func NewImage(platform v1.Platform, cfg v1.Config, layers ...LayerSpec) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, ManifestMediaType)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		OSVersion:    platform.OSVersion,
		Variant:      platform.Variant,
		Created:      v1.Time{Time: Epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, ls := range layers {
		l, err := ls.Tree.Layer()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: types.OCILayer,
			History: v1.History{
				Created:   v1.Time{Time: Epoch},
				CreatedBy: ls.CreatedBy,
				Comment:   "memcached-operator-tools",
			},
		})
	}
	return mutate.Append(img, adds...)
}

// PlatformImage is an image for one platform of an index.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
}

// newIndex puts images into an OCI image index, each with its platform.
func newIndex(imgs []PlatformImage) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, IndexMediaType)
	seen := map[string]bool{}
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for _, pi := range imgs {
		key := PlatformString(pi.Platform)
		if seen[key] {
			return nil, fmt.Errorf("platform %s is listed twice", key)
		}
		seen[key] = true
		p := pi.Platform
		adds = append(adds, mutate.IndexAddendum{
			Add:        pi.Image,
			Descriptor: v1.Descriptor{MediaType: ManifestMediaType, Platform: &p},
		})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// ParsePlatforms parses a comma-separated list of OS/ARCH[/VARIANT]
// (PLATFORMS), keeping its order.
func ParsePlatforms(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		parts := strings.Split(f, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("platform %q is not OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/arm/v7)", f)
		}
		p := v1.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		if seen[PlatformString(p)] {
			return nil, fmt.Errorf("platform %s is listed twice in %q", f, s)
		}
		seen[PlatformString(p)] = true
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platform in %q", s)
	}
	return out, nil
}

// PlatformString is OS/ARCH[/VARIANT].
func PlatformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformDir is the directory name of a platform's binaries:
// OS_ARCH[_VARIANT] (what hack/opm-image-binaries.sh writes).
func platformDir(p v1.Platform) string {
	s := p.OS + "_" + p.Architecture
	if p.Variant != "" {
		s += "_" + p.Variant
	}
	return s
}

// goEnv is the environment that makes `go build` target a platform.
func goEnv(p v1.Platform) []string {
	env := []string{"GOOS=" + p.OS, "GOARCH=" + p.Architecture}
	if p.Variant != "" {
		v := strings.TrimPrefix(p.Variant, "v")
		switch p.Architecture {
		case "arm":
			env = append(env, "GOARM="+v)
		case "arm64":
			if !strings.Contains(v, ".") {
				v += ".0"
			}
			env = append(env, "GOARM64=v"+v)
		case "amd64":
			env = append(env, "GOAMD64=v"+v)
		}
	}
	return env
}

// copyLabels is a copy of labels for a config, nil when empty.
func copyLabels(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[k] = v
	}
	return out
}
