package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ledgerFileName is the host ledger's file in the state directory: written
// before the first change to the host, removed once every change is undone.
// Its presence is what tells `tools local down` (and the next real-node
// start) that a run must still be cleaned up.
const ledgerFileName = "host-ledger.json"

// nodeRunDir holds the real node's sockets: containerd's and its shims'.
// A socket path is limited to 107 bytes, which a state directory deep in a
// checkout can exceed; one node per machine (the lock) makes a fixed
// directory safe.
const nodeRunDir = "/run/memcached-operator-node"

// hostPaths are the directories outside the state directory that the
// kubelet, containerd or the CNI plugins create whatever they are told
// (device-plugins, /var/log/containers and the CNI result cache are
// hard-coded), or would create with a default setting. The ledger records
// which did not exist, and teardown removes those.
var hostPaths = []string{
	"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/etc/cni", "/opt/cni",
	"/run/containerd", "/var/lib/containerd", "/etc/containerd", "/run/runc", "/run/netns",
	"/usr/libexec/kubernetes", "/etc/kubernetes", "/var/lib/nri", "/run/nri", nodeRunDir,
}

// hostSysctls are the sysctls a kubelet, kube-proxy or CNI plugin may set
// (the kubelet's kernel tunables; forwarding; conntrack and bridge-netfilter
// settings), relative to /proc/sys. hostSysctlDirs are recorded whole.
var (
	hostSysctls = []string{
		"kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
		"vm/overcommit_memory", "vm/panic_on_oom", "net/ipv4/ip_forward",
	}
	hostSysctlDirs = []string{
		"net/ipv4/conf/all", "net/ipv4/conf/default", "net/ipv6/conf/all", "net/ipv6/conf/default",
		"net/netfilter", "net/bridge",
	}
)

// foreignCgroups are cgroups a container runtime or kubelet creates at a
// hierarchy's top when it is not told otherwise; the ledger records which
// did not exist so that teardown removes them if they appear.
var foreignCgroups = []string{"k8s.io", "kubepods", "kubepods.slice"}

// hostLedger is what the host looked like before a real node changed it:
// enough to put everything back from another process, after a crash
// included.
type hostLedger struct {
	Recorded time.Time `json:"recorded"`
	// Sysctls maps a path under /proc/sys to its value.
	Sysctls map[string]string `json:"sysctls"`
	// IptablesSave maps iptables-save and ip6tables-save to their output.
	IptablesSave map[string]string `json:"iptablesSave"`
	// NftTables are `nft list tables` lines ("table ip filter").
	NftTables []string `json:"nftTables"`
	// Links are the network interfaces.
	Links []string `json:"links"`
	// Missing are the topmost missing directories of hostPaths.
	Missing []string `json:"missing"`
	// Cgroups are the foreignCgroups that did not exist, relative to each
	// hierarchy root.
	Cgroups []string `json:"cgroups"`
	// CgroupRoots are the hierarchies' mount points.
	CgroupRoots []string `json:"cgroupRoots"`
}

// recordHost takes the ledger. It fails rather than record half: a change
// that cannot be undone must not be made.
func recordHost() (*hostLedger, error) {
	l := &hostLedger{Recorded: time.Now(), Sysctls: readSysctls(), IptablesSave: map[string]string{}}
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		out, err := runOutput(cmd)
		if err != nil {
			return nil, err
		}
		l.IptablesSave[cmd] = out
	}
	tables, err := nftTables()
	if err != nil {
		return nil, err
	}
	l.NftTables = tables
	if l.Links, err = linkNames(); err != nil {
		return nil, err
	}
	for _, p := range hostPaths {
		if top := topmostMissing(p); top != "" && !slices.Contains(l.Missing, top) {
			l.Missing = append(l.Missing, top)
		}
	}
	if l.CgroupRoots, err = cgroupRoots(); err != nil {
		return nil, err
	}
	for _, name := range foreignCgroups {
		if !existsInAny(l.CgroupRoots, name) {
			l.Cgroups = append(l.Cgroups, name)
		}
	}
	return l, nil
}

// readSysctls reads hostSysctls and every writable file of hostSysctlDirs;
// a sysctl that does not exist (a module not loaded) is left out.
func readSysctls() map[string]string {
	values := map[string]string{}
	read := func(rel string) {
		if data, err := os.ReadFile(filepath.Join("/proc/sys", rel)); err == nil {
			values[rel] = strings.TrimSpace(string(data))
		}
	}
	for _, rel := range hostSysctls {
		read(rel)
	}
	for _, dir := range hostSysctlDirs {
		entries, _ := os.ReadDir(filepath.Join("/proc/sys", dir))
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o200 != 0 {
				read(filepath.Join(dir, e.Name()))
			}
		}
	}
	return values
}

func runOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// nftTables lists the nftables tables of every family.
func nftTables() ([]string, error) {
	out, err := runOutput("nft", "list", "tables")
	if err != nil {
		return nil, err
	}
	var tables []string
	for line := range strings.Lines(out) {
		if line = strings.TrimSpace(line); line != "" {
			tables = append(tables, line)
		}
	}
	return tables, nil
}

func linkNames() ([]string, error) {
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// topmostMissing returns the highest directory of p's path that does not
// exist (p itself when only p is missing), or "" when p exists.
func topmostMissing(p string) string {
	if _, err := os.Lstat(p); err == nil {
		return ""
	}
	top := p
	for dir := filepath.Dir(p); dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); err == nil {
			break
		}
		top = dir
	}
	return top
}

func existsInAny(roots []string, rel string) bool {
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, rel)); err == nil {
			return true
		}
	}
	return false
}

func writeLedger(path string, l *hostLedger) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the host ledger: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the host ledger: %w", err)
	}
	return nil
}

// readLedger returns the ledger at path, or nil when there is none.
func readLedger(path string) (*hostLedger, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the host ledger: %w", err)
	}
	var l hostLedger
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("parsing the host ledger %s: %w", path, err)
	}
	return &l, nil
}
