package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
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

func (r Registry) options(ctx context.Context) []remote.Option {
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

// ParseReference parses an image reference (a tag or a digest). A registry
// on loopback (localhost, 127.0.0.0/8, [::1]) is reached over plain HTTP;
// every other one over HTTPS only. An explicit "http://" prefix asks for
// plain HTTP and is refused for a non-loopback registry (ErrPlainHTTP).
func ParseReference(s string) (name.Reference, error) {
	ref, _, err := parseReference(s)
	return ref, err
}

// parseReference also returns the reference as written, without its scheme.
func parseReference(s string) (name.Reference, string, error) {
	written := strings.TrimSpace(s)
	plainHTTP := false
	if i := strings.Index(written, "://"); i >= 0 {
		switch scheme := strings.ToLower(written[:i]); scheme {
		case "http":
			plainHTTP = true
		case "https":
		default:
			return nil, "", fmt.Errorf("image %q: unknown scheme %q (an image reference is REGISTRY/REPOSITORY:TAG)", s, scheme)
		}
		written = written[i+3:]
	}
	if written == "" {
		return nil, "", fmt.Errorf("empty image reference")
	}
	ref, err := name.ParseReference(written)
	if err != nil {
		return nil, "", fmt.Errorf("image %q: %w", s, err)
	}
	host := ref.Context().RegistryStr()
	if isLoopbackRegistry(host) {
		ref, err = name.ParseReference(written, name.Insecure)
		if err != nil {
			return nil, "", fmt.Errorf("image %q: %w", s, err)
		}
		return ref, written, nil
	}
	if plainHTTP {
		return nil, "", fmt.Errorf("image %q: %w; %s is not: push to it over HTTPS (drop the http:// prefix)", s, ErrPlainHTTP, host)
	}
	return ref, written, nil
}

// isLoopbackRegistry reports whether a registry (host[:port]) is on
// loopback: localhost, an address of 127.0.0.0/8 or ::1.
func isLoopbackRegistry(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOnlyHTTP refuses plain-HTTP requests to a non-loopback host.
// go-containerregistry falls back to HTTP for RFC 1918 and *.local
// registries when HTTPS fails; credentials must not travel that way.
type loopbackOnlyHTTP struct{ base http.RoundTripper }

func (t loopbackOnlyHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.EqualFold(req.URL.Scheme, "http") && !isLoopbackRegistry(req.URL.Host) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("refusing %s %s: %w", req.Method, req.URL.Redacted(), ErrPlainHTTP)
	}
	return t.base.RoundTrip(req)
}

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
	return repositoryOf(p.Reference) + "@" + p.Digest.String()
}

// repositoryOf is an image reference without its tag or digest, as written
// (not normalized: docker.io/library/x stays as it is).
func repositoryOf(image string) string {
	if i := strings.Index(image, "://"); i >= 0 {
		image = image[i+3:]
	}
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// Push writes an image or an index to the reference, then asks the
// registry which digest the reference has: the one that was built, or an
// error.
func (r Registry) Push(ctx context.Context, reference string, t remote.Taggable) (*Pushed, error) {
	ref, written, err := parseReference(reference)
	if err != nil {
		return nil, err
	}
	want, err := digestOf(t)
	if err != nil {
		return nil, err
	}
	opts := r.options(ctx)
	if err := remote.Push(ref, t, opts...); err != nil {
		return nil, fmt.Errorf("push %s: %w%s", reference, err, authHint(err))
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("push %s: asking the registry for the digest pushed: %w%s", reference, err, authHint(err))
	}
	if desc.Digest != want {
		return nil, fmt.Errorf("push %s: the registry reports %s, not %s that was pushed (another push to the same tag?)", reference, desc.Digest, want)
	}
	return &Pushed{Reference: written, Digest: want}, nil
}

// Digest asks the registry for the digest of an image reference.
func (r Registry) Digest(ctx context.Context, reference string) (v1.Hash, error) {
	ref, _, err := parseReference(reference)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(ref, r.options(ctx)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("asking %s for the digest of %s: %w%s", ref.Context().RegistryStr(), reference, err, authHint(err))
	}
	return desc.Digest, nil
}

// Pull fetches an index or an image.
func (r Registry) Pull(ctx context.Context, reference string) (*remote.Descriptor, error) {
	ref, _, err := parseReference(reference)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(ref, r.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w%s", reference, err, authHint(err))
	}
	return desc, nil
}

// authHint says where credentials come from when a registry refused them.
func authHint(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return " (credentials come from the docker config file, $DOCKER_CONFIG/config.json or ~/.docker/config.json: `docker login` or `podman login` to the registry)"
	}
	return ""
}

func digestOf(t remote.Taggable) (v1.Hash, error) {
	raw, err := t.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	return h, err
}

// Resolver pins image references by digest for bundle.Options.Resolver:
// the images this run pushes (or is about to push) from Pinned, every other
// one from its registry (a HEAD request for the manifest, as docker pull
// would resolve the tag).
type Resolver struct {
	Registry Registry
	// Pinned maps a reference, as written, to its digest.
	Pinned map[string]v1.Hash
	// Fallback resolves what Pinned does not hold; nil asks the registry.
	Fallback interface {
		Resolve(ctx context.Context, image string) (string, error)
	}
}

// Resolve returns image's repository, as written, pinned by digest.
func (r Resolver) Resolve(ctx context.Context, image string) (string, error) {
	if d, ok := r.Pinned[image]; ok {
		return repositoryOf(image) + "@" + d.String(), nil
	}
	if r.Fallback != nil {
		return r.Fallback.Resolve(ctx, image)
	}
	d, err := r.Registry.Digest(ctx, image)
	if err != nil {
		return "", err
	}
	return repositoryOf(image) + "@" + d.String(), nil
}
