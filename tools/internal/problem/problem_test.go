package problem

import (
	"errors"
	"testing"
)

func TestListErr(t *testing.T) {
	var l List
	if l.Err("x") != nil {
		t.Fatal("an empty list is no error")
	}
	l.Addf(Problem{Package: "p", Channel: "c", Bundle: "b", Field: "skipRange"}, "%q is unbounded", ">=0.1.0")
	l.Add(Problem{Package: "p", Message: "m\nsecond line"})
	l.Add(Problem{Message: "bare"})
	err := l.Err("invalid catalog")
	want := `invalid catalog: 3 problems:
  - bare
  - package "p": m
    second line
  - package "p", channel "c", bundle "b": skipRange: ">=0.1.0" is unbounded`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	var pe *Error
	if !errors.As(err, &pe) || len(pe.Problems) != 3 {
		t.Errorf("errors.As(*Error) = %v", pe)
	}
	one := List{{Field: "f", Message: "m"}}
	if got := one.Err("invalid catalog").Error(); got != "invalid catalog: 1 problem:\n  - f: m" {
		t.Errorf("one problem: %q", got)
	}
}

// TestFileProblems renders problems located by file, with severity and
// check, and sorts them by file and field, errors before warnings.
func TestFileProblems(t *testing.T) {
	var l List
	l.Add(Problem{Severity: SeverityWarning, File: "bundle/metadata/annotations.yaml", Field: "annotations.x", Message: "w", Check: "good-practices"})
	l.Errorf("operatorhub", "bundle/manifests/csv.yaml", "spec.provider.name", "required")
	l.Errorf("options", "--version", "", "%q is not a semantic version", "0.1")
	if errs, warnings := l.Count(); errs != 2 || warnings != 1 {
		t.Errorf("count %d errors, %d warnings", errs, warnings)
	}
	want := `invalid bundle x: 3 problems (1 warning):
  - --version: "0.1" is not a semantic version [options]
  - bundle/manifests/csv.yaml: spec.provider.name: required [operatorhub]
  - warning: bundle/metadata/annotations.yaml: annotations.x: w [good-practices]`
	if got := l.Err("invalid bundle x").Error(); got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
	if l[0].Check != "good-practices" {
		t.Error("Err sorted the list it was called on")
	}
}
