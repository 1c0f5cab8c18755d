package atomicdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Marker is the file that StageOwnedDir and ResetOwnedDir write into the
// directories they create: its presence says that the directory is the
// tools' output, which they may replace. A user's directory has none, so a
// mistyped flag cannot wipe it.
const Marker = ".memcached-operator-tools"

// markerText says what the marker is for, to whoever finds it.
const markerText = "This directory is output of memcached-operator's tools (bin/tools), which\n" +
	"replace it on every run. Without this file they refuse to touch it.\n"

// CheckReplaceable returns nil when dir may be replaced by the tools: it does
// not exist, is an empty directory, or holds Marker. Anything else — a
// directory with other content, a file — is refused with an error naming
// flag (the option that named dir).
func CheckReplaceable(flag, dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: refusing to replace it: %w", flag, dir, err)
	case len(entries) == 0:
		return nil
	}
	if fi, err := os.Lstat(filepath.Join(dir, Marker)); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s %s: refusing to replace a directory that is not empty and was not created by the tools (it has no %s file): remove it yourself or name another directory",
		flag, dir, Marker)
}

// StageOwnedDir is StageDir for a directory the tools own: it refuses a
// destination that CheckReplaceable refuses, and writes Marker into the
// staged directory.
func StageOwnedDir(flag, dst string) (*Dir, error) {
	if err := CheckReplaceable(flag, dst); err != nil {
		return nil, err
	}
	d, err := StageDir(dst)
	if err != nil {
		return nil, err
	}
	if err := WriteMarker(d.Path()); err != nil {
		return nil, errors.Join(err, Discard(d))
	}
	return d, nil
}

// ResetOwnedDir empties dir, a work directory the tools own, or creates it:
// it refuses one that CheckReplaceable refuses, and leaves Marker in it.
func ResetOwnedDir(flag, dir string) error {
	if err := CheckReplaceable(flag, dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	return WriteMarker(dir)
}

// WriteMarker writes Marker into dir, a directory the tools created and
// own, so that CheckReplaceable (and the tools' own checks) accept it.
func WriteMarker(dir string) error {
	return os.WriteFile(filepath.Join(dir, Marker), []byte(markerText), 0o644)
}
