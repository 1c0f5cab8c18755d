package testbed

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// HostMirror serves the mirrored registries to host tools, as containerd's
// mirror configuration serves them to the node: the tool pulls
// quay.io/x/y:t unchanged and gets 127.0.0.1:PORT/quay.io/x/y:t from the
// loopback registry. operator-sdk needs it: `run bundle` reads the labels of
// its index image, quay.io/operator-framework/opm:latest, from the host
// before anything runs in the cluster, and no flag makes it read them from
// elsewhere without leaving its File-Based Catalog path.
//
// It is an HTTPS proxy on 127.0.0.1 (the tool gets HTTPS_PROXY, Env): a
// CONNECT to a mirrored registry's port 443 is answered by the proxy itself,
// with a certificate of a CA of its own that the tool trusts through
// SSL_CERT_FILE, and each request is sent to the loopback registry under
// /v2/<registry>/. It dials nothing else and resolves no name; a CONNECT to
// any other host is refused, so a tool's request for an unmirrored image
// fails on the machine. Only pulls (GET, HEAD) pass.
type HostMirror struct {
	registryHost string
	listener     net.Listener
	server       *http.Server
	transport    *http.Transport
	ca           keyPair
	caFile       string
	log          *log.Logger
	logFile      *os.File

	mu    sync.Mutex
	certs map[string]*tls.Certificate
}

// dockerHubAPIHosts are where Docker Hub's clients send docker.io's
// requests: containerd's resolver (operator-sdk's) and go-containerregistry.
var dockerHubAPIHosts = []string{"registry-1.docker.io", "index.docker.io"}

// StartHostMirror starts the registry's host mirror on a free loopback port.
// Its CA certificate and its request log are written into dir.
func (r *Registry) StartHostMirror(dir string) (*HostMirror, error) {
	ca, err := newCA()
	if err != nil {
		return nil, fmt.Errorf("host mirror: %w", err)
	}
	m := &HostMirror{
		registryHost: r.host, ca: ca, caFile: filepath.Join(dir, "host-mirror-ca.crt"),
		certs:     map[string]*tls.Certificate{},
		transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second},
	}
	if err := os.WriteFile(m.caFile, ca.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("host mirror: writing its CA certificate: %w", err)
	}
	if m.logFile, err = os.OpenFile(filepath.Join(dir, "host-mirror.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("host mirror: %w", err)
	}
	m.log = log.New(m.logFile, "", log.LstdFlags)
	if m.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		_ = m.logFile.Close()
		return nil, fmt.Errorf("host mirror: %w", err)
	}
	m.server = &http.Server{Handler: http.HandlerFunc(m.connect), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.server.Serve(m.listener) }()
	return m, nil
}

// Env is the environment of a host tool that pulls through the mirror.
// The API server and every other address of the cluster stay direct. The
// caller drops any proxy variables of its own environment.
func (m *HostMirror) Env() []string {
	return []string{
		"HTTPS_PROXY=http://" + m.listener.Addr().String(),
		"NO_PROXY=127.0.0.0/8,198.18.0.0/15,localhost",
		"SSL_CERT_FILE=" + m.caFile,
	}
}

// LogFile is the proxy's request log: every CONNECT and every request.
func (m *HostMirror) LogFile() string { return m.logFile.Name() }

// Close stops the proxy and its connections.
func (m *HostMirror) Close() error {
	err := m.server.Close()
	m.transport.CloseIdleConnections()
	return errors.Join(err, m.logFile.Close())
}

// connect answers a CONNECT to a mirrored registry and serves the tunnel
// itself.
func (m *HostMirror) connect(w http.ResponseWriter, r *http.Request) {
	registry, ok := mirroredRegistry(r.Host)
	if r.Method != http.MethodConnect || !ok {
		m.log.Printf("refused %s %s: not a CONNECT to a mirrored registry", r.Method, r.Host)
		http.Error(w, "the host mirror tunnels only to "+strings.Join(MirroredRegistries, ", "), http.StatusForbidden)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		_ = conn.Close()
		return
	}
	m.log.Printf("CONNECT %s", r.Host)
	tlsConn := tls.Server(conn, &tls.Config{
		GetCertificate: m.certificate, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12,
	})
	go m.serveTunnel(tlsConn, registry)
}

// mirroredRegistry maps host:443 to the registry it stands for.
func mirroredRegistry(hostPort string) (string, bool) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || port != "443" {
		return "", false
	}
	if slices.Contains(dockerHubAPIHosts, host) {
		host = "docker.io"
	}
	return host, slices.Contains(MirroredRegistries, host)
}

// certificate issues, once per name, the certificate the tunnel presents.
func (m *HostMirror) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.certs[hello.ServerName]; ok {
		return c, nil
	}
	kp, err := m.ca.issue(x509.Certificate{
		Subject: pkix.Name{CommonName: hello.ServerName}, DNSNames: []string{hello.ServerName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	m.certs[hello.ServerName] = &c
	return &c, nil
}

// serveTunnel reads the tool's requests from the tunnel, one after the
// other, and writes the loopback registry's answers back.
func (m *HostMirror) serveTunnel(conn *tls.Conn, registry string) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		resp, err := m.forward(req, registry)
		if err != nil {
			m.log.Printf("%s %s%s: %v", req.Method, registry, req.URL.Path, err)
			resp = &http.Response{StatusCode: http.StatusBadGateway, ProtoMajor: 1, ProtoMinor: 1, Request: req,
				Header: http.Header{}, Body: io.NopCloser(strings.NewReader(err.Error())), ContentLength: int64(len(err.Error())), Close: true}
		}
		err = resp.Write(conn)
		_ = resp.Body.Close()
		if err != nil || resp.Close {
			return
		}
	}
}

// forward sends one request of the tunnel to the loopback registry, where
// registry's repositories live under /v2/<registry>/.
func (m *HostMirror) forward(req *http.Request, registry string) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil, fmt.Errorf("%s refused: the host mirror serves pulls only", req.Method)
	}
	path := req.URL.Path
	if rest, ok := strings.CutPrefix(path, "/v2/"); ok && rest != "" {
		path = "/v2/" + registry + "/" + rest
	}
	u := "http://" + m.registryHost + path
	if req.URL.RawQuery != "" {
		u += "?" + req.URL.RawQuery
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, u, nil)
	if err != nil {
		return nil, err
	}
	out.Header = req.Header.Clone()
	resp, err := m.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	m.log.Printf("%s https://%s%s -> %s %s", req.Method, registry, req.URL.Path, u, resp.Status)
	return resp, nil
}
