package catalog

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// CheckReleaseHistory compares each released bundle directory that the
// release index of releasesDir lists with the tree its release commit
// recorded, in the git history of the repository holding releasesDir: a
// released version is immutable, so every file added, removed or changed
// since is a problem, reported all at once. The release commit is the one
// that added releases/<version>, or, for a version released before the
// release index existed, the one that recorded it in the index (0.1.0 was
// amended twice before that). A shallow clone cannot tell; it is an error
// that says so.
func CheckReleaseHistory(ctx context.Context, releasesDir string) (problem.List, error) {
	g := gitIn(ctx, releasesDir)
	if out, err := g.run("rev-parse", "--is-shallow-repository"); err != nil {
		return nil, err
	} else if out == "true" {
		return nil, fmt.Errorf("the git repository of %s is a shallow clone: the commits that recorded the releases are not in it; clone it fully (git fetch --unshallow)", releasesDir)
	}
	prefix, err := g.run("rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	// Paths from here on are from the top, where git reads them.
	if g.dir, err = g.run("rev-parse", "--show-toplevel"); err != nil {
		return nil, err
	}
	format, err := g.run("rev-parse", "--show-object-format")
	if err != nil {
		return nil, err
	}
	idx, err := loadIndex(releasesDir)
	if err != nil {
		return nil, err
	}
	var problems problem.List
	for _, e := range idx.Releases {
		dir := filepath.Join(releasesDir, e.Version)
		at := problem.Problem{File: dir}
		commit, recorded, err := g.releaseTree(path.Join(prefix, e.Version), path.Join(prefix, IndexFile), e.Version)
		switch {
		case err != nil:
			return nil, err
		case commit == "":
			problems.Addf(at, "no commit recorded it: commit the release (make catalog)")
			continue
		}
		files, err := readTree(dir)
		if err != nil {
			return nil, err
		}
		current := map[string][]byte{}
		for p, data := range files {
			current[p] = []byte(blobID(format, data))
		}
		for _, d := range diffTrees(recorded, current) {
			problems.Addf(problem.Problem{File: filepath.Join(dir, filepath.FromSlash(d[1:]))},
				"%s since release commit %.12s; a released version is immutable: restore it (git checkout %.12s -- %s)",
				map[byte]string{'+': "added", '-': "removed", '~': "changed"}[d[0]], commit, commit, dir)
		}
	}
	return problems, nil
}

// git runs git commands in a directory.
type git struct {
	ctx context.Context
	dir string
}

func gitIn(ctx context.Context, dir string) git { return git{ctx, dir} }

func (g git) run(args ...string) (string, error) {
	cmd := exec.CommandContext(g.ctx, "git", args...)
	cmd.Dir = g.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), g.dir, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// releaseTree finds the release commit of version (its bundle directory
// dir and the release index, paths from the repository's top) and returns
// it with the blob id of each file it recorded in dir, by path relative to
// dir.
func (g git) releaseTree(dir, index, version string) (string, map[string][]byte, error) {
	commit, err := g.releaseCommit(dir, index, version)
	if err != nil || commit == "" {
		return "", nil, err
	}
	tree, err := g.run("ls-tree", "-r", "-z", "--full-tree", commit, "--", dir+"/")
	if err != nil {
		return "", nil, err
	}
	files := map[string][]byte{}
	for _, line := range strings.Split(tree, "\x00") {
		meta, p, ok := strings.Cut(line, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || fields[1] != "blob" {
			continue
		}
		files[strings.TrimPrefix(p, dir+"/")] = []byte(fields[2])
	}
	return commit, files, nil
}

// releaseCommit is the first commit that added files under dir, or the
// first whose release index lists version when that one came later.
func (g git) releaseCommit(dir, index, version string) (string, error) {
	added, err := g.first("log", "--diff-filter=A", "--format=%H", "--reverse", "--", dir)
	if err != nil || added == "" {
		return "", err
	}
	log, err := g.run("log", "--format=%H", "--reverse", "--", index)
	if err != nil {
		return "", err
	}
	for _, c := range strings.Fields(log) {
		data, err := g.run("show", c+":"+index)
		if err != nil {
			continue // removed in that commit
		}
		idx := &releaseIndex{}
		if sigsyaml.Unmarshal([]byte(data), idx) != nil || !slices.ContainsFunc(idx.Releases, func(e indexEntry) bool { return e.Version == version }) {
			continue
		}
		if c != added {
			if _, err := g.run("merge-base", "--is-ancestor", added, c); err == nil {
				return c, nil
			}
		}
		break
	}
	return added, nil
}

// first runs git and returns the first line of its output.
func (g git) first(args ...string) (string, error) {
	out, err := g.run(args...)
	line, _, _ := strings.Cut(out, "\n")
	return line, err
}

// blobID is git's object id of a file's content in the repository's object
// format (sha1 or sha256).
func blobID(format string, data []byte) string {
	header := fmt.Sprintf("blob %d\x00", len(data))
	if format == "sha256" {
		sum := sha256.Sum256(append([]byte(header), data...))
		return hex.EncodeToString(sum[:])
	}
	sum := sha1.Sum(append([]byte(header), data...))
	return hex.EncodeToString(sum[:])
}
