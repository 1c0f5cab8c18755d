package testbed

import (
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// debs is hack/debs.sh's output: Debian's packages unpacked under root (never
// installed), and their versions, read from its stamp.
type debs struct {
	root     string
	versions map[string]string
}

// readDebs reads DIR/.stamp (a recipe line, then package=version lines).
func readDebs(dir string) (debs, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".stamp"))
	if err != nil {
		return debs{}, fmt.Errorf("no Debian packages in %s (make debs fetches them): %w", dir, err)
	}
	d := debs{root: filepath.Join(dir, "root"), versions: map[string]string{}}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for _, l := range lines[1:] {
		if pkg, v, ok := strings.Cut(l, "="); ok {
			d.versions[pkg] = v
		}
	}
	for _, want := range []string{"memcached", "busybox-static"} {
		if d.versions[want] == "" {
			return debs{}, fmt.Errorf("%s lists no %s: run `make debs` (hack/debs.sh) again", filepath.Join(dir, ".stamp"), want)
		}
	}
	return d, nil
}

// programTree is a dynamically linked program of the tree with what it needs
// to run in an image: its loader and every library it links (libraryClosure),
// and the copyright files of the packages, except those of notFrom.
func (d debs) programTree(program string, notFrom ...string) (*images.Tree, error) {
	needs, err := libraryClosure(d.root, program)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for pkg := range d.versions {
		if !slices.Contains(notFrom, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	sort.Strings(pkgs)
	t := images.NewTree()
	for _, p := range append([]string{program}, needs...) {
		if err := d.copy(t, p); err != nil {
			return nil, err
		}
	}
	for _, pkg := range pkgs {
		if err := d.copy(t, "/usr/share/doc/"+pkg+"/copyright"); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// busyboxTree is busybox in dir, every applet it lists linked to it, and
// its copyright file.
func (d debs) busyboxTree(dir string) (*images.Tree, error) {
	bin := filepath.Join(d.root, "bin", "busybox")
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (make debs fetches busybox-static)", err)
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	t := images.NewTree()
	if err := t.AddFile(path.Join(dir, "busybox"), data, 0o755, images.Root); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		if err := t.AddSymlink(path.Join(dir, applet), "busybox"); err != nil {
			return nil, err
		}
	}
	return t, d.copy(t, "/usr/share/doc/busybox-static/copyright")
}

// copy adds the file or link p of the tree at the same path, owned by root.
func (d debs) copy(t *images.Tree, p string) error {
	src := filepath.Join(d.root, filepath.FromSlash(p))
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return t.AddSymlink(p, target)
	case info.Mode().IsRegular():
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return t.AddFile(p, data, info.Mode().Perm(), images.Root)
	default:
		return fmt.Errorf("%s is neither a file nor a link", src)
	}
}

// libraryClosure lists, as absolute paths of the image, what program (a
// path of the tree under root) needs to run: its interpreter and every
// shared library it links, directly or through another, each with the links
// that lead to it (sonames are links). Libraries are looked up as glibc's
// loader looks them up in an image without ld.so.cache: the multiarch
// directories, then /lib and /usr/lib.
func libraryClosure(root, program string) ([]string, error) {
	dirs := loaderDirs(root)
	var out []string
	seen := map[string]bool{}
	add := func(p string) (string, error) {
		chain, err := linkChain(root, p)
		for _, c := range chain {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
		return chain[len(chain)-1], err
	}
	queue := []string{program}
	queued := map[string]bool{program: true}
	for i := 0; i < len(queue); i++ {
		needed, interp, err := elfDeps(filepath.Join(root, filepath.FromSlash(queue[i])))
		if err != nil {
			return nil, err
		}
		if interp != "" {
			needed = append(needed, interp)
		}
		for _, lib := range needed {
			p := lib
			if !path.IsAbs(lib) {
				if p, err = findLibrary(root, dirs, lib, queue[i]); err != nil {
					return nil, err
				}
			}
			file, err := add(p)
			if err != nil {
				return nil, err
			}
			if !queued[file] {
				queued[file] = true
				queue = append(queue, file)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// elfDeps is an ELF file's DT_NEEDED libraries and its PT_INTERP.
func elfDeps(file string) (needed []string, interp string, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if needed, err = f.ImportedLibraries(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", file, err)
			}
			interp = strings.TrimRight(string(data), "\x00")
		}
	}
	return needed, interp, nil
}

// loaderDirs are the loader's system search path in an image of the tree,
// in its order (`ld.so --help`): the multiarch directories the tree has,
// then /lib and /usr/lib.
func loaderDirs(root string) []string {
	var dirs []string
	for _, pattern := range []string{"lib/*-linux-gnu*", "usr/lib/*-linux-gnu*"} {
		matches, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, m := range matches {
			rel, _ := filepath.Rel(root, m)
			dirs = append(dirs, "/"+filepath.ToSlash(rel))
		}
	}
	return append(dirs, "/lib", "/usr/lib")
}

// findLibrary is the path of the first dirs entry holding soname.
func findLibrary(root string, dirs []string, soname, neededBy string) (string, error) {
	for _, d := range dirs {
		p := path.Join(d, soname)
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s needs %s, which %s does not hold in %v (hack/debs.sh fetches the libraries of memcached's dependencies)", neededBy, soname, root, dirs)
}

// linkChain is p and the links it leads through, up to a file of the tree.
func linkChain(root, p string) ([]string, error) {
	var chain []string
	for range 16 {
		chain = append(chain, p)
		src := filepath.Join(root, filepath.FromSlash(p))
		info, err := os.Lstat(src)
		if err != nil {
			return chain, err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			return chain, nil
		}
		target, err := os.Readlink(src)
		if err != nil {
			return chain, err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return chain, fmt.Errorf("%s: more than 16 links", chain[0])
}
