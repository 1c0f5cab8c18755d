package imageref

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Parse parses an image reference (a tag or a digest). A registry on
// loopback (localhost, 127.0.0.0/8, [::1]) is reached over plain HTTP;
// every other one over HTTPS only. An explicit "http://" prefix asks for
// plain HTTP and is refused for a non-loopback registry (ErrPlainHTTP).
func Parse(s string) (name.Reference, error) {
	ref, _, err := ParseWritten(s)
	return ref, err
}

// ParseWritten is Parse that also returns the reference as written,
// without its scheme.
func ParseWritten(s string) (name.Reference, string, error) {
	written, plainHTTP, err := stripScheme(s)
	if err != nil {
		return nil, "", err
	}
	ref, err := name.ParseReference(written)
	if err != nil {
		return nil, "", fmt.Errorf("image %q: %w", s, err)
	}
	host := ref.Context().RegistryStr()
	if IsLoopback(host) {
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

// stripScheme removes an http:// or https:// prefix and says whether it
// asked for plain HTTP.
func stripScheme(s string) (string, bool, error) {
	written := strings.TrimSpace(s)
	scheme, rest, ok := strings.Cut(written, "://")
	if !ok {
		if written == "" {
			return "", false, fmt.Errorf("empty image reference")
		}
		return written, false, nil
	}
	switch strings.ToLower(scheme) {
	case "http":
		return rest, true, nil
	case "https":
		return rest, false, nil
	default:
		return "", false, fmt.Errorf("image %q: unknown scheme %q (an image reference is REGISTRY/REPOSITORY:TAG)", s, scheme)
	}
}

// IsLoopback reports whether a registry (host[:port]) is on loopback:
// localhost, an address of 127.0.0.0/8 or ::1.
func IsLoopback(registry string) bool {
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

// IsDigest reports whether image is a valid reference pinned by digest.
func IsDigest(image string) bool {
	ref, err := Parse(image)
	if err != nil {
		return false
	}
	_, ok := ref.(name.Digest)
	return ok
}

// registryHost is a registry as docker's reference grammar has it: a DNS
// name or a bracketed IPv6 address, with an optional port.
// go-containerregistry takes any RFC 3986 authority (sub-delimiters such as
// "=" included), which no registry is.
var registryHost = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)

// Parts is a reference as written, split: Repository[:Tag][@Digest].
type Parts struct {
	Repository, Tag, Digest string
}

// Split divides a reference, as written and without a scheme, into its
// repository, tag and digest, and checks each part with
// go-containerregistry's rules: the digest is sha256:<64 lowercase hex
// digits>, the repository a valid image name, the tag a valid tag. Nothing
// is normalized: docker.io/library/x stays as it is.
func Split(s string) (Parts, error) {
	var p Parts
	rest := s
	if repo, digest, ok := strings.Cut(s, "@"); ok {
		if _, err := v1.NewHash(digest); err != nil || !strings.HasPrefix(digest, "sha256:") {
			return Parts{}, fmt.Errorf("digest %q is not sha256:<64 lowercase hex digits>", digest)
		}
		rest, p.Digest = repo, digest
	}
	// A colon after the last slash starts the tag; one before it is a port.
	tagged := false
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, p.Tag, tagged = rest[:i], rest[i+1:], true
	}
	p.Repository = rest
	if p.Repository == "" {
		return Parts{}, fmt.Errorf("empty repository")
	}
	repo, err := name.NewRepository(p.Repository)
	if err == nil && !registryHost.MatchString(repo.RegistryStr()) {
		err = fmt.Errorf("registry %q is not HOST[:PORT]", repo.RegistryStr())
	}
	if err != nil {
		return Parts{}, fmt.Errorf("repository %q is not a valid image name: %w", p.Repository, err)
	}
	if tagged {
		// Strict: an empty tag is refused too.
		if _, err := name.NewTag("example.com/image:"+p.Tag, name.StrictValidation); err != nil {
			return Parts{}, fmt.Errorf("tag %q: %w", p.Tag, err)
		}
	}
	return p, nil
}

// Repository is image's repository as written, without scheme, tag or
// digest (what kustomize's images field matches).
func Repository(image string) (string, error) {
	written, _, err := stripScheme(image)
	if err != nil {
		return "", err
	}
	p, err := Split(written)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	return p.Repository, nil
}
