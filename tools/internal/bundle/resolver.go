package bundle

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RegistryResolver asks the image's registry for the digest its tag points
// to (a HEAD request for the manifest), with the credentials of the docker
// or podman configuration.
type RegistryResolver struct{}

// Resolve returns image's repository, as written, pinned by digest.
func (RegistryResolver) Resolve(ctx context.Context, image string) (string, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", image, err)
	}
	desc, err := remote.Head(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return "", fmt.Errorf("asking %s for the digest of %s: %w", ref.Context().RegistryStr(), image, err)
	}
	return imageName(image) + "@" + desc.Digest.String(), nil
}
