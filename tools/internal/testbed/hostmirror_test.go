package testbed

import (
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestHostMirror pulls quay.io/x/y:t and Docker Hub's library/busybox
// through the host mirror as a host tool does (HTTPS_PROXY, the mirror's
// CA) and gets the images pushed to the loopback registry under those
// names; a registry that is not mirrored is refused, and so is a push.
func TestHostMirror(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	want := map[string]string{}
	for upstream, stored := range map[string]string{
		"quay.io/x/y:t": host + "/quay.io/x/y:t", "busybox:1": host + "/docker.io/library/busybox:1",
	} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(parseRef(t, stored, name.Insecure), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		want[upstream] = d.String()
	}
	m, err := (&Registry{host: host}).StartHostMirror(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tr := mirrorClientTransport(t, m)
	for ref, digest := range want {
		desc, err := remote.Get(parseRef(t, ref), remote.WithTransport(tr))
		if err != nil {
			t.Fatalf("pulling %s through the host mirror: %v", ref, err)
		}
		if desc.Digest.String() != digest {
			t.Errorf("%s through the host mirror is %s, want %s", ref, desc.Digest, digest)
		}
	}
	if _, err := remote.Get(name.MustParseReference("example.com/x/y:t"), remote.WithTransport(tr)); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("pulling from an unmirrored registry: %v, want the proxy's refusal", err)
	}
	img, _ := random.Image(16, 1)
	if err := remote.Write(name.MustParseReference("quay.io/x/pushed:t"), img, remote.WithTransport(tr)); err == nil {
		t.Error("a push through the host mirror went through")
	}
	if log, _ := os.ReadFile(m.LogFile()); !strings.Contains(string(log), "CONNECT quay.io:443") {
		t.Errorf("the mirror's log does not show the tunnel:\n%s", log)
	}
}

// mirrorClientTransport is how a Go tool with the mirror's Env connects:
// through the proxy, trusting the mirror's CA only.
func mirrorClientTransport(t *testing.T, m *HostMirror) *http.Transport {
	t.Helper()
	env := map[string]string{}
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	proxy, err := url.Parse(env["HTTPS_PROXY"])
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("the mirror's CA file holds no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(proxy)
	tr.TLSClientConfig.RootCAs = roots
	return tr
}

func parseRef(t *testing.T, ref string, opts ...name.Option) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
