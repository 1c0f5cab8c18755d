package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLastLines(t *testing.T) {
	long := strings.Repeat("x", tailLineMax+10)
	tests := []struct {
		name string
		text string
		n    int
		want string
	}{
		{"empty", "", 3, ""},
		{"only newlines", "\n\n", 3, ""},
		{"fewer lines than asked", "a\nb\n", 3, "a\nb"},
		{"last lines only", "a\nb\nc\nd\n", 2, "c\nd"},
		{"no trailing newline", "a\nb", 1, "b"},
		{"long line cut", long + "\n", 1, long[:tailLineMax] + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastLines(tt.text, tt.n); got != tt.want {
				t.Errorf("lastLines() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	if got := Tail(filepath.Join(dir, "missing.log"), 3); !strings.HasPrefix(got, "(no log: ") {
		t.Errorf("missing file: %q", got)
	}
	// A log larger than what is read: the last lines are still whole.
	var b strings.Builder
	for b.Len() < 2*tailMaxBytes {
		b.WriteString("filler line\n")
	}
	b.WriteString("second to last\nlast\n")
	path := filepath.Join(dir, "big.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 2); got != "second to last\nlast" {
		t.Errorf("Tail = %q", got)
	}
}
