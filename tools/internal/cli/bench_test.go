package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
)

func TestBaselineFlags(t *testing.T) {
	dir := t.TempDir()
	manager := filepath.Join(dir, "tutorial-manager")
	if err := os.WriteFile(manager, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExecutable := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notExecutable, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	var cfg bench.Config
	if err := (baselineFlags{}).apply(&cfg); err != nil || cfg.Baseline != nil {
		t.Errorf("no --baseline: %v, %+v", err, cfg.Baseline)
	}
	if err := (baselineFlags{binary: manager, args: " --leader-elect=false  --zap-log-level=info "}).apply(&cfg); err != nil {
		t.Fatal(err)
	}
	b := cfg.Baseline
	if b == nil || b.Name != "tutorial-manager" || b.Binary != manager || !b.Conventional ||
		!slices.Equal(b.Args, []string{"--leader-elect=false", "--zap-log-level=info"}) {
		t.Errorf("baseline %+v", b)
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), notExecutable, dir} {
		if err := (baselineFlags{binary: bad}).apply(&bench.Config{}); err == nil {
			t.Errorf("--baseline %s accepted", bad)
		}
	}
}
