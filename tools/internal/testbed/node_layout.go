package testbed

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// nodeLayout names the real node's files: everything under the state
// directory's node/ folder, except its sockets (nodeRunDir).
type nodeLayout struct {
	dir string
}

func (l layout) node() nodeLayout          { return nodeLayout{dir: filepath.Join(l.dir, "node")} }
func (l layout) ledgerFile() string        { return filepath.Join(l.dir, ledgerFileName) }
func (n nodeLayout) containerdDir() string { return filepath.Join(n.dir, "containerd") }
func (n nodeLayout) containerdConfig() string {
	return filepath.Join(n.containerdDir(), "config.toml")
}
func (n nodeLayout) certsDir() string         { return filepath.Join(n.containerdDir(), "certs.d") }
func (n nodeLayout) kubeletRoot() string      { return filepath.Join(n.dir, "kubelet") }
func (n nodeLayout) kubeletCertDir() string   { return filepath.Join(n.dir, "kubelet-pki") }
func (n nodeLayout) kubeletConfig() string    { return filepath.Join(n.dir, "kubelet.yaml") }
func (n nodeLayout) podLogs() string          { return filepath.Join(n.dir, "pod-logs") }
func (n nodeLayout) volumePlugins() string    { return filepath.Join(n.dir, "volume-plugins") }
func (n nodeLayout) cniConfDir() string       { return filepath.Join(n.dir, "cni", "conf") }
func (n nodeLayout) cniIPAMDir() string       { return filepath.Join(n.dir, "cni", "ipam") }
func (n nodeLayout) proxyConfig() string      { return filepath.Join(n.dir, "kube-proxy.yaml") }
func (n nodeLayout) corefile() string         { return filepath.Join(n.dir, "Corefile") }
func (n nodeLayout) resolvConf() string       { return filepath.Join(n.dir, "resolv.conf") }
func (n nodeLayout) registryDir() string      { return filepath.Join(n.dir, "registry") }
func (n nodeLayout) tmpDir() string           { return filepath.Join(n.dir, "tmp") }
func (n nodeLayout) pauseBinary() string      { return filepath.Join(n.dir, "images", "pause") }
func (n nodeLayout) containerdSocket() string { return filepath.Join(nodeRunDir, "containerd.sock") }

// reset removes what an earlier node left below the node folder (after
// making sure nothing is mounted there) and creates its directories.
func (n nodeLayout) reset() error {
	if err := removeAllUnmounted(n.dir); err != nil {
		return fmt.Errorf("cleaning the node's state: %w", err)
	}
	for _, d := range []string{
		n.containerdDir(), n.certsDir(), n.kubeletRoot(), n.kubeletCertDir(), n.podLogs(), n.volumePlugins(),
		n.cniConfDir(), n.cniIPAMDir(), n.registryDir(), n.tmpDir(), filepath.Dir(n.pauseBinary()),
	} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating the node's state: %w", err)
		}
	}
	return nil
}

// nodePorts are the ports the node's processes listen on: the kubelet's
// server on the bridge address (the API server dials it there), everything
// else on loopback.
type nodePorts struct {
	Kubelet        int
	KubeletHealthz int
	ProxyHealthz   int
	ProxyMetrics   int
	DNSHealth      int
	DNSReady       int
	Registry       int
}

// allocateNodePorts picks free ports; the listeners stay open until all
// are picked, so no port is handed out twice.
func allocateNodePorts() (nodePorts, error) {
	var p nodePorts
	targets := []struct {
		port *int
		host string
	}{
		{&p.Kubelet, nodeAddress}, {&p.KubeletHealthz, loopback}, {&p.ProxyHealthz, loopback},
		{&p.ProxyMetrics, loopback}, {&p.DNSHealth, loopback}, {&p.DNSReady, loopback}, {&p.Registry, loopback},
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for _, t := range targets {
		l, err := net.Listen("tcp", net.JoinHostPort(t.host, "0"))
		if err != nil {
			return p, fmt.Errorf("finding a free port on %s: %w", t.host, err)
		}
		listeners = append(listeners, l)
		*t.port = l.Addr().(*net.TCPAddr).Port
	}
	return p, nil
}
