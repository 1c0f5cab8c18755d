package testbed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// nodeCgroup is the cgroup, in every hierarchy, that holds everything
	// a real node runs: its daemons in nodeCgroup/daemons, and the pods
	// under nodeCgroup/kubepods (the kubelet's cgroupRoot). containerd's
	// shims inherit the daemons' cgroup, so after a crash every process
	// the node left is found by membership, never by name.
	nodeCgroup        = "memcached-operator-node"
	nodeDaemonsCgroup = nodeCgroup + "/daemons"
)

// cgroupRoots returns the mount points of the cgroup hierarchies: each v1
// hierarchy (cpu, memory, ..., name=systemd) and the v2 one (unified in
// hybrid mode, or /sys/fs/cgroup alone).
func cgroupRoots() ([]string, error) {
	mounts, err := readMounts()
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, m := range mounts {
		if m.fsType == "cgroup" || m.fsType == "cgroup2" {
			roots = append(roots, m.point)
		}
	}
	slices.Sort(roots)
	return slices.Compact(roots), nil
}

// createNodeCgroups creates the node's cgroups in every hierarchy. A v1
// cpuset cgroup starts with no CPUs and no memory nodes, and no process
// can join it until they are copied from its parent.
func createNodeCgroups(roots []string) error {
	for _, root := range roots {
		for _, rel := range []string{nodeCgroup, nodeDaemonsCgroup} {
			dir := filepath.Join(root, rel)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("creating cgroup %s: %w", dir, err)
			}
			for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := copyCgroupFile(dir, file); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func copyCgroupFile(dir, file string) error {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // not a cpuset hierarchy
	}
	if err != nil {
		return fmt.Errorf("reading %s of %s's parent: %w", file, dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
		return fmt.Errorf("setting %s of %s: %w", file, dir, err)
	}
	return nil
}

// joinCgroupWrapper is a ProcessSpec.Wrapper that moves the process into
// the node daemons' cgroup of every hierarchy before it execs, so that
// nothing it spawns can escape it.
func joinCgroupWrapper(roots []string) []string {
	var script strings.Builder
	script.WriteString("for f in")
	for _, root := range roots {
		script.WriteString(" '" + filepath.Join(root, nodeDaemonsCgroup, "cgroup.procs") + "'")
	}
	script.WriteString(`; do echo $$ > "$f" || exit 1; done; exec "$@"`)
	return []string{"sh", "-c", script.String(), "sh"}
}

// cgroupProcs returns the processes in the cgroup dir and every cgroup
// below it.
func cgroupProcs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// killCgroupTrees SIGKILLs every process in the cgroups rel (relative to
// each hierarchy root) and below, until none is left. Where a v1 freezer
// exists the tree is frozen first, so nothing forks between the listing and
// the kill. Membership is proof of ownership: these cgroups were created by
// the node.
func killCgroupTrees(roots []string, rels []string) error {
	deadline := time.Now().Add(killGrace)
	for {
		var pids []int
		for _, root := range roots {
			for _, rel := range rels {
				pids = append(pids, cgroupProcs(filepath.Join(root, rel))...)
			}
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still run in the node's cgroups %s after SIGKILL", pids, killGrace)
		}
		setFrozen(roots, rels, true)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		setFrozen(roots, rels, false)
		time.Sleep(pollInterval)
	}
}

// setFrozen freezes or thaws the v1 freezer cgroups among rels; a killed
// process only dies once thawed.
func setFrozen(roots, rels []string, frozen bool) {
	state := "THAWED"
	if frozen {
		state = "FROZEN"
	}
	for _, root := range roots {
		for _, rel := range rels {
			_ = os.WriteFile(filepath.Join(root, rel, "freezer.state"), []byte(state), 0o644)
		}
	}
}

// removeCgroupTrees removes the cgroups rel of every hierarchy with all the
// cgroups below them, deepest first (a cgroup directory is removed with
// rmdir, and only once empty).
func removeCgroupTrees(roots, rels []string) error {
	var errs []error
	for _, root := range roots {
		for _, rel := range rels {
			var dirs []string
			_ = filepath.WalkDir(filepath.Join(root, rel), func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for _, dir := range slices.Backward(dirs) {
				if err := rmdirRetry(dir); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirRetry removes an empty cgroup; the kernel may need a moment after the
// last process is reaped before it agrees.
func rmdirRetry(dir string) error {
	deadline := time.Now().Add(killGrace)
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(pollInterval)
	}
}
