package atomicdir

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestCommitReplacesDirAndFile(t *testing.T) {
	root := t.TempDir()
	out, df := filepath.Join(root, "bundle"), filepath.Join(root, "bundle.Dockerfile")
	write(t, filepath.Join(out, "old.yaml"), "old")
	write(t, df, "old dockerfile")

	dir, err := StageDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir.Path()) != "bundle" {
		t.Errorf("staged directory %s is not named like its destination", dir.Path())
	}
	write(t, filepath.Join(dir.Path(), "manifests", "new.yaml"), "new")
	file, err := StageFile(df, []byte("new dockerfile"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if read(t, df) != "old dockerfile" {
		t.Fatal("staging changed the destination")
	}
	if err := CommitAll(dir, file); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "old.yaml")); !os.IsNotExist(err) {
		t.Errorf("old content survived: %v", err)
	}
	if read(t, filepath.Join(out, "manifests", "new.yaml")) != "new" || read(t, df) != "new dockerfile" {
		t.Error("new content not in place")
	}
	if got := entries(t, root); len(got) != 2 {
		t.Errorf("left behind: %v", got)
	}
}

func TestCommitCreatesMissingDestination(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "sub", "bundle")
	dir, err := StageDir(out)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir.Path(), "a"), "a")
	if err := CommitAll(dir); err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(out, "a")) != "a" {
		t.Error("not committed")
	}
}

// TestFailedCommitRollsBack makes the second item fail (its destination is
// a non-empty directory, which a file cannot replace) and expects the first
// to be put back.
func TestFailedCommitRollsBack(t *testing.T) {
	root := t.TempDir()
	out, blocked := filepath.Join(root, "bundle"), filepath.Join(root, "bundle.Dockerfile")
	write(t, filepath.Join(out, "old.yaml"), "old")
	write(t, filepath.Join(blocked, "x"), "a directory in the way")

	dir, err := StageDir(out)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir.Path(), "new.yaml"), "new")
	file, err := StageFile(blocked, []byte("new"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := CommitAll(dir, file); err == nil {
		t.Fatal("commit succeeded")
	}
	if read(t, filepath.Join(out, "old.yaml")) != "old" {
		t.Error("old content not restored")
	}
	if _, err := os.Stat(filepath.Join(out, "new.yaml")); !os.IsNotExist(err) {
		t.Errorf("new content left in place: %v", err)
	}
	if got := entries(t, root); len(got) != 2 {
		t.Errorf("left behind: %v", got)
	}
}

func TestDiscard(t *testing.T) {
	root := t.TempDir()
	dir, err := StageDir(filepath.Join(root, "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := StageFile(filepath.Join(root, "f"), []byte("x"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := Discard(dir, file); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, root); len(got) != 0 {
		t.Errorf("left behind: %v", got)
	}
}
