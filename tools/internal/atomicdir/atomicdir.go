package atomicdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Item is something staged beside its destination, waiting to replace it.
type Item interface {
	// Destination is the path the item replaces on commit.
	Destination() string
	staging() *staged
}

// staged is new content at path, inside holder: a hidden directory beside
// dst that also receives the previous content of dst when it is replaced.
type staged struct {
	dst, holder, path string
	// done is set once the item is committed or discarded.
	done bool
}

func (s *staged) Destination() string { return s.dst }
func (s *staged) staging() *staged    { return s }

// Path is where the new content is written: a directory for a Dir, a file
// for a File. It has the destination's base name, so tools that read it
// see the name they expect.
func (s *staged) Path() string { return s.path }

// Dir is a directory staged to replace Destination.
type Dir struct{ staged }

// File is a file staged to replace Destination.
type File struct{ staged }

// stage recovers what an interrupted commit left in dst's directory, then
// creates the hidden holder beside dst (".<name>.tmp-*").
func stage(dst string) (*staged, error) {
	dst = filepath.Clean(dst)
	parent, name := filepath.Split(dst)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", parent, err)
	}
	if err := Recover(parent); err != nil {
		return nil, err
	}
	holder, err := os.MkdirTemp(parent, "."+name+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("staging %s: %w", dst, err)
	}
	return &staged{dst: dst, holder: holder, path: filepath.Join(holder, name)}, nil
}

// StageDir creates an empty directory with dst's name inside a hidden
// directory beside dst, to be filled and then committed in place of dst.
// dst's parent is created if needed; dst itself need not exist.
func StageDir(dst string) (*Dir, error) {
	s, err := stage(dst)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.path, 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("staging %s: %w", dst, err), os.RemoveAll(s.holder))
	}
	return &Dir{*s}, nil
}

// StageFile writes data, synced, to a file with dst's name inside a hidden
// directory beside dst, to be committed in place of dst.
func StageFile(dst string, data []byte, perm os.FileMode) (*File, error) {
	s, err := stage(dst)
	if err != nil {
		return nil, err
	}
	if err := writeSynced(s.path, data, perm); err != nil {
		return nil, errors.Join(fmt.Errorf("staging %s: %w", dst, err), os.RemoveAll(s.holder))
	}
	return &File{*s}, nil
}

// writeSynced creates path with data and perm and syncs it.
func writeSynced(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	return errors.Join(werr, serr, f.Close(), os.Chmod(path, perm))
}

// CommitAll moves every item into place, as one change: it syncs the staged
// content, writes the journal beside every destination, swaps the items in,
// and removes the previous content and the journal. If an item cannot be
// moved in, the items already moved are put back and the staged data is
// discarded, so the destinations keep their previous content; if the
// process dies once the journal is written, the next run completes the
// change (Recover).
func CommitAll(items ...Item) error {
	if len(items) == 0 {
		return nil
	}
	j, err := newJournal(items)
	if err != nil {
		return errors.Join(err, Discard(items...))
	}
	unlock, err := lockDirs(j.dirs())
	if err != nil {
		return errors.Join(err, Discard(items...))
	}
	defer unlock()
	hook("staged")
	if err := j.write(); err != nil {
		return errors.Join(err, j.remove(), Discard(items...))
	}
	hook("journaled")
	for i := range j.Entries {
		if err := j.Entries[i].apply(); err != nil {
			return j.rollBack(i, err, items)
		}
		hook(fmt.Sprintf("applied-%d", i))
	}
	for _, it := range items {
		it.staging().done = true
	}
	return j.finish()
}

// rollBack puts back the first n entries after entry n failed with cause.
// If one cannot be put back, the journal and the staged data stay: the next
// run completes the change instead.
func (j *journal) rollBack(n int, cause error, items []Item) error {
	errs := []error{cause}
	for k := n - 1; k >= 0; k-- {
		if err := j.Entries[k].rollBack(); err != nil {
			errs = append(errs, fmt.Errorf("putting back %s: %w (the next run completes the change recorded in %s)", j.Entries[k].Destination, err, j.Copies[0]))
			return errors.Join(errs...)
		}
	}
	return errors.Join(append(errs, j.remove(), Discard(items...))...)
}

// Discard removes the staged data of items that were not committed.
func Discard(items ...Item) error {
	var errs []error
	for _, it := range items {
		s := it.staging()
		if s.done {
			continue
		}
		if err := os.RemoveAll(s.holder); err != nil {
			errs = append(errs, fmt.Errorf("removing staged %s: %w", s.dst, err))
			continue
		}
		s.done = true
	}
	return errors.Join(errs...)
}

// hook is called at each step of CommitAll; the crash tests stop the
// process there.
var hook = func(step string) {}
