package atomicdir

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// journalPrefix names the journals in the directories of the destinations.
const journalPrefix = ".atomicdir-journal-"

// journal is the write-ahead record of one CommitAll: every item, and every
// copy of the journal itself (one per directory holding a destination, so
// that the next run staging output in any of them finds it).
type journal struct {
	Entries []entry  `json:"entries"`
	Copies  []string `json:"copies"`
}

// entry is one item: the new content at Staged (inside Holder) replaces
// Destination. Inode identifies the new content wherever it is, which tells
// whether the swap happened.
type entry struct {
	Destination string `json:"destination"`
	Holder      string `json:"holder"`
	Staged      string `json:"staged"`
	Inode       uint64 `json:"inode"`
}

// newJournal syncs each item's staged content and records it.
func newJournal(items []Item) (*journal, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	name := journalPrefix + hex.EncodeToString(id[:]) + ".json"
	j := &journal{}
	for _, it := range items {
		s := it.staging()
		if s.done {
			return nil, fmt.Errorf("committing %s: already committed or discarded", s.dst)
		}
		if err := syncTree(s.path); err != nil {
			return nil, fmt.Errorf("syncing the staged %s: %w", s.dst, err)
		}
		ino, err := inode(s.path)
		if err != nil {
			return nil, err
		}
		j.Entries = append(j.Entries, entry{Destination: s.dst, Holder: s.holder, Staged: s.path, Inode: ino})
	}
	for _, dir := range j.dirs() {
		j.Copies = append(j.Copies, filepath.Join(dir, name))
	}
	return j, nil
}

// dirs are the directories of the destinations, sorted (the lock order).
func (j *journal) dirs() []string {
	var dirs []string
	for _, e := range j.Entries {
		if d := filepath.Dir(e.Destination); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	return dirs
}

// write writes every copy of the journal, each synced with its directory.
func (j *journal) write() error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	for _, c := range j.Copies {
		tmp := c + ".tmp"
		if err := writeSynced(tmp, data, 0o644); err != nil {
			return fmt.Errorf("writing the journal %s: %w", c, err)
		}
		if err := os.Rename(tmp, c); err != nil {
			return fmt.Errorf("writing the journal %s: %w", c, err)
		}
		if err := syncDir(filepath.Dir(c)); err != nil {
			return err
		}
	}
	return nil
}

// finish removes the previous content (in the holders) and then the
// journal: once a holder is gone, every entry is known to be in place.
func (j *journal) finish() error {
	var errs []error
	for _, e := range j.Entries {
		if err := os.RemoveAll(e.Holder); err != nil {
			errs = append(errs, fmt.Errorf("removing the previous %s: %w", e.Destination, err))
		}
	}
	for _, d := range j.dirs() {
		errs = append(errs, syncDir(d))
	}
	hook("cleaned")
	return errors.Join(append(errs, j.remove())...)
}

// remove removes every copy of the journal.
func (j *journal) remove() error {
	var errs []error
	for _, c := range j.Copies {
		for _, p := range []string{c + ".tmp", c} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		errs = append(errs, syncDir(filepath.Dir(c)))
	}
	return errors.Join(errs...)
}

// Recover completes every change that a CommitAll which died left recorded
// in dir: each item is moved into place unless it already is, then the
// previous content and the journal are removed. The stage functions call
// it on the destination's directory, so the next run recovers before it
// writes.
func Recover(dir string) error {
	names, err := journalsIn(dir)
	if err != nil || len(names) == 0 {
		return err
	}
	for _, name := range names {
		if err := recoverJournal(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("completing the interrupted change recorded in %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}

func journalsIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), journalPrefix) && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// recoverJournal rolls the change of the journal at path forward, with every
// directory it touches locked.
func recoverJournal(path string) error {
	j, err := readJournal(path)
	if err != nil || j == nil {
		return err
	}
	unlock, err := lockDirs(j.dirs())
	if err != nil {
		return err
	}
	defer unlock()
	// Read again under the lock: another process may have finished it.
	if j, err = readJournal(path); err != nil || j == nil {
		return err
	}
	// A missing holder means finish had begun: every entry was in place.
	cleaning := slices.ContainsFunc(j.Entries, func(e entry) bool {
		_, err := os.Lstat(e.Holder)
		return errors.Is(err, fs.ErrNotExist)
	})
	if !cleaning {
		for _, e := range j.Entries {
			if err := e.apply(); err != nil {
				return err
			}
		}
	}
	return j.finish()
}

// readJournal reads a journal; nil when it is gone. A journal whose write
// was cut short was never followed by a swap: it is only removed.
func readJournal(path string) (*journal, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j := &journal{}
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return j, nil
}

// apply moves the new content into place, unless it already is there.
func (e entry) apply() error {
	if ino, err := inode(e.Destination); err == nil && ino == e.Inode {
		return nil
	}
	st, err := os.Lstat(e.Staged)
	if err != nil {
		return fmt.Errorf("replacing %s: the new content: %w", e.Destination, err)
	}
	dt, err := os.Lstat(e.Destination)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Absent, or moved aside by a two-rename swap that was cut short.
		err = os.Rename(e.Staged, e.Destination)
	case err != nil:
	case dt.IsDir() != st.IsDir():
		err = fmt.Errorf("it is %s, the new content %s", kind(dt), kind(st))
	default:
		err = e.swap()
	}
	if err != nil {
		return fmt.Errorf("replacing %s: %w", e.Destination, err)
	}
	return errors.Join(syncDir(filepath.Dir(e.Destination)), syncDir(e.Holder))
}

// swap exchanges the new content with the destination atomically where the
// kernel can; otherwise it moves the destination aside into the holder,
// then the new content in.
func (e entry) swap() error {
	err := exchange(e.Staged, e.Destination)
	if !errors.Is(err, errNoExchange) {
		return err
	}
	if err := os.Rename(e.Destination, e.aside()); err != nil {
		return err
	}
	if err := syncDir(e.Holder); err != nil {
		return err
	}
	hook("aside") // the destination is missing until the next rename
	if err := os.Rename(e.Staged, e.Destination); err != nil {
		return errors.Join(err, os.Rename(e.aside(), e.Destination))
	}
	return nil
}

// rollBack puts the previous content back after apply.
func (e entry) rollBack() error {
	if ino, err := inode(e.Destination); err != nil || ino != e.Inode {
		return nil // not moved in
	}
	var err error
	if _, serr := os.Lstat(e.Staged); serr == nil {
		err = exchange(e.Staged, e.Destination) // the exchange left the previous content there
	} else if err = os.Rename(e.Destination, e.Staged); err == nil {
		if _, aerr := os.Lstat(e.aside()); aerr == nil {
			err = os.Rename(e.aside(), e.Destination)
		}
	}
	return errors.Join(err, syncDir(filepath.Dir(e.Destination)))
}

// aside is where a two-rename swap moves the previous content.
func (e entry) aside() string { return filepath.Join(e.Holder, ".previous") }

func kind(fi fs.FileInfo) string {
	if fi.IsDir() {
		return "a directory"
	}
	return "a file"
}

// syncTree syncs every file and directory under root.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		return syncPath(path)
	})
}

func syncDir(dir string) error { return syncPath(dir) }

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
