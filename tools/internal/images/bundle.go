package images

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
)

// bundlePlatform is the bundle and catalog content's platform: the content
// runs nowhere, so it is fixed (what `docker build` on amd64 records).
var bundlePlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// BundleOptions describe the bundle image.
type BundleOptions struct {
	// Dir is the bundle directory (bundleformat.DefaultDir).
	Dir string
	// Dockerfile, when set, is checked to lay out Dir and label the image
	// as this builds it (bundle.Dockerfile, written with the bundle by
	// `tools bundle generate`): bundleformat.CheckDockerfile.
	Dockerfile string
}

// BundleImage builds the bundle image as bundle.Dockerfile does: FROM
// scratch, the directories of bundleformat.Layout that the annotations name
// (manifests/, metadata/, tests/scorecard/) at /manifests, /metadata and
// /tests/scorecard, labelled with the annotations of
// metadata/annotations.yaml. One deterministic layer: the same bundle gives
// the same digest.
func BundleImage(opts BundleOptions) (v1.Image, error) {
	if opts.Dir == "" {
		opts.Dir = bundleformat.DefaultDir
	}
	annFile := filepath.Join(opts.Dir, filepath.FromSlash(bundleformat.AnnotationsFile))
	labels, err := bundleformat.ReadAnnotations(annFile)
	if err != nil {
		return nil, fmt.Errorf("bundle image: %w", err)
	}
	if opts.Dockerfile != "" {
		if err := checkBundleDockerfile(opts.Dockerfile, opts.Dir, annFile, labels); err != nil {
			return nil, fmt.Errorf("bundle image: %w", err)
		}
	}
	t := NewTree()
	var copies []string
	for _, d := range bundleformat.Layout {
		if _, ok := labels[d.Label]; !ok {
			continue
		}
		src := filepath.Join(opts.Dir, filepath.FromSlash(d.Path))
		if err := t.AddDirFrom(src, d.Dst(), CopyOptions{FileMode: 0o644, DirMode: 0o755, Owner: Root}); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("bundle image: %s is missing: bundle.Dockerfile copies it (generate the bundle with `make bundle`)", src)
			}
			return nil, fmt.Errorf("bundle image: %w", err)
		}
		// Not the directory as given: the history, like the digest, does not
		// depend on where the bundle is.
		copies = append(copies, fmt.Sprintf("COPY %s %s", path.Join(bundleformat.DefaultDir, d.Path), d.Dst()))
	}
	img, err := NewImage(bundlePlatform, v1.Config{Labels: labels},
		LayerSpec{Tree: t, CreatedBy: strings.Join(copies, " && ")})
	if err != nil {
		return nil, fmt.Errorf("bundle image: %w", err)
	}
	return img, nil
}

// checkBundleDockerfile checks that the Dockerfile builds what BundleImage
// builds from dir.
func checkBundleDockerfile(dockerfile, dir, annFile string, annotations map[string]string) error {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		return err
	}
	contextDir, err := bundleformat.DockerfileContext(dockerfile, dir)
	if err != nil {
		return err
	}
	ps := bundleformat.CheckDockerfile(data, annotations, contextDir, bundleformat.DockerfileFiles{Dockerfile: dockerfile, Annotations: annFile})
	return ps.Err(fmt.Sprintf("%s does not describe the bundle image of %s; regenerate both with `make bundle`", dockerfile, dir))
}
