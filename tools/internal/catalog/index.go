package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/blang/semver/v4"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// IndexFile is the release index in the releases directory.
const IndexFile = "index.yaml"

// releaseIndex is releases/index.yaml: the bundle image each release was
// published as. The semver template lists images; this says which
// releases/<version>/ holds the bundle of each, so that rendering reads it
// there instead of pulling the image.
type releaseIndex struct {
	path     string
	Releases []indexEntry `json:"releases"`
}

type indexEntry struct {
	Version string `json:"version"`
	Image   string `json:"image"`
}

const indexHeader = `# The bundle image each release in this directory was published as.
# catalog/template.yaml lists images; ` + "`tools catalog render`" + ` reads the bundle
# of each from releases/<version>/ instead of pulling it. Written by
# ` + "`tools catalog release`" + `; a released version is immutable.
`

// loadIndex reads and checks the release index of releasesDir. A missing
// index is an empty one (no release yet).
func loadIndex(releasesDir string) (*releaseIndex, error) {
	path := filepath.Join(releasesDir, IndexFile)
	idx := &releaseIndex{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release index: %w", err)
	}
	if err := sigsyaml.UnmarshalStrict(data, idx); err != nil {
		return nil, fmt.Errorf("release index %s: %w", path, err)
	}
	if err := idx.check(releasesDir).Err("invalid release index"); err != nil {
		return nil, err
	}
	return idx, nil
}

// Released is a released version and the bundle image it was published as:
// an entry of releases/index.yaml.
type Released struct {
	Version, Image string
}

// LoadReleases reads and checks the release index of releasesDir
// (releases/index.yaml), in its order (by version); no index is no release.
func LoadReleases(releasesDir string) ([]Released, error) {
	idx, err := loadIndex(releasesDir)
	if err != nil {
		return nil, err
	}
	out := make([]Released, 0, len(idx.Releases))
	for _, e := range idx.Releases {
		out = append(out, Released{Version: e.Version, Image: e.Image})
	}
	return out, nil
}

// check reports every problem of the index: versions that are not semver or
// listed twice, images missing or listed twice, release directories missing.
func (idx *releaseIndex) check(releasesDir string) problem.List {
	var problems problem.List
	versions := map[string]bool{}
	images := map[string]bool{}
	for i, e := range idx.Releases {
		at := func(field string) problem.Problem {
			return problem.Problem{File: idx.path, Field: fmt.Sprintf("releases[%d].%s", i, field)}
		}
		v, err := versionOf(e.Version)
		switch {
		case err != nil:
			problems.Addf(at("version"), "%q is not a semver version: %v", e.Version, err)
		case versions[v.String()]:
			problems.Addf(at("version"), "%s is listed twice (versions that differ only in build metadata are the same version)", e.Version)
		default:
			if _, err := os.Stat(filepath.Join(releasesDir, e.Version)); err != nil {
				problems.Addf(at("version"), "no released bundle directory: %v", err)
			}
		}
		versions[v.String()] = true
		if e.Image == "" {
			problems.Addf(at("image"), "must be set")
		} else if images[e.Image] {
			problems.Addf(at("image"), "%s is the image of another release too", e.Image)
		}
		images[e.Image] = true
	}
	return problems
}

func (idx *releaseIndex) byImage(image string) *indexEntry {
	for i := range idx.Releases {
		if idx.Releases[i].Image == image {
			return &idx.Releases[i]
		}
	}
	return nil
}

func (idx *releaseIndex) byVersion(v semver.Version) *indexEntry {
	for i := range idx.Releases {
		if ev, err := versionOf(idx.Releases[i].Version); err == nil && ev.EQ(v) {
			return &idx.Releases[i]
		}
	}
	return nil
}

// with returns the index with e added or, for a released version, replaced,
// in version order, and its file content.
func (idx *releaseIndex) with(e indexEntry) (*releaseIndex, []byte, error) {
	v, err := versionOf(e.Version)
	if err != nil {
		return nil, nil, err
	}
	out := &releaseIndex{path: idx.path, Releases: slices.DeleteFunc(slices.Clone(idx.Releases), func(o indexEntry) bool {
		ov, err := versionOf(o.Version)
		return err == nil && ov.EQ(v)
	})}
	out.Releases = append(out.Releases, e)
	slices.SortFunc(out.Releases, func(a, b indexEntry) int {
		av, _ := versionOf(a.Version)
		bv, _ := versionOf(b.Version)
		return av.Compare(bv)
	})
	data, err := sigsyaml.Marshal(struct {
		Releases []indexEntry `json:"releases"`
	}{out.Releases})
	if err != nil {
		return nil, nil, err
	}
	return out, append([]byte(indexHeader), bytes.TrimLeft(data, "\n")...), nil
}

// CheckOutsideReleases refuses path, given with flag, when it is a releases
// directory or inside one: a directory whose release index (index.yaml)
// lists releases, found by walking up from path, with symbolic links
// resolved. Released bundles are immutable; only Release writes there.
// Every command that writes or removes a path a user names checks it.
func CheckOutsideReleases(flag, path string) error {
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	for _, p := range []string{abs, resolveExisting(abs)} {
		for d := p; ; d = filepath.Dir(d) {
			if isReleasesDir(d) {
				return fmt.Errorf("%s %s: refusing to write inside the releases directory %s: a released version is immutable and only `tools catalog release` (make catalog) adds one", flag, path, d)
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return nil
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of the absolute path p and appends the rest.
func resolveExisting(p string) string {
	rest := ""
	for d := p; ; d = filepath.Dir(d) {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(real, rest)
		}
		if filepath.Dir(d) == d {
			return p
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}

// isReleasesDir says whether dir holds a release index that lists releases.
func isReleasesDir(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return false
	}
	idx := &releaseIndex{}
	return sigsyaml.UnmarshalStrict(data, idx) == nil && len(idx.Releases) > 0
}
