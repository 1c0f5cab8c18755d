package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// MirroredRegistries are the registries the real node's containerd pulls
// from the loopback registry: those the shipped manifests, OLM and
// operator-sdk name. An image of any other registry fails to pull, locally.
var MirroredRegistries = []string{
	"quay.io", "docker.io", "registry.k8s.io", "gcr.io", "ghcr.io", "registry.access.redhat.com",
}

// unmirroredNamespace is where containerd's catch-all (_default) sends a
// pull of any other registry: a path of the loopback registry that holds
// nothing, so the pull ends in "not found" and the registry's log names the
// image (and, in ?ns=, its registry).
const unmirroredNamespace = "_unmirrored"

// Registry is the real node's loopback OCI registry (go-containerregistry's
// registry package, run by `tools registry serve`). An image pushed for
// upstream reference REGISTRY/REPO:TAG is stored as 127.0.0.1:PORT/REGISTRY/
// REPO:TAG, which is where containerd's mirror configuration looks for it:
// the node runs unmodified references to quay.io, docker.io, ... without
// any request leaving the machine.
type Registry struct {
	host string
}

// Host is the registry's 127.0.0.1:PORT.
func (r *Registry) Host() string { return r.host }

// Ref returns the loopback reference of an upstream one: what host tools
// that pull (operator-sdk run bundle --use-http) are given. Docker Hub's
// names are normalised as containerd normalises them
// (memcached → docker.io/library/memcached).
func (r *Registry) Ref(upstreamRef string) (string, error) {
	ref, err := name.ParseReference(upstreamRef)
	if err != nil {
		return "", fmt.Errorf("parsing image reference %q: %w", upstreamRef, err)
	}
	reg := ref.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	return r.host + "/" + reg + "/" + ref.Context().RepositoryStr() + sep + ref.Identifier(), nil
}

// Push stores img as upstreamRef (e.g. quay.io/example-inc/memcached-operator:v0.4.0).
func (r *Registry) Push(ctx context.Context, upstreamRef string, img v1.Image) error {
	return r.push(ctx, upstreamRef, img)
}

// PushIndex stores a multi-platform image as upstreamRef.
func (r *Registry) PushIndex(ctx context.Context, upstreamRef string, idx v1.ImageIndex) error {
	return r.push(ctx, upstreamRef, idx)
}

// PushNodeImages pushes every image of NodeImages under its reference.
func (r *Registry) PushNodeImages(ctx context.Context, imgs []NodeImage) error {
	for _, img := range imgs {
		if err := r.Push(ctx, img.Ref, img.Image); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) push(ctx context.Context, upstreamRef string, t remote.Taggable) error {
	ref, err := r.Ref(upstreamRef)
	if err != nil {
		return err
	}
	// Anonymous: the user's registry credentials have no business here.
	reg := imageref.Registry{Keychain: authn.NewMultiKeychain()}
	if _, err := images.Push(ctx, reg, ref, t); err != nil {
		return fmt.Errorf("pushing %s to the loopback registry: %w", upstreamRef, err)
	}
	return nil
}

// ServeRegistry serves an OCI registry on address, a loopback host:port,
// with blobs stored under dir (manifests stay in memory), logging each
// request to logw, until ctx ends.
func ServeRegistry(ctx context.Context, address, dir string, logw io.Writer) error {
	if !imageref.IsLoopback(address) {
		return fmt.Errorf("registry address %s: %w", address, imageref.ErrPlainHTTP)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the registry's blob directory: %w", err)
	}
	l, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	srv := &http.Server{
		Handler: registry.New(
			registry.WithBlobHandler(registry.NewDiskBlobHandler(dir)),
			registry.Logger(log.New(logw, "", log.LstdFlags)),
		),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// hostsFile is one containerd hosts.toml: a single server, so that nothing
// but the loopback registry is ever tried (docs/registry-mirrors.md).
type hostsFile struct {
	Server       string `toml:"server"`
	OverridePath bool   `toml:"override_path,omitempty"`
}

// mirrorHosts returns containerd's certs.d folders and their hosts.toml:
// one per mirrored registry, the catch-all, and the registry's own
// host:port for loopback references.
func mirrorHosts(registryHost string) map[string]hostsFile {
	base := "http://" + registryHost
	files := map[string]hostsFile{
		"_default": {Server: base + "/v2/" + unmirroredNamespace, OverridePath: true},
		// containerd writes HOST:PORT as HOST_PORT_ in folder names.
		hostDirName(registryHost): {Server: base},
	}
	for _, reg := range MirroredRegistries {
		files[reg] = hostsFile{Server: base + "/v2/" + reg, OverridePath: true}
	}
	return files
}

func hostDirName(hostPort string) string {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort
	}
	return host + "_" + port + "_"
}

// writeMirrorHosts writes the hosts.toml files and reads each back: a file
// containerd cannot parse is ignored by it, and the pull then goes to the
// upstream registry.
func writeMirrorHosts(certsDir, registryHost string) error {
	for dir, want := range mirrorHosts(registryHost) {
		path := filepath.Join(certsDir, dir, "hosts.toml")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		data, err := toml.Marshal(want)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", path, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		var got hostsFile
		if _, err := toml.DecodeFile(path, &got); err != nil || got != want {
			return fmt.Errorf("%s does not read back as written (%+v, %v)", path, got, err)
		}
	}
	return nil
}
