package images

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// TestPushRefusesPlainHTTPOffLoopback: the reference is refused before
// anything is built or sent.
func TestPushRefusesPlainHTTPOffLoopback(t *testing.T) {
	img, err := BundleImage(BundleOptions{Dir: snapshot(t, bundleformat.DefaultDir)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Push(context.Background(), anonymous, "http://registry.example.com/memcached-operator-bundle:v0.1.0", img)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP is only allowed for a loopback registry") {
		t.Fatalf("want the plain-HTTP refusal, got %v", err)
	}
}

// TestPushWithDockerConfigCredentials pushes to a registry that wants
// basic auth, with the credentials of a DOCKER_CONFIG directory (the
// default keychain, as `docker login` leaves them).
func TestPushWithDockerConfigCredentials(t *testing.T) {
	ctx := context.Background()
	host := startAuthRegistry(t, "release-bot", "s3cret")
	img, err := BundleImage(BundleOptions{Dir: snapshot(t, bundleformat.DefaultDir)})
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/memcached-operator-bundle:v0.1.0"

	// No credentials: refused, and the error says so.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(t.TempDir(), "none.json"))
	if _, err := Push(ctx, imageref.Registry{}, ref, img); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "docker login") {
		t.Fatalf("want 401 and a hint without credentials, got %v", err)
	}

	// Wrong credentials: refused.
	writeDockerConfig(t, host, "release-bot", "wrong")
	if _, err := Push(ctx, imageref.Registry{}, ref, img); err == nil {
		t.Fatal("pushed with wrong credentials")
	}

	// The right ones.
	writeDockerConfig(t, host, "release-bot", "s3cret")
	p, err := Push(ctx, imageref.Registry{}, ref, img)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if p.Digest != want {
		t.Errorf("pushed %s, want %s", p.Digest, want)
	}
	if !strings.HasPrefix(p.Pinned(), host+"/memcached-operator-bundle@sha256:") {
		t.Errorf("pinned reference %s", p.Pinned())
	}
	got, err := imageref.Registry{}.Digest(ctx, ref)
	if err != nil || got != want {
		t.Errorf("registry digest %s (%v), want %s", got, err, want)
	}
	// And anonymous pulls are refused: the credentials were needed.
	if _, err := imagestest.Pull(ctx, anonymous, ref); err == nil {
		t.Error("pulled without credentials")
	}
	if _, err := remote.Head(mustRef(t, ref)); err == nil {
		t.Error("HEAD without credentials succeeded")
	}
}

// writeDockerConfig writes DOCKER_CONFIG/config.json with credentials for
// host, as `docker login` does, and points DOCKER_CONFIG at it.
func writeDockerConfig(t *testing.T, host, user, pass string) {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"auths": map[string]any{
		host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))},
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// TestPushNeverMovesATag: pushing another image to a tag is refused and the
// tag keeps its image; pushing the same image again is a no-op; only
// Output.ReplaceTag (a development tag) moves it.
func TestPushNeverMovesATag(t *testing.T) {
	ctx := context.Background()
	ref := imagestest.StartRegistry(t) + "/memcached-operator-bundle:v0.1.0"
	first, err := BundleImage(BundleOptions{Dir: snapshot(t, bundleformat.DefaultDir)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := BundleImage(BundleOptions{Dir: snapshot(t, filepath.Join("releases", "0.1.0"))})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Push(ctx, anonymous, ref, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, anonymous, ref, other); !errors.Is(err, ErrTagTaken) || !strings.Contains(err.Error(), ref) {
		t.Errorf("pushing another image to %s: %v, want ErrTagTaken naming it", ref, err)
	}
	if again, err := Push(ctx, anonymous, ref, first); err != nil || again.Digest != p.Digest {
		t.Errorf("pushing the same image again: %v %v", again, err)
	}
	if got, err := anonymous.Digest(ctx, ref); err != nil || got != p.Digest {
		t.Fatalf("the tag moved: %s (%v), pushed %s", got, err, p.Digest)
	}
	replaced, err := Output{Registry: anonymous, ReplaceTag: true}.Write(ctx, ref, other)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := anonymous.Digest(ctx, ref); err != nil || got != replaced.Digest || got == p.Digest {
		t.Errorf("with ReplaceTag the tag names %s (%v), want %s", got, err, replaced.Digest)
	}
}
