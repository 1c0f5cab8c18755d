package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the time of every file, layer and image: the Unix epoch, as ko
// and SOURCE_DATE_EPOCH=0 builds use, so that the same content always gives
// the same digests.
var Epoch = time.Unix(0, 0).UTC()

// Owner is a file's numeric owner in a layer.
type Owner struct{ UID, GID int }

// Root owns what COPY writes without --chown.
var Root = Owner{0, 0}

// Tree is the content of one layer: regular files, directories and
// symbolic links by absolute path. Its layer is deterministic: entries
// sorted by path, parent directories listed, times at Epoch, numeric owners
// without names.
type Tree struct {
	entries map[string]treeEntry
}

type treeEntry struct {
	dir   bool
	mode  fs.FileMode // permission bits (and sticky)
	owner Owner
	data  []byte
	// link, when set, makes the entry a symbolic link to it.
	link string
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{entries: map[string]treeEntry{}} }

func cleanPath(p string) (string, error) {
	c := path.Clean("/" + filepath.ToSlash(p))
	if c == "/" {
		return "", fmt.Errorf("%q: the root directory cannot be an entry", p)
	}
	return strings.TrimPrefix(c, "/"), nil
}

// AddFile adds a regular file. Missing parent directories are added as
// root-owned 0755 directories.
func (t *Tree) AddFile(p string, data []byte, mode fs.FileMode, owner Owner) error {
	c, err := cleanPath(p)
	if err != nil {
		return err
	}
	if e, ok := t.entries[c]; ok && e.dir {
		return fmt.Errorf("%s is a directory", p)
	}
	if err := t.addParents(c); err != nil {
		return err
	}
	t.entries[c] = treeEntry{mode: mode.Perm(), owner: owner, data: data}
	return nil
}

// AddDir adds (or re-sets the mode and owner of) a directory.
func (t *Tree) AddDir(p string, mode fs.FileMode, owner Owner) error {
	c, err := cleanPath(p)
	if err != nil {
		return err
	}
	if e, ok := t.entries[c]; ok && !e.dir {
		return fmt.Errorf("%s is a file", p)
	}
	if err := t.addParents(c); err != nil {
		return err
	}
	t.entries[c] = treeEntry{dir: true, mode: mode & (fs.ModePerm | fs.ModeSticky), owner: owner}
	return nil
}

// AddSymlink adds a symbolic link to target (kept as written: relative to
// the link's directory, or absolute in the image's root), owned by root.
// Busybox's applets and shared libraries' sonames are links.
func (t *Tree) AddSymlink(p, target string) error {
	c, err := cleanPath(p)
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("%s: a symbolic link needs a target", p)
	}
	if e, ok := t.entries[c]; ok && e.dir {
		return fmt.Errorf("%s is a directory", p)
	}
	if err := t.addParents(c); err != nil {
		return err
	}
	t.entries[c] = treeEntry{mode: 0o777, owner: Root, link: target}
	return nil
}

func (t *Tree) addParents(c string) error {
	for d := path.Dir(c); d != "." && d != "/"; d = path.Dir(d) {
		e, ok := t.entries[d]
		if ok && !e.dir {
			return fmt.Errorf("%s is a file, not a directory", d)
		}
		if !ok {
			t.entries[d] = treeEntry{dir: true, mode: 0o755, owner: Root}
		}
	}
	return nil
}

// CopyOptions say how AddDirFrom writes what it copies.
type CopyOptions struct {
	// FileMode and DirMode replace the source's permissions (0 keeps them).
	FileMode, DirMode fs.FileMode
	Owner             Owner
	// Skip, when set, leaves out a relative, slash-separated path (and, for
	// a directory, everything under it).
	Skip func(rel string, dir bool) bool
}

// AddDirFrom copies the directory src (regular files and directories;
// anything else is an error) to dst, like `COPY src dst` does.
func (t *Tree) AddDirFrom(src, dst string, o CopyOptions) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", src)
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && o.Skip != nil && o.Skip(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		target := path.Join(dst, rel)
		switch {
		case d.IsDir():
			mode := info.Mode().Perm()
			if o.DirMode != 0 {
				mode = o.DirMode
			}
			return t.AddDir(target, mode, o.Owner)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			mode := info.Mode().Perm()
			if o.FileMode != 0 {
				mode = o.FileMode
			}
			return t.AddFile(target, data, mode, o.Owner)
		default:
			return fmt.Errorf("%s is neither a regular file nor a directory (%s): images only hold copies of regular files", p, d.Type())
		}
	})
}

// Paths lists the tree's entries, sorted; directories end with "/".
func (t *Tree) Paths() []string {
	out := make([]string, 0, len(t.entries))
	for p, e := range t.entries {
		if e.dir {
			p += "/"
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Tar writes the tree as a tar archive, deterministically.
func (t *Tree) Tar() ([]byte, error) {
	names := make([]string, 0, len(t.entries))
	for p := range t.entries {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		e := t.entries[p]
		h := &tar.Header{
			Name:    p,
			Mode:    int64(e.mode.Perm()),
			Uid:     e.owner.UID,
			Gid:     e.owner.GID,
			ModTime: Epoch,
			Format:  tar.FormatPAX,
		}
		if e.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch {
		case e.dir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case e.link != "":
			h.Typeflag = tar.TypeSymlink
			h.Linkname = e.link
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", p, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				return nil, fmt.Errorf("tar %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Digest is the sha256 of the tree's tar archive, the diff ID of its layer:
// equal digests mean equal content, modes and owners. Stamps of inputs use it.
func (t *Tree) Digest() (v1.Hash, error) {
	raw, err := t.Tar()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	return h, err
}

// Layer is the tree as a gzip-compressed OCI layer.
func (t *Tree) Layer() (v1.Layer, error) {
	raw, err := t.Tar()
	if err != nil {
		return nil, err
	}
	return newLayer(raw)
}

// layer is an in-memory, gzip-compressed OCI layer whose bytes are computed
// once: what is hashed is what is pushed.
type layer struct {
	uncompressed, compressed []byte
	diffID, digest           v1.Hash
}

func newLayer(uncompressed []byte) (*layer, error) {
	var buf bytes.Buffer
	// No name, no time in the gzip header: deterministic bytes for a given
	// Go version. BestSpeed, as go-containerregistry and ko compress: the
	// binaries compress 15% less than with the default level, twice as fast.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(uncompressed); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	l := &layer{uncompressed: uncompressed, compressed: buf.Bytes()}
	if l.diffID, _, err = v1.SHA256(bytes.NewReader(l.uncompressed)); err != nil {
		return nil, err
	}
	if l.digest, _, err = v1.SHA256(bytes.NewReader(l.compressed)); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}
func (l *layer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l *layer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
