package nodetest

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// HostSnapshot is what a real node may change on the host, one sorted
// text per aspect, so that a difference reads as added and removed lines.
type HostSnapshot map[string][]string

// volatileSysctls change on their own and say nothing about the node.
var volatileSysctls = []string{"kernel/random/", "kernel/ns_last_pid", "net/netfilter/nf_conntrack_count", "kernel/pty/nr"}

// watchedPaths are host directories a kubelet, containerd or CNI plugin
// writes by default, or the node uses; the lock file is left out, since
// the snapshot is taken holding it.
var watchedPaths = []string{
	"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/etc/cni", "/opt/cni",
	"/run/containerd", "/var/lib/containerd", "/etc/containerd", "/run/runc", "/run/netns", "/var/run/netns",
	"/usr/libexec/kubernetes", "/etc/kubernetes", "/var/lib/nri", "/run/nri", "/run/memcached-operator-node",
	"/etc/containerd/certs.d", "/etc/docker/certs.d", "/tmp/containerd-mount",
}

// LockedSnapshot records the host while holding the real node's
// machine-wide lock, so that no other package's node is half-way up or
// down meanwhile. It waits up to 45 minutes: `make test` runs every
// package that starts a node at once, and they queue on the lock.
func LockedSnapshot(t testing.TB) HostSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Minute)
	defer cancel()
	release, err := testbed.LockRealNode(ctx)
	if err != nil {
		t.Fatalf("taking the real node's lock for a host snapshot: %v", err)
	}
	defer func() {
		if err := release(); err != nil {
			t.Errorf("releasing the real node's lock: %v", err)
		}
	}()
	s := HostSnapshot{"sysctls": sysctls(t), "paths": existing(watchedPaths), "cgroups": topCgroups(t)}
	for aspect, argv := range map[string][]string{
		"iptables": {"iptables-save"}, "ip6tables": {"ip6tables-save"}, "nft": {"nft", "list", "ruleset"},
		"links": {"ip", "-o", "link", "show"}, "routes": {"ip", "route", "show", "table", "all"},
		"routes6": {"ip", "-6", "route", "show", "table", "all"}, "rules": {"ip", "rule", "show"},
	} {
		s[aspect] = commandLines(t, argv)
	}
	s["mounts"] = mounts(t)
	return s
}

// commandLines runs a command and returns its sorted output lines without
// comments (iptables-save dates its output) and counters.
func commandLines(t testing.TB, argv []string) []string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	var lines []string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, ":") { // an iptables chain's packet counters
			line, _, _ = strings.Cut(line, " [")
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

func sysctls(t testing.TB) []string {
	t.Helper()
	var lines []string
	for _, top := range []string{"kernel", "vm", "net"} {
		_ = filepath.WalkDir(filepath.Join("/proc/sys", top), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel := strings.TrimPrefix(path, "/proc/sys/")
			if slices.ContainsFunc(volatileSysctls, func(v string) bool { return strings.HasPrefix(rel, v) }) {
				return nil
			}
			if info, err := d.Info(); err != nil || info.Mode().Perm()&0o200 == 0 {
				return nil
			}
			if data, err := os.ReadFile(path); err == nil {
				lines = append(lines, rel+"="+strings.Join(strings.Fields(string(data)), " "))
			}
			return nil
		})
	}
	return lines
}

func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// topCgroups lists the cgroups at the top of every hierarchy.
func topCgroups(t testing.TB) []string {
	t.Helper()
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
	}
	slices.Sort(out)
	return out
}

// mounts lists mount points with their file system types.
func mounts(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		fields, fs := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(fs) >= 1 {
			out = append(out, fields[4]+" "+fs[0])
		}
	}
	slices.Sort(out)
	return out
}

// CompareHost fails the test with every line that differs between two
// snapshots.
func CompareHost(t testing.TB, before, after HostSnapshot) {
	t.Helper()
	for _, aspect := range slices.Sorted(maps.Keys(before)) {
		if gone, added := lineDiff(before[aspect], after[aspect]); len(gone)+len(added) > 0 {
			t.Errorf("host %s differ after the real node's teardown:\n  gone: %s\n  added: %s", aspect,
				strings.Join(gone, "\n        "), strings.Join(added, "\n         "))
		}
	}
}

func lineDiff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		count[l]--
	}
	for l, n := range count {
		for ; n > 0; n-- {
			onlyA = append(onlyA, l)
		}
		for ; n < 0; n++ {
			onlyB = append(onlyB, l)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}

// NodeProcesses lists the processes that belong to a real node: in its
// cgroup, running one of the binaries of nodeBin, or naming stateDir on
// their command line.
func NodeProcesses(stateDir, nodeBin string) []string {
	self := fmt.Sprint(os.Getpid())
	binDir, _ := filepath.EvalSymlinks(nodeBin)
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid := e.Name()
		if pid == self || pid[0] < '0' || pid[0] > '9' {
			continue
		}
		// A zombie is dead; reaping a detached process is init's business.
		if stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat")); err != nil || zombie(stat) {
			continue
		}
		cgroup, _ := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
		exe, _ := os.Readlink(filepath.Join("/proc", pid, "exe"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if strings.Contains(string(cgroup), "memcached-operator-node") || (binDir != "" && strings.HasPrefix(exe, binDir+"/")) ||
			strings.Contains(string(cmdline), stateDir+"/") {
			out = append(out, pid+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// zombie reports whether /proc/PID/stat describes an exited process that
// was not reaped yet; the state follows the parenthesised command name.
func zombie(stat []byte) bool {
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}
