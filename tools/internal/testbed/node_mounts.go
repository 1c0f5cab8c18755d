package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// mountEntry is one mount of this process's mount namespace (the host's:
// node processes never run in one of their own).
type mountEntry struct {
	point  string
	fsType string
}

// readMounts returns the mounts in /proc/self/mountinfo order (the order
// they were mounted in).
func readMounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	var mounts []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, fsFields := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && len(fsFields) >= 1 {
			mounts = append(mounts, mountEntry{point: unescapeMountPath(fields[4]), fsType: fsFields[0]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	return mounts, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountsUnder returns the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	mounts, err := readMounts()
	if err != nil {
		return nil, err
	}
	var under []string
	for _, m := range mounts {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			under = append(under, m.point)
		}
	}
	// A later mount can sit on an earlier one at the same point: unmount
	// in reverse order of mounting, longest paths first.
	slices.Reverse(under)
	slices.SortStableFunc(under, func(a, b string) int { return len(b) - len(a) })
	return under, nil
}

// unmountUnder detaches every mount at or below each dir (the kubelet's
// volumes and its bind mount of its root directory, containerd's rootfs
// overlays and network namespace files), so that the directories can be
// removed without reaching into a mounted file system.
func unmountUnder(dirs ...string) error {
	var errs []error
	for _, dir := range dirs {
		// Up to a few rounds: a mount can be stacked several times.
		for range 5 {
			points, err := mountsUnder(dir)
			if err != nil {
				return err
			}
			if len(points) == 0 {
				break
			}
			for _, p := range points {
				if err := unmountDetach(p); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
					errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
				}
			}
		}
		if points, err := mountsUnder(dir); err == nil && len(points) > 0 {
			errs = append(errs, fmt.Errorf("still mounted after unmounting: %s", strings.Join(points, ", ")))
		}
	}
	return errors.Join(errs...)
}

// removeAllUnmounted removes dir like os.RemoveAll, but refuses while
// anything is mounted below it: RemoveAll would delete the contents of a
// host directory bind-mounted into a pod's volume.
func removeAllUnmounted(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(points) > 0 {
		return fmt.Errorf("not removing %s: %s still mounted below it", dir, strings.Join(points, ", "))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", filepath.Clean(dir), err)
	}
	return nil
}
