package catalog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/blang/semver/v4"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
)

// TestReleasedBundlesMatchTheirReleaseCommits: every releases/<version>/
// is what the commit that added it recorded (in this clone: make test
// needs the full history, as the OLM upgrade tests do).
func TestReleasedBundlesMatchTheirReleaseCommits(t *testing.T) {
	releasesDir := filepath.Join(repoRoot, DefaultReleasesDir)
	idx, err := loadIndex(releasesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Releases) == 0 {
		t.Fatal("no release in releases/index.yaml")
	}
	problems, err := CheckReleaseHistory(context.Background(), releasesDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := problems.Err("released bundles changed"); err != nil {
		t.Fatal(err)
	}
}

// TestBundleIsTheReleasedVersion: bundle/ is the Makefile's VERSION; if
// that version is released, bundle/ is releases/$(VERSION); if not, it is
// newer than every release (the next one).
func TestBundleIsTheReleasedVersion(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VERSION \?= (\S+)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("no `VERSION ?=` in the Makefile")
	}
	version := semver.MustParse(string(m[1]))
	bundleDir := filepath.Join(repoRoot, "bundle")
	b, err := renderBundleDir(bundleDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := bundleVersion(b); got != version.String() {
		t.Fatalf("bundle/ is version %s, the Makefile's VERSION %s: run make bundle", got, version)
	}
	idx, err := loadIndex(filepath.Join(repoRoot, DefaultReleasesDir))
	if err != nil {
		t.Fatal(err)
	}
	if idx.byVersion(version) == nil {
		for _, e := range idx.Releases {
			if v := semver.MustParse(e.Version); !version.GT(v) {
				t.Errorf("VERSION %s is not released and not newer than the release %s", version, v)
			}
		}
		return
	}
	if diff := releaseDiff(t, bundleDir, filepath.Join(repoRoot, DefaultReleasesDir, version.String())); len(diff) > 0 {
		t.Errorf("bundle/ is not releases/%s, the released %s: %v", version, version, diff)
	}
}

func releaseDiff(t *testing.T, dir, released string) []string {
	t.Helper()
	cur, err := readTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, err := readTree(released)
	if err != nil {
		t.Fatal(err)
	}
	return diffTrees(old, cur)
}

// TestReleaseHistoryFindsDrift: in a repository whose release 0.1.0 was
// committed, a file of it changed in a later commit, one changed in the
// work tree, one removed and one added are each reported; a shallow clone
// is an error that says so.
func TestReleaseHistoryFindsDrift(t *testing.T) {
	ctx := context.Background()
	_, releasesDir := repo(t, fixture.Release{Version: "0.1.0", Channels: []string{"stable"}})
	root := filepath.Dir(releasesDir)
	gitRun(t, root, "init", "-q")
	gitRun(t, root, "add", ".")
	gitRun(t, root, "commit", "-q", "-m", "release 0.1.0")
	problems, err := CheckReleaseHistory(ctx, releasesDir)
	if err != nil || len(problems) > 0 {
		t.Fatalf("as released: %v %v", problems, err)
	}

	rel := filepath.Join(releasesDir, "0.1.0")
	annotations := filepath.Join(rel, "metadata", "annotations.yaml")
	appendFile(t, annotations, "# edited\n")
	gitRun(t, root, "commit", "-q", "-am", "an edit of a released bundle")
	csv := findFile(t, rel, ".clusterserviceversion.yaml")
	appendFile(t, csv, "# edited in the work tree\n")
	crd := findFile(t, rel, "memcacheds.yaml")
	if err := os.Remove(crd); err != nil {
		t.Fatal(err)
	}
	added := filepath.Join(rel, "manifests", "extra.yaml")
	appendFile(t, added, "kind: ConfigMap\n")

	problems, err = CheckReleaseHistory(ctx, releasesDir)
	if err != nil {
		t.Fatal(err)
	}
	expectErr(t, problems.Err("drift"), annotations+": changed since release commit", csv+": changed", crd+": removed", added+": added", "git checkout")

	shallow := filepath.Join(t.TempDir(), "shallow")
	gitRun(t, root, "commit", "-q", "-am", "another commit")
	gitRun(t, root, "clone", "-q", "--depth", "1", "file://"+root, shallow)
	_, err = CheckReleaseHistory(ctx, filepath.Join(shallow, DefaultReleasesDir))
	expectErr(t, err, "shallow clone", "git fetch --unshallow")
}

// TestReleaseHistoryBeforeTheIndex: a release committed before the release
// index existed, amended, then recorded in the index, is checked against
// the commit that recorded it; a later amendment is reported.
func TestReleaseHistoryBeforeTheIndex(t *testing.T) {
	ctx := context.Background()
	_, releasesDir := repo(t, fixture.Release{Version: "0.1.0", Channels: []string{"stable"}})
	root := filepath.Dir(releasesDir)
	index := filepath.Join(releasesDir, IndexFile)
	indexData, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(index); err != nil {
		t.Fatal(err)
	}
	gitRun(t, root, "init", "-q")
	gitRun(t, root, "add", ".")
	gitRun(t, root, "commit", "-q", "-m", "release 0.1.0, before the index")
	annotations := filepath.Join(releasesDir, "0.1.0", "metadata", "annotations.yaml")
	appendFile(t, annotations, "# amended before the index\n")
	gitRun(t, root, "commit", "-q", "-am", "amended")
	appendFile(t, index, string(indexData))
	gitRun(t, root, "add", ".")
	gitRun(t, root, "commit", "-q", "-m", "the release index")
	if problems, err := CheckReleaseHistory(ctx, releasesDir); err != nil || len(problems) > 0 {
		t.Fatalf("as recorded by the index: %v %v", problems, err)
	}
	appendFile(t, annotations, "# amended after\n")
	gitRun(t, root, "commit", "-q", "-am", "amended again")
	problems, err := CheckReleaseHistory(ctx, releasesDir)
	if err != nil {
		t.Fatal(err)
	}
	expectErr(t, problems.Err("drift"), annotations+": changed since release commit")
}

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// findFile returns the file under dir whose name ends with suffix.
func findFile(t *testing.T, dir, suffix string) string {
	t.Helper()
	var found string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			found = p
		}
		return err
	})
	if found == "" {
		t.Fatalf("no *%s under %s", suffix, dir)
	}
	return found
}
