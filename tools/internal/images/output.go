package images

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
)

// Output is where built images go: pushed to a registry, or, with
// LayoutDir set, written to an OCI image layout directory (a build without
// a registry; `crane push DIR REF` or `skopeo copy oci:DIR ...` pushes it
// later).
type Output struct {
	Registry imageref.Registry
	// LayoutDir, when set, receives the image instead of the registry; it
	// is replaced (WriteLayout).
	LayoutDir string
	// ReplaceTag pushes over a tag that names another image, which Push
	// refuses (a development tag; never a released version's).
	ReplaceTag bool
}

// Write pushes (or writes to the layout) t as reference.
func (o Output) Write(ctx context.Context, reference string, t remote.Taggable) (*Pushed, error) {
	if o.LayoutDir == "" {
		return push(ctx, o.Registry, reference, t, o.ReplaceTag)
	}
	_, written, err := imageref.ParseWritten(reference)
	if err != nil {
		return nil, err
	}
	d, err := WriteLayout(o.LayoutDir, reference, t)
	if err != nil {
		return nil, err
	}
	return &Pushed{Reference: written, Digest: d}, nil
}

// WriteLayout replaces dir with an OCI image layout holding t, named
// reference (the org.opencontainers.image.ref.name annotation). dir must be
// missing, empty or a layout this wrote (atomicdir.StageOwnedDir): a user's
// directory is refused, not replaced.
func WriteLayout(dir, reference string, t remote.Taggable) (v1.Hash, error) {
	d, err := digestOf(t)
	if err != nil {
		return v1.Hash{}, err
	}
	staged, err := atomicdir.StageOwnedDir("the OCI layout directory", dir)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := writeLayout(staged.Path(), reference, t); err != nil {
		return v1.Hash{}, errors.Join(fmt.Errorf("OCI layout %s: %w", dir, err), atomicdir.Discard(staged))
	}
	return d, atomicdir.CommitAll(staged)
}

func writeLayout(dir, reference string, t remote.Taggable) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	ann := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": reference})
	switch x := t.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(x, ann)
	case v1.Image:
		err = p.AppendImage(x, ann)
	default:
		err = fmt.Errorf("%T is neither an image nor an index", t)
	}
	return err
}
