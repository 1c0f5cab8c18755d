package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
)

// Pushed is an image or index written to a registry.
type Pushed struct {
	// Reference is the reference it was pushed to, as written.
	Reference string
	// Digest is the manifest's (or index's) digest.
	Digest v1.Hash
}

// Pinned is the reference's repository, as written, pinned by digest:
// REGISTRY/REPOSITORY@sha256:...
func (p Pushed) Pinned() string {
	repo, err := imageref.Repository(p.Reference)
	if err != nil {
		repo = p.Reference // Push parsed it: cannot happen
	}
	return repo + "@" + p.Digest.String()
}

// ErrTagTaken is returned for a tag that already names another image: a
// push never moves a tag that consumers may have pulled (a released
// version's image must not change under them).
var ErrTagTaken = errors.New("the tag already names another image")

// Push writes an image or an index to the reference through reg, then asks
// the registry which digest the reference has: the one that was built, or
// an error. A reference that already names this image is left as it is (a
// re-push is a no-op); one that names another image is refused with
// ErrTagTaken and nothing is sent.
func Push(ctx context.Context, reg imageref.Registry, reference string, t remote.Taggable) (*Pushed, error) {
	return push(ctx, reg, reference, t, false)
}

func push(ctx context.Context, reg imageref.Registry, reference string, t remote.Taggable, replace bool) (*Pushed, error) {
	ref, written, err := imageref.ParseWritten(reference)
	if err != nil {
		return nil, err
	}
	want, err := digestOf(t)
	if err != nil {
		return nil, err
	}
	pushed := &Pushed{Reference: written, Digest: want}
	if !replace {
		present, err := CheckTag(ctx, reg, reference, want)
		if err != nil || present {
			return pushed, err
		}
	}
	opts := reg.Options(ctx)
	if err := remote.Push(ref, t, opts...); err != nil {
		return nil, fmt.Errorf("push %s: %w%s", reference, err, imageref.AuthHint(err))
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("push %s: asking the registry for the digest pushed: %w%s", reference, err, imageref.AuthHint(err))
	}
	if desc.Digest != want {
		return nil, fmt.Errorf("push %s: the registry reports %s, not %s that was pushed (another push to the same tag?)", reference, desc.Digest, want)
	}
	return pushed, nil
}

// CheckTag asks the registry what reference names: present is true when it
// names the image of digest want; an error wrapping ErrTagTaken says it
// names another. A zero want accepts only an absent reference.
func CheckTag(ctx context.Context, reg imageref.Registry, reference string, want v1.Hash) (present bool, err error) {
	ref, err := imageref.Parse(reference)
	if err != nil {
		return false, err
	}
	desc, err := remote.Head(ref, reg.Options(ctx)...)
	var te *transport.Error
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("asking the registry for %s: %w%s", reference, err, imageref.AuthHint(err))
	case desc.Digest != want:
		return false, fmt.Errorf("%s is %s: %w; a published image is never replaced: push another tag", reference, desc.Digest, ErrTagTaken)
	}
	return true, nil
}

func digestOf(t remote.Taggable) (v1.Hash, error) {
	raw, err := t.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	return h, err
}
