package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// fenceTable is the nftables table that keeps the node's daemons on the
// machine: a packet a process in the node's cgroup sends to anything but
// loopback or the project's range is counted and dropped. It makes the
// network rule (127.0.0.0/8 and 198.18.0.0/15 only; never the host's DNS
// server) enforced rather than hoped for, and its counter is what the
// tests read (Cluster.FencedPackets). Pods need no fence: they have no
// route off the bridge.
const fenceTable = "memcached-operator-node"

// cgroupFSRoot is where nft resolves `socket cgroupv2` paths from.
const cgroupFSRoot = "/sys/fs/cgroup"

// v2NodeCgroup returns the node's cgroup in the v2 hierarchy relative to
// cgroupFSRoot (unified/memcached-operator-node in hybrid mode), or "" when
// the host has no v2 hierarchy.
func v2NodeCgroup(roots []string) string {
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
			continue
		}
		if rel, err := filepath.Rel(cgroupFSRoot, filepath.Join(root, nodeCgroup)); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return ""
}

// installFence loads the fence once the node's cgroups exist (nft resolves
// the cgroup when it loads the rule). Without a v2 hierarchy there is
// nothing to match sockets by, and no fence.
func installFence(roots []string) error {
	cgroup := v2NodeCgroup(roots)
	if cgroup == "" {
		return nil
	}
	rules := fmt.Sprintf(`table inet %[1]s {
	chain out {
		type filter hook output priority 0; policy accept;
		socket cgroupv2 level 1 %[2]q meta nfproto ipv4 ip daddr != { 127.0.0.0/8, 198.18.0.0/15 } counter drop
		socket cgroupv2 level 1 %[2]q meta nfproto ipv6 ip6 daddr != ::1 counter drop
	}
}
`, fenceTable, cgroup)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("real node: loading the network fence: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// FencedPackets returns how many packets the node's daemons tried to send
// off the machine (to anything but 127.0.0.0/8 and 198.18.0.0/15), each
// dropped by the fence. It fails without a real node or a fence.
func (c *Cluster) FencedPackets() (int, error) {
	if c.node == nil {
		return 0, errors.New("no real node")
	}
	out, err := runOutput("nft", "-j", "list", "table", "inet", fenceTable)
	if err != nil {
		return 0, err
	}
	var listing struct {
		Nftables []struct {
			Rule *struct {
				Expr []struct {
					Counter *struct {
						Packets int `json:"packets"`
					} `json:"counter"`
				} `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &listing); err != nil {
		return 0, fmt.Errorf("reading the fence's counters: %w", err)
	}
	total := 0
	for _, obj := range listing.Nftables {
		if obj.Rule == nil {
			continue
		}
		for _, e := range obj.Rule.Expr {
			if e.Counter != nil {
				total += e.Counter.Packets
			}
		}
	}
	return total, nil
}
