package images

import (
	"context"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Output is where built images go: pushed to a registry, or, with
// LayoutDir set, written to an OCI image layout directory (a build without
// a registry; `crane push DIR REF` or `skopeo copy oci:DIR ...` pushes it
// later).
type Output struct {
	Registry Registry
	// LayoutDir, when set, receives the image instead of the registry; it
	// is replaced.
	LayoutDir string
}

// Write pushes (or writes to the layout) t as reference.
func (o Output) Write(ctx context.Context, reference string, t remote.Taggable) (*Pushed, error) {
	if o.LayoutDir == "" {
		return o.Registry.Push(ctx, reference, t)
	}
	_, written, err := parseReference(reference)
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
// reference (the org.opencontainers.image.ref.name annotation).
func WriteLayout(dir, reference string, t remote.Taggable) (v1.Hash, error) {
	d, err := digestOf(t)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
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
	if err != nil {
		return v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return d, nil
}
