package images

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		ref        string
		wantScheme string
		wantErr    string
	}{
		{ref: "quay.io/example-inc/memcached-operator:v0.1.0", wantScheme: "https"},
		{ref: "https://quay.io/example-inc/memcached-operator:v0.1.0", wantScheme: "https"},
		{ref: "localhost:5000/memcached-operator:v0.1.0", wantScheme: "http"},
		{ref: "127.0.0.1:5000/memcached-operator:v0.1.0", wantScheme: "http"},
		{ref: "127.1.2.3:5000/memcached-operator:v0.1.0", wantScheme: "http"},
		{ref: "[::1]:5000/memcached-operator:v0.1.0", wantScheme: "http"},
		{ref: "http://127.0.0.1:5000/memcached-operator:v0.1.0", wantScheme: "http"},
		{ref: "http://registry.example.com/memcached-operator:v0.1.0", wantErr: "plain HTTP is only allowed for a loopback registry"},
		{ref: "http://10.0.0.5:5000/memcached-operator:v0.1.0", wantErr: "10.0.0.5:5000 is not"},
		{ref: "ftp://registry.example.com/xy:v1", wantErr: "unknown scheme"},
		{ref: "Not A Reference", wantErr: "could not parse"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ref, err := ParseReference(tc.ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error with %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ref.Context().Scheme(); got != tc.wantScheme {
				t.Errorf("scheme %s, want %s", got, tc.wantScheme)
			}
		})
	}
	// The refusal is recognizable.
	_, err := ParseReference("http://registry.example.com/xy:v1")
	if !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("want ErrPlainHTTP, got %v", err)
	}
}

// TestPlainHTTPRefusedOffLoopback: go-containerregistry falls back to plain
// HTTP for RFC 1918 and *.local registries; the transport refuses that
// before any connection is made.
func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	called := 0
	tr := loopbackOnlyHTTP{base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called++
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})}
	for _, u := range []string{"http://10.1.2.3:5000/v2/", "http://registry.local/v2/", "http://192.168.1.1/v2/", "http://registry.example.com/v2/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if _, err := tr.RoundTrip(req); !errors.Is(err, ErrPlainHTTP) {
			t.Errorf("%s: want ErrPlainHTTP, got %v", u, err)
		}
	}
	if called != 0 {
		t.Errorf("the base transport was called %d times", called)
	}
	for _, u := range []string{"https://10.1.2.3:5000/v2/", "http://127.0.0.1:5000/v2/", "http://localhost:5000/v2/", "http://[::1]:5000/v2/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if _, err := tr.RoundTrip(req); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}

	// Through a push: the reference is refused before anything is built or sent.
	img, err := BundleImage(BundleOptions{Dir: snapshot(t, DefaultBundleDir)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = anonymous.Push(context.Background(), "http://registry.example.com/memcached-operator-bundle:v0.1.0", img)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP is only allowed for a loopback registry") {
		t.Fatalf("want the plain-HTTP refusal, got %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPushWithDockerConfigCredentials pushes to a registry that wants
// basic auth, with the credentials of a DOCKER_CONFIG directory (the
// default keychain, as `docker login` leaves them).
func TestPushWithDockerConfigCredentials(t *testing.T) {
	ctx := context.Background()
	host := startAuthRegistry(t, "release-bot", "s3cret")
	img, err := BundleImage(BundleOptions{Dir: snapshot(t, DefaultBundleDir)})
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/memcached-operator-bundle:v0.1.0"

	// No credentials: refused, and the error says so.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(t.TempDir(), "none.json"))
	if _, err := (Registry{}).Push(ctx, ref, img); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "docker login") {
		t.Fatalf("want 401 and a hint without credentials, got %v", err)
	}

	// Wrong credentials: refused.
	writeDockerConfig(t, host, "release-bot", "wrong")
	if _, err := (Registry{}).Push(ctx, ref, img); err == nil {
		t.Fatal("pushed with wrong credentials")
	}

	// The right ones.
	writeDockerConfig(t, host, "release-bot", "s3cret")
	p, err := (Registry{}).Push(ctx, ref, img)
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
	got, err := (Registry{}).Digest(ctx, ref)
	if err != nil || got != want {
		t.Errorf("registry digest %s (%v), want %s", got, err, want)
	}
	// And anonymous pulls are refused: the credentials were needed.
	if _, err := anonymous.Pull(ctx, ref); err == nil {
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

func TestRepositoryOf(t *testing.T) {
	for in, want := range map[string]string{
		"quay.io/x/y:v1":                 "quay.io/x/y",
		"localhost:5000/x/y:v1":          "localhost:5000/x/y",
		"localhost:5000/x/y":             "localhost:5000/x/y",
		"docker.io/library/memcached:1":  "docker.io/library/memcached",
		"quay.io/x/y@sha256:abc":         "quay.io/x/y",
		"quay.io/x/y:v1@sha256:abc":      "quay.io/x/y",
		"http://127.0.0.1:5000/x/y:v1.2": "127.0.0.1:5000/x/y",
	} {
		if got := repositoryOf(in); got != want {
			t.Errorf("repositoryOf(%q) = %q, want %q", in, got, want)
		}
	}
}
