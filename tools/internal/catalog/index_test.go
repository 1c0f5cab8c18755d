package catalog

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLoadReleases: the index's releases in its order; no index, no
// release; an index naming a missing release directory is refused, naming
// the field.
func TestLoadReleases(t *testing.T) {
	dir := t.TempDir()
	if got, err := LoadReleases(dir); err != nil || len(got) != 0 {
		t.Fatalf("no index: %v, %v", got, err)
	}
	index := "releases:\n- image: example.com/b:v0.1.0\n  version: 0.1.0\n- image: example.com/b:v0.2.0\n  version: 0.2.0\n"
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReleases(dir); err == nil || !strings.Contains(err.Error(), "releases[0].version") {
		t.Fatalf("missing release directories: %v", err)
	}
	for _, v := range []string{"0.1.0", "0.2.0"} {
		if err := os.Mkdir(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadReleases(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Released{{"0.1.0", "example.com/b:v0.1.0"}, {"0.2.0", "example.com/b:v0.2.0"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
