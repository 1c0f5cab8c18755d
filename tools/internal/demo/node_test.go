package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunScriptShowsStepsOnly: a build script's step lines reach the user,
// the rest goes to the log only, and a failure carries the log's last
// lines without `go: downloading` notices.
func TestRunScriptShowsStepsOnly(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "build.sh")
	body := `echo "[build] building a"
echo "go: downloading example.com/m v1.0.0" >&2
echo "compiler noise"
echo "[build] building b"
echo "b.go:1: undefined: x" >&2
exit 3
`
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "build.log")
	var out bytes.Buffer
	err := runScript(t.Context(), &out, logFile, script)
	if got, want := out.String(), "[build] building a\n[build] building b\n"; got != want {
		t.Errorf("shown %q, want the step lines alone %q", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "b.go:1: undefined: x") || !strings.Contains(err.Error(), "exit status 3") ||
		strings.Contains(err.Error(), "go: downloading") {
		t.Errorf("error = %v, want the exit status and the last lines without download notices", err)
	}
	log, _ := os.ReadFile(logFile)
	for _, want := range []string{"go: downloading example.com/m", "compiler noise", "$ bash " + script} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
