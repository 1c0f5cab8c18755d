package atomicdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOwnedDirRefusesForeignContent: a directory with content and no
// Marker is a user's: neither StageOwnedDir nor ResetOwnedDir touches it.
// A missing or empty directory, or one the tools created, is replaced.
func TestOwnedDirRefusesForeignContent(t *testing.T) {
	root := t.TempDir()
	foreign := filepath.Join(root, "home")
	write(t, filepath.Join(foreign, "thesis.tex"), "years of work")
	file := filepath.Join(root, "notes.txt")
	write(t, file, "a file")

	for _, dst := range []string{foreign, file} {
		if _, err := StageOwnedDir("--output-dir", dst); err == nil || !strings.Contains(err.Error(), "--output-dir "+dst) {
			t.Errorf("StageOwnedDir(%s): %v, want a refusal naming the flag and the path", dst, err)
		}
		if err := ResetOwnedDir("--work-dir", dst); err == nil || !strings.Contains(err.Error(), "--work-dir "+dst) {
			t.Errorf("ResetOwnedDir(%s): %v, want a refusal naming the flag and the path", dst, err)
		}
	}
	if read(t, filepath.Join(foreign, "thesis.tex")) != "years of work" || read(t, file) != "a file" {
		t.Fatal("a refused destination was changed")
	}
	if got := entries(t, root); len(got) != 2 {
		t.Errorf("left behind: %v", got)
	}

	// Missing, then owned: replaced, and the marker stays.
	out := filepath.Join(root, "bundle")
	for i := range 2 {
		d, err := StageOwnedDir("--output-dir", out)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		write(t, filepath.Join(d.Path(), "manifests", "csv.yaml"), "csv")
		if err := CommitAll(d); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(out, Marker)); err != nil {
			t.Fatalf("run %d: no marker: %v", i, err)
		}
	}

	// Empty, then owned: reset.
	work := filepath.Join(root, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := ResetOwnedDir("--work-dir", work); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		write(t, filepath.Join(work, "cluster", "log"), "from the run")
	}
	if got := entries(t, work); len(got) != 2 {
		t.Errorf("work dir after reset and a run: %v, want the marker and the run's output", got)
	}
}
