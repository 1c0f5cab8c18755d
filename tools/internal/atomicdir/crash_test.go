package atomicdir

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The crash tests re-execute the test binary as a helper process that
// commits new output and stops at a step of CommitAll; the test SIGKILLs it
// there, runs what the next run would (a StageDir in one of the output
// directories), and reads the output: all previous or all new.
const (
	helperRoot       = "ATOMICDIR_HELPER_ROOT"
	helperStop       = "ATOMICDIR_HELPER_STOP"
	helperNoExchange = "ATOMICDIR_HELPER_NO_EXCHANGE"
	helperStopped    = "stopped at "
)

func TestMain(m *testing.M) {
	if root := os.Getenv(helperRoot); root != "" {
		os.Exit(commitHelper(root, os.Getenv(helperStop), os.Getenv(helperNoExchange) != ""))
	}
	os.Exit(m.Run())
}

// crashOutput is the output the helper replaces: a directory and a file in
// out/, a directory in cat/ (two journal copies).
type crashOutput struct{ bundle, dockerfile, catalog string }

func outputIn(root string) crashOutput {
	return crashOutput{
		bundle:     filepath.Join(root, "out", "bundle"),
		dockerfile: filepath.Join(root, "out", "bundle.Dockerfile"),
		catalog:    filepath.Join(root, "cat", "catalog"),
	}
}

// write writes one generation ("previous" or "new") of the output; the new
// one has other file names too.
func (o crashOutput) stage(gen string) ([]Item, error) {
	b, err := StageDir(o.bundle)
	if err != nil {
		return nil, err
	}
	c, err := StageDir(o.catalog)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{filepath.Join(b.Path(), gen+".yaml"), filepath.Join(b.Path(), "manifests", "csv.yaml"), filepath.Join(c.Path(), "catalog.yaml")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(f, []byte(gen), 0o644); err != nil {
			return nil, err
		}
	}
	d, err := StageFile(o.dockerfile, []byte(gen), 0o644)
	if err != nil {
		return nil, err
	}
	return []Item{b, d, c}, nil
}

// generation reads which generation each part of the output holds.
func (o crashOutput) generation() []string {
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			return "missing"
		}
		return string(data)
	}
	gens := []string{read(filepath.Join(o.bundle, "manifests", "csv.yaml")), read(o.dockerfile), read(filepath.Join(o.catalog, "catalog.yaml"))}
	for _, gen := range []string{"previous", "new"} {
		if _, err := os.Stat(filepath.Join(o.bundle, gen+".yaml")); err == nil {
			gens = append(gens, gen)
		}
	}
	return gens
}

func commitHelper(root, stop string, noExchange bool) int {
	exchangeOff = noExchange
	hook = func(step string) {
		if step == stop {
			fmt.Println(helperStopped + step)
			select {} // until SIGKILL
		}
	}
	items, err := outputIn(root).stage("new")
	if err == nil {
		err = CommitAll(items...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestKilledMidCommit(t *testing.T) {
	steps := []string{"staged", "journaled", "applied-0", "applied-1", "applied-2", "cleaned"}
	modes := []bool{false}
	if runtime.GOOS == "linux" {
		modes = append(modes, true) // the two renames too, where the exchange exists
	}
	for _, noExchange := range modes {
		steps := steps
		if noExchange {
			steps = append(steps, "aside")
		}
		for _, step := range steps {
			name := step
			if noExchange {
				name += "/two-renames"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				killedAt(t, step, noExchange)
			})
		}
	}
}

// killedAt commits the previous output, kills a helper committing the new
// one at step, lets the next run recover and checks the result.
func killedAt(t *testing.T, step string, noExchange bool) {
	root := t.TempDir()
	out := outputIn(root)
	items, err := out.stage("previous")
	if err != nil {
		t.Fatal(err)
	}
	if err := CommitAll(items...); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperRoot+"="+root, helperStop+"="+step)
	if noExchange {
		cmd.Env = append(cmd.Env, helperNoExchange+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, helperStopped+step) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the helper did not stop at %s: %q %v %s", step, line, err, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("killed at %s: output %v", step, out.generation())

	// The next run stages output in out/ only; that recovers cat/ too.
	next, err := StageDir(out.bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := Discard(next); err != nil {
		t.Fatal(err)
	}
	want := "new"
	if step == "staged" {
		want = "previous" // the journal was not written: nothing was swapped
	}
	if got := out.generation(); !slices.Equal(got, []string{want, want, want, want}) {
		t.Errorf("after the crash at %s and the next run: %v, want all %s", step, got, want)
	}
	for _, dir := range []string{filepath.Dir(out.bundle), filepath.Dir(out.catalog)} {
		names, err := journalsIn(dir)
		if err != nil || len(names) > 0 {
			t.Errorf("journals left in %s: %v %v", dir, names, err)
		}
	}
}
