package imageref

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParse(t *testing.T) {
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
			ref, err := Parse(tc.ref)
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
	_, err := Parse("http://registry.example.com/xy:v1")
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

}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRepository(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		"quay.io/x/y:v1":                 "quay.io/x/y",
		"localhost:5000/x/y:v1":          "localhost:5000/x/y",
		"localhost:5000/x/y":             "localhost:5000/x/y",
		"docker.io/library/memcached:1":  "docker.io/library/memcached",
		"quay.io/x/y@" + digest:          "quay.io/x/y",
		"quay.io/x/y:v1@" + digest:       "quay.io/x/y",
		"http://127.0.0.1:5000/x/y:v1.2": "127.0.0.1:5000/x/y",
	} {
		if got, err := Repository(in); err != nil || got != want {
			t.Errorf("Repository(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestResolverRefusesPlainHTTPOffLoopback: the digest resolver `make bundle
// USE_IMAGE_DIGESTS=true` uses never asks a non-loopback registry over
// plain HTTP, neither when told to (http://) nor when go-containerregistry
// falls back to it (RFC 1918 and *.local hosts, whose HTTPS fails here).
func TestResolverRefusesPlainHTTPOffLoopback(t *testing.T) {
	var plain []string
	reg := Registry{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme == "http" {
			plain = append(plain, r.URL.String())
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		}
		return nil, errors.New("connection refused")
	})}
	for _, image := range []string{
		"10.1.2.3:5000/memcached-operator:v0.1.0",
		"192.168.1.1/memcached-operator:v0.1.0",
		"registry.local/memcached-operator:v0.1.0",
		"http://registry.example.com/memcached-operator:v0.1.0",
	} {
		got, err := Resolver{Registry: reg}.Resolve(context.Background(), image)
		if !errors.Is(err, ErrPlainHTTP) {
			t.Errorf("%s: resolved to %q (%v); want ErrPlainHTTP", image, got, err)
		}
	}
	if len(plain) > 0 {
		t.Errorf("plain-HTTP requests reached the transport: %v", plain)
	}
}

// TestResolverPinned: an image the caller pinned (one a release is about
// to push) is not asked for; the repository stays as written.
func TestResolverPinned(t *testing.T) {
	reg := Registry{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("asked %s", r.URL)
		return nil, errors.New("no network")
	})}
	pinned := mustHash(t, "sha256:"+strings.Repeat("cd", 32))
	got, err := Resolver{Registry: reg, Pinned: map[string]v1.Hash{"docker.io/library/memcached:1.6": pinned}}.Resolve(context.Background(), "docker.io/library/memcached:1.6")
	if err != nil || got != "docker.io/library/memcached@"+pinned.String() {
		t.Errorf("Resolve = %q, %v", got, err)
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSplit(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		in      string
		want    Parts
		wantErr string
	}{
		{in: "quay.io/example/op:v0.1.0", want: Parts{Repository: "quay.io/example/op", Tag: "v0.1.0"}},
		{in: "localhost:5000/op", want: Parts{Repository: "localhost:5000/op"}},
		{in: "op:tag@" + digest, want: Parts{Repository: "op", Tag: "tag", Digest: digest}},
		{in: "quay.io/op@sha256:short", wantErr: "is not sha256"},
		{in: "quay.io/op:", wantErr: `tag ""`},
		{in: "::", wantErr: `repository ":"`},
		{in: ":v1", wantErr: "empty repository"},
		{in: "Quay.io/Op", wantErr: `repository "Quay.io/Op"`},
	} {
		got, err := Split(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Split(%q): error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Split(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
