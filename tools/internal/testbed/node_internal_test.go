package testbed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/example-inc/memcached-operator/tools/internal/golden"
)

func testNodeConfig() nodeConfig {
	l := layout{dir: "/state"}
	return nodeConfig{
		layout: l.node(),
		ports:  nodePorts{Kubelet: 10250, KubeletHealthz: 10248, ProxyHealthz: 10256, ProxyMetrics: 10249, DNSHealth: 8080, DNSReady: 8181, Registry: 5000},
		runc:   "/usr/sbin/runc", caFile: l.pki("ca.crt"),
		proxyKubeconfig: l.componentKubeconfig(KubeProxy), dnsKubeconfig: l.componentKubeconfig(CoreDNS),
	}
}

// TestNodeConfigs pins the node's configuration files: the settings the
// notes found necessary (cgroup v1 accepted, restrict_oom_score_adj, every
// path under the state directory, no iptables chains from the kubelet,
// conntrack untouched, CoreDNS without forwarding) are reviewed in the
// golden files.
func TestNodeConfigs(t *testing.T) {
	cfg := testNodeConfig()
	for name, render := range map[string]func() ([]byte, error){
		"containerd-config.toml": cfg.containerd,
		"kubelet.yaml":           cfg.kubelet,
		"kube-proxy.yaml":        cfg.kubeProxy,
		"cni.conflist":           cfg.cniNetwork,
		"Corefile":               func() ([]byte, error) { return cfg.corefile(), nil },
		"resolv.conf":            func() ([]byte, error) { return resolvConf(), nil },
	} {
		t.Run(name, func(t *testing.T) {
			got, err := render()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "node", name+".golden"), got)
		})
	}
}

func TestContainerdConfigParses(t *testing.T) {
	data, err := testNodeConfig().containerd()
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if _, err := toml.Decode(string(data), &cfg); err != nil {
		t.Fatalf("containerd's config does not parse: %v", err)
	}
}

// TestMirrorHosts checks containerd's certs.d: every mirrored registry and
// the catch-all go to the loopback registry with override_path (nothing
// else is ever tried), and the files read back as written.
func TestMirrorHosts(t *testing.T) {
	dir := t.TempDir()
	if err := writeMirrorHosts(dir, "127.0.0.1:5000"); err != nil {
		t.Fatal(err)
	}
	want := map[string]hostsFile{
		"quay.io":                    {Server: "http://127.0.0.1:5000/v2/quay.io", OverridePath: true},
		"docker.io":                  {Server: "http://127.0.0.1:5000/v2/docker.io", OverridePath: true},
		"registry.k8s.io":            {Server: "http://127.0.0.1:5000/v2/registry.k8s.io", OverridePath: true},
		"_default":                   {Server: "http://127.0.0.1:5000/v2/_unmirrored", OverridePath: true},
		"127.0.0.1_5000_":            {Server: "http://127.0.0.1:5000"},
		"ghcr.io":                    {Server: "http://127.0.0.1:5000/v2/ghcr.io", OverridePath: true},
		"gcr.io":                     {Server: "http://127.0.0.1:5000/v2/gcr.io", OverridePath: true},
		"registry.access.redhat.com": {Server: "http://127.0.0.1:5000/v2/registry.access.redhat.com", OverridePath: true},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("certs.d holds %d folders, want %d", len(entries), len(want))
	}
	for folder, w := range want {
		var got hostsFile
		if _, err := toml.DecodeFile(filepath.Join(dir, folder, "hosts.toml"), &got); err != nil || got != w {
			t.Errorf("%s/hosts.toml = %+v (%v), want %+v", folder, got, err, w)
		}
	}
}

func TestRegistryRef(t *testing.T) {
	r := &Registry{host: "127.0.0.1:5000"}
	for in, want := range map[string]string{
		"quay.io/example-inc/memcached-operator:v0.4.0": "127.0.0.1:5000/quay.io/example-inc/memcached-operator:v0.4.0",
		"memcached:1.6.38-alpine":                       "127.0.0.1:5000/docker.io/library/memcached:1.6.38-alpine",
		"docker.io/prom/x:v1":                           "127.0.0.1:5000/docker.io/prom/x:v1",
		"registry.k8s.io/pause:3.10.1":                  "127.0.0.1:5000/registry.k8s.io/pause:3.10.1",
		"quay.io/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000": "127.0.0.1:5000/quay.io/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	} {
		if got, err := r.Ref(in); err != nil || got != want {
			t.Errorf("Ref(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := r.Ref("Not A Reference"); err == nil {
		t.Error("a bad reference was accepted")
	}
}

// TestCheckHost covers the preflight's answers without needing another
// host: every error is one line naming what is missing.
func TestCheckHost(t *testing.T) {
	all := func(string) (string, error) { return "/usr/sbin/x", nil }
	none := func(string) (string, error) { return "", errors.New("not found") }
	yes := func(string) bool { return true }
	tests := []struct {
		name        string
		facts       hostFacts
		wantErr     string
		wantMissing []string
	}{
		{"darwin", hostFacts{goos: "darwin", lookPath: all, exists: yes}, "needs Linux (this is darwin)", nil},
		{"not root", hostFacts{goos: "linux", euid: 1000, lookPath: all, exists: yes}, "needs root (running as uid 1000)", nil},
		{"complete", hostFacts{goos: "linux", lookPath: all, exists: yes}, "", nil},
		{"nothing installed", hostFacts{goos: "linux", lookPath: none, exists: func(string) bool { return false }}, "",
			[]string{"runc", "containernetworking-plugins", "nftables", "iptables", "iproute2", "mount", "util-linux"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			missing, _, err := checkHost(tt.facts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %v, want one line with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(missing, " ") != strings.Join(tt.wantMissing, " ") {
				t.Errorf("missing %v (%v), want %v", missing, err, tt.wantMissing)
			}
		})
	}
}

func TestIptablesRestoreScript(t *testing.T) {
	before := parseIptablesSave(`# Generated by iptables-save
*filter
:INPUT ACCEPT [10:200]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:HOST-OWN - [0:0]
-A INPUT -j HOST-OWN
COMMIT
`)
	now := parseIptablesSave(`*filter
:INPUT ACCEPT [99:9999]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:HOST-OWN - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
-A INPUT -j HOST-OWN
-A INPUT -j KUBE-FIREWALL
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -j DROP
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:KUBE-IPTABLES-HINT - [0:0]
COMMIT
`)
	want := `*filter
-D INPUT -j KUBE-FIREWALL
-D OUTPUT -j KUBE-FIREWALL
-D KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -j DROP
-P FORWARD ACCEPT
-F KUBE-FIREWALL
-F KUBE-KUBELET-CANARY
-X KUBE-FIREWALL
-X KUBE-KUBELET-CANARY
COMMIT
*mangle
-F KUBE-IPTABLES-HINT
-X KUBE-IPTABLES-HINT
COMMIT
`
	if got := iptablesRestoreScript(before, now); got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
	if got := iptablesRestoreScript(before, before); got != "" {
		t.Errorf("nothing changed, yet the script is %q", got)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/tmp/a\040b\011c`); got != "/tmp/a b\tc" {
		t.Errorf("got %q", got)
	}
}

func TestTopmostMissing(t *testing.T) {
	dir := t.TempDir()
	if got := topmostMissing(filepath.Join(dir, "a", "b", "c")); got != filepath.Join(dir, "a") {
		t.Errorf("got %q, want %s/a", got, dir)
	}
	if got := topmostMissing(dir); got != "" {
		t.Errorf("an existing directory is reported missing: %q", got)
	}
}
