package images

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
)

// StampFile is the file, inside a cached OCI image layout, that records the
// stamp of the inputs the layout was built from.
const StampFile = "build-stamp"

// Cached returns the image or index that the OCI image layout dir holds when
// its stamp equals stamp, without building anything. Otherwise it builds,
// writes dir (the layout, named reference, and the stamp) in one atomic
// replacement, so that an interrupted build never leaves a stamp that lies,
// and returns the layout's copy. built says which happened. The stamp must
// name every input of build (versions, digests): equal stamps mean equal
// images.
func Cached(dir, reference, stamp string, build func() (remote.Taggable, error)) (t remote.Taggable, built bool, err error) {
	if got, err := os.ReadFile(filepath.Join(dir, StampFile)); err == nil && bytes.Equal(got, []byte(stamp)) {
		if t, err := readLayout(dir); err == nil && checkBlobs(dir, t) == nil {
			return t, false, nil
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	fresh, err := build()
	if err != nil {
		return nil, false, err
	}
	staged, err := atomicdir.StageDir(dir)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = atomicdir.Discard(staged) }()
	if _, err := WriteLayout(staged.Path(), reference, fresh); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(filepath.Join(staged.Path(), StampFile), []byte(stamp), 0o644); err != nil {
		return nil, false, err
	}
	if err := atomicdir.CommitAll(staged); err != nil {
		return nil, false, err
	}
	t, err = readLayout(dir)
	return t, true, err
}

// readLayout is the one image or index of an OCI image layout, read from
// its files when asked (nothing is loaded into memory).
func readLayout(dir string) (remote.Taggable, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("OCI layout %s holds %d manifests, want 1", dir, len(m.Manifests))
	}
	d := m.Manifests[0]
	if d.MediaType.IsIndex() {
		return idx.ImageIndex(d.Digest)
	}
	return idx.Image(d.Digest)
}

// checkBlobs checks that the layout holds every blob of t, with its size
// (without reading them: a cached layout is trusted, not verified).
func checkBlobs(dir string, t remote.Taggable) error {
	var descs []v1.Descriptor
	switch x := t.(type) {
	case v1.ImageIndex:
		m, err := x.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range m.Manifests {
			img, err := x.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := checkBlobs(dir, img); err != nil {
				return err
			}
		}
		return nil
	case v1.Image:
		m, err := x.Manifest()
		if err != nil {
			return err
		}
		descs = append([]v1.Descriptor{m.Config}, m.Layers...)
	}
	for _, d := range descs {
		info, err := os.Stat(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
		if err != nil {
			return err
		}
		if info.Size() != d.Size {
			return fmt.Errorf("blob %s: %d bytes, want %d", d.Digest, info.Size(), d.Size)
		}
	}
	return nil
}

// ImageFor is t itself when it is an image, or the image of platform p
// in t when it is an index.
func ImageFor(t remote.Taggable, p v1.Platform) (v1.Image, error) {
	switch x := t.(type) {
	case v1.Image:
		return x, nil
	case v1.ImageIndex:
		m, err := x.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range m.Manifests {
			if d.Platform != nil && d.Platform.OS == p.OS && d.Platform.Architecture == p.Architecture && d.Platform.Variant == p.Variant {
				return x.Image(d.Digest)
			}
		}
		return nil, fmt.Errorf("the index holds no image for %s", PlatformString(p))
	default:
		return nil, fmt.Errorf("%T is neither an image nor an index", t)
	}
}
