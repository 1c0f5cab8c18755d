// Package atomicdir replaces generated output — a directory and files beside
// it — so that readers see either the old output or the new one, and a
// failed run leaves the old output untouched.
//
// New output is written to a staging path beside its destination (same
// directory, so the same file system, so rename(2) is atomic); Commit renames
// it into place. Several staged items commit together: if one rename fails,
// the items already committed are rolled back.
package atomicdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Item is something staged beside its destination, waiting to replace it.
type Item interface {
	// Destination is the path the item replaces on Commit.
	Destination() string
	// commit moves the item into place. undo puts the previous content back;
	// finish drops it once every item of a CommitAll is in place.
	commit() (undo func() error, finish func(), err error)
	// discard removes the staged data; it is a no-op after commit.
	discard() error
}

// Dir is a directory staged to replace Destination.
type Dir struct {
	dst string
	// holder is the hidden directory beside dst that holds tmp, the staged
	// directory, which has dst's name: tools that skip hidden directories
	// (operator-framework/api's bundle loader does) can read it.
	holder, tmp string
	committed   bool
}

// StageDir creates an empty directory with dst's name inside a hidden
// directory beside dst (".<name>.tmp-*/<name>"), to be filled and then
// committed in place of dst. dst's parent is created if needed; dst itself
// need not exist.
func StageDir(dst string) (*Dir, error) {
	parent, name := filepath.Split(filepath.Clean(dst))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", parent, err)
	}
	holder, err := os.MkdirTemp(parent, "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("staging %s: %w", dst, err)
	}
	tmp := filepath.Join(holder, name)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		_ = os.RemoveAll(holder)
		return nil, fmt.Errorf("staging %s: %w", dst, err)
	}
	return &Dir{dst: filepath.Clean(dst), holder: holder, tmp: tmp}, nil
}

// Path is the staging directory to write the new content into.
func (d *Dir) Path() string { return d.tmp }

// Destination is the directory that Commit replaces.
func (d *Dir) Destination() string { return d.dst }

func (d *Dir) commit() (func() error, func(), error) {
	old := ""
	if _, err := os.Lstat(d.dst); err == nil {
		// Move the old directory aside under a unique name, then swap.
		aside, err := os.MkdirTemp(filepath.Dir(d.dst), "."+filepath.Base(d.dst)+".old-")
		if err != nil {
			return nil, nil, fmt.Errorf("replacing %s: %w", d.dst, err)
		}
		if err := os.Remove(aside); err != nil {
			return nil, nil, fmt.Errorf("replacing %s: %w", d.dst, err)
		}
		if err := os.Rename(d.dst, aside); err != nil {
			return nil, nil, fmt.Errorf("replacing %s: %w", d.dst, err)
		}
		old = aside
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("replacing %s: %w", d.dst, err)
	}
	if err := os.Rename(d.tmp, d.dst); err != nil {
		if old != "" {
			_ = os.Rename(old, d.dst)
		}
		return nil, nil, fmt.Errorf("replacing %s: %w", d.dst, err)
	}
	d.committed = true
	undo := func() error {
		// Put the new directory back to staging and the old one in place.
		if err := os.Rename(d.dst, d.tmp); err != nil {
			return err
		}
		d.committed = false
		if old != "" {
			return os.Rename(old, d.dst)
		}
		return nil
	}
	finish := func() {
		if old != "" {
			_ = os.RemoveAll(old)
		}
		_ = os.RemoveAll(d.holder)
	}
	return undo, finish, nil
}

func (d *Dir) discard() error {
	if d.committed {
		return nil
	}
	return os.RemoveAll(d.holder)
}

// File is a file staged to replace Destination.
type File struct {
	dst, tmp  string
	committed bool
}

// StageFile writes data to a temporary file beside dst, to be committed in
// place of dst.
func StageFile(dst string, data []byte, perm os.FileMode) (*File, error) {
	parent, name := filepath.Split(filepath.Clean(dst))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", parent, err)
	}
	f, err := os.CreateTemp(parent, "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("staging %s: %w", dst, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp, perm)); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("staging %s: %w", dst, err)
	}
	return &File{dst: filepath.Clean(dst), tmp: tmp}, nil
}

// Path is the staged file.
func (f *File) Path() string { return f.tmp }

// Destination is the file that Commit replaces.
func (f *File) Destination() string { return f.dst }

func (f *File) commit() (func() error, func(), error) {
	// Keep the old content so that a later failure can restore it.
	old, err := os.ReadFile(f.dst)
	existed := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("replacing %s: %w", f.dst, err)
	}
	var mode os.FileMode = 0o644
	if fi, err := os.Stat(f.dst); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.Rename(f.tmp, f.dst); err != nil {
		return nil, nil, fmt.Errorf("replacing %s: %w", f.dst, err)
	}
	f.committed = true
	undo := func() error {
		if !existed {
			return os.Remove(f.dst)
		}
		restore, err := StageFile(f.dst, old, mode)
		if err != nil {
			return err
		}
		return os.Rename(restore.tmp, f.dst)
	}
	return undo, func() {}, nil
}

func (f *File) discard() error {
	if f.committed {
		return nil
	}
	err := os.Remove(f.tmp)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// CommitAll moves every item into place, in order. If one fails, the items
// already moved are put back as they were and every staged item is
// discarded, so the destinations keep their previous content.
func CommitAll(items ...Item) error {
	var undos []func() error
	var finishes []func()
	for _, it := range items {
		undo, finish, err := it.commit()
		if err != nil {
			errs := []error{err}
			for i := len(undos) - 1; i >= 0; i-- {
				if uerr := undos[i](); uerr != nil {
					errs = append(errs, fmt.Errorf("rolling back: %w", uerr))
				}
			}
			errs = append(errs, Discard(items...))
			return errors.Join(errs...)
		}
		undos = append(undos, undo)
		finishes = append(finishes, finish)
	}
	for _, finish := range finishes {
		finish()
	}
	return nil
}

// Discard removes the staged data of items that were not committed.
func Discard(items ...Item) error {
	var errs []error
	for _, it := range items {
		if err := it.discard(); err != nil {
			errs = append(errs, fmt.Errorf("removing staged %s: %w", it.Destination(), err))
		}
	}
	return errors.Join(errs...)
}
