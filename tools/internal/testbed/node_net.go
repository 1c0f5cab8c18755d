package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The real node's network, inside 198.18.0.0/15 (RFC 2544's benchmarking
// range), which neither the host nor its DNS server uses:
//
//   - nodeBridge carries nodeAddress: the API server, the kubelet and
//     CoreDNS listen there, and pods reach it as their only gateway;
//   - real pods take addresses from realPodCIDR (kwok's fake pods take the
//     upper half, podCIDR);
//   - Services are in serviceCIDR, routed onto the bridge so that a packet
//     to a Service address that kube-proxy did not translate stays on it
//     and never leaves through the host's own interfaces.
const (
	nodeBridge     = "mcbr0"
	nodeAddress    = "198.18.0.1"
	nodeBridgeCIDR = nodeAddress + "/16"
	realPodCIDR    = "198.18.0.0/17"
	clusterCIDR    = "198.18.0.0/16"
	clusterDomain  = "cluster.local"
	clusterDNSPort = 53
)

// RealNodeName is the real node's Node name (and its hostname label).
const RealNodeName = "real-node"

// createBridge creates the node's bridge with its address and the Service
// route. IPv6 is off on it before it comes up, so the host sends no router
// or neighbour solicitations there.
func createBridge() error {
	if _, err := runOutput("ip", "link", "add", nodeBridge, "type", "bridge"); err != nil {
		return err
	}
	disable := filepath.Join("/proc/sys/net/ipv6/conf", nodeBridge, "disable_ipv6")
	if err := os.WriteFile(disable, []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("disabling IPv6 on %s: %w", nodeBridge, err)
	}
	for _, args := range [][]string{
		{"addr", "add", nodeBridgeCIDR, "dev", nodeBridge},
		{"link", "set", nodeBridge, "up"},
		{"route", "add", serviceCIDR, "dev", nodeBridge},
	} {
		if _, err := runOutput("ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// deleteBridge deletes the bridge, and with it its address and routes.
func deleteBridge() error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", nodeBridge)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := runOutput("ip", "link", "del", nodeBridge)
	return err
}
