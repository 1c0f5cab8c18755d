package imageref

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrPlainHTTP is returned for a plain-HTTP registry that is not on loopback.
var ErrPlainHTTP = errors.New("plain HTTP is only allowed for a loopback registry (localhost, 127.0.0.0/8, [::1])")

// Registry says how registries are reached: credentials from Keychain (the
// docker config file, $DOCKER_CONFIG/config.json, and podman's auth.json by
// default) over Transport, which never carries plain HTTP to anything but
// loopback.
type Registry struct {
	// Keychain gives the credentials of a registry; nil means
	// authn.DefaultKeychain.
	Keychain authn.Keychain
	// Transport is wrapped so that it refuses plain HTTP to a non-loopback
	// host; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Jobs is how many blobs are uploaded at once (default 4).
	Jobs int
}

// Options are go-containerregistry's remote options for r: every request
// goes through the loopback-only plain-HTTP guard.
func (r Registry) Options(ctx context.Context) []remote.Option {
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	base := r.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	jobs := r.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(loopbackOnlyHTTP{base}),
		remote.WithJobs(jobs),
		remote.WithUserAgent("memcached-operator-tools"),
	}
}

// loopbackOnlyHTTP refuses plain-HTTP requests to a non-loopback host.
// go-containerregistry falls back to HTTP for RFC 1918 and *.local
// registries when HTTPS fails; credentials must not travel that way.
type loopbackOnlyHTTP struct{ base http.RoundTripper }

func (t loopbackOnlyHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.EqualFold(req.URL.Scheme, "http") && !IsLoopback(req.URL.Host) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("refusing %s %s: %w", req.Method, req.URL.Redacted(), ErrPlainHTTP)
	}
	return t.base.RoundTrip(req)
}

// Digest asks the registry for the digest of an image reference (a HEAD
// request for the manifest, as docker pull resolves a tag).
func (r Registry) Digest(ctx context.Context, reference string) (v1.Hash, error) {
	ref, err := Parse(reference)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(ref, r.Options(ctx)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("asking %s for the digest of %s: %w%s", ref.Context().RegistryStr(), reference, err, AuthHint(err))
	}
	return desc.Digest, nil
}

// AuthHint says where credentials come from when a registry refused them.
func AuthHint(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return " (credentials come from the docker config file, $DOCKER_CONFIG/config.json or ~/.docker/config.json: `docker login` or `podman login` to the registry)"
	}
	return ""
}

// Resolver is the one digest resolver: it pins image references by
// digest, the images a release is about to push from Pinned, every other
// one by asking its registry through Registry (and so through the
// loopback-only plain-HTTP guard).
type Resolver struct {
	Registry Registry
	// Pinned maps a reference, as written, to its digest.
	Pinned map[string]v1.Hash
	// Fallback, when set, resolves what Pinned does not hold instead of
	// the registry (tests resolve operand images offline with it).
	Fallback interface {
		Resolve(ctx context.Context, image string) (string, error)
	}
}

// Resolve returns image's repository, as written, pinned by digest:
// REGISTRY/REPOSITORY@sha256:...
func (r Resolver) Resolve(ctx context.Context, image string) (string, error) {
	repo, err := Repository(image)
	if err != nil {
		return "", err
	}
	d, ok := r.Pinned[image]
	switch {
	case ok:
	case r.Fallback != nil:
		return r.Fallback.Resolve(ctx, image)
	default:
		if d, err = r.Registry.Digest(ctx, image); err != nil {
			return "", err
		}
	}
	return repo + "@" + d.String(), nil
}
