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
	l.Sort()
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
	if got := one.Err("").Error(); got != "invalid catalog: 1 problem:\n  - f: m" {
		t.Errorf("one problem: %q", got)
	}
}
