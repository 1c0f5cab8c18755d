package problem

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity tells how bad a Problem is. Both fail: the project ships
// bundles and catalogs with no error and no warning; a warning is what
// OperatorHub and operator-sdk would only warn about.
type Severity string

const (
	// SeverityError is the severity of a Problem that sets none.
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with a bundle, a catalog or their inputs,
// located as precisely as the check that found it can.
type Problem struct {
	// Severity is SeverityError when empty.
	Severity Severity
	// File is the file the problem is in, as a path from the working
	// directory (config/manifests/bases/..., bundle/manifests/...), or a
	// flag such as --version for a bad option.
	File string
	// Package, Channel and Bundle locate the problem in a catalog; each may
	// be empty.
	Package, Channel, Bundle string
	// Field names what is wrong inside the located object, e.g.
	// spec.provider.name, skipRange, `CRD memcacheds.cache.example.com v1
	// spec.size`.
	Field string
	// Message says what is wrong and, where it helps, what to do.
	Message string
	// Check names what found the problem: "generate", "operatorhub/v2",
	// "good-practices", "scorecard/olm-spec-descriptors", ...
	Check string
}

// IsWarning reports whether the problem is a warning.
func (p Problem) IsWarning() bool { return p.Severity == SeverityWarning }

// Error renders the problem on one line:
// `[warning: ]FILE: package "p", channel "c", bundle "b": FIELD: MESSAGE [CHECK]`,
// leaving out what is empty.
func (p Problem) Error() string {
	var where []string
	if p.File != "" {
		where = append(where, p.File)
	}
	for _, l := range []struct{ what, name string }{{"package", p.Package}, {"channel", p.Channel}, {"bundle", p.Bundle}} {
		if l.name != "" {
			where = append(where, fmt.Sprintf("%s %q", l.what, l.name))
		}
	}
	var b strings.Builder
	if p.IsWarning() {
		b.WriteString("warning: ")
	}
	for _, part := range []string{strings.Join(where, ", "), p.Field} {
		if part != "" {
			b.WriteString(part)
			b.WriteString(": ")
		}
	}
	b.WriteString(p.Message)
	if p.Check != "" {
		fmt.Fprintf(&b, " [%s]", p.Check)
	}
	return b.String()
}

// compare orders problems by file, package, channel, bundle, field,
// severity, message and check.
func compare(a, b Problem) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Package, b.Package),
		cmp.Compare(a.Channel, b.Channel),
		cmp.Compare(a.Bundle, b.Bundle),
		cmp.Compare(a.Field, b.Field),
		cmp.Compare(a.rank(), b.rank()),
		cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Check, b.Check),
	)
}

// rank sorts errors before warnings.
func (p Problem) rank() int {
	if p.IsWarning() {
		return 1
	}
	return 0
}

// List collects every problem found, rather than stopping at the first.
type List []Problem

// Add appends problems.
func (l *List) Add(ps ...Problem) { *l = append(*l, ps...) }

// Addf appends the problem at, with a formatted message.
func (l *List) Addf(at Problem, format string, args ...any) {
	at.Message = fmt.Sprintf(format, args...)
	*l = append(*l, at)
}

// Errorf appends an error that check found in file at field.
func (l *List) Errorf(check, file, field, format string, args ...any) {
	l.Addf(Problem{Check: check, File: file, Field: field}, format, args...)
}

// Count returns the number of errors and of warnings.
func (l List) Count() (errs, warnings int) {
	for _, p := range l {
		if p.IsWarning() {
			warnings++
		} else {
			errs++
		}
	}
	return errs, warnings
}

// Sort orders the problems by file, package, channel, bundle, field,
// severity, message and check, so that output does not depend on the
// order checks ran in or on map iteration.
func (l List) Sort() { slices.SortStableFunc(l, compare) }

// Err returns nil when the list is empty and an *Error holding every
// problem, sorted, otherwise.
func (l List) Err(summary string) error {
	if len(l) == 0 {
		return nil
	}
	ps := slices.Clone(l)
	ps.Sort()
	return &Error{Summary: summary, Problems: ps}
}

// Error is a non-empty list of problems, as one error.
type Error struct {
	// Summary says what is invalid: "invalid bundle memcached-operator.v0.1.0".
	Summary  string
	Problems List
}

// Error renders the summary, the number of problems (and of warnings among
// them) and each problem on its own line.
func (e *Error) Error() string {
	var b strings.Builder
	summary := e.Summary
	if summary == "" {
		summary = "invalid"
	}
	fmt.Fprintf(&b, "%s: %s", summary, plural(len(e.Problems), "problem"))
	if _, warnings := e.Problems.Count(); warnings > 0 {
		fmt.Fprintf(&b, " (%s)", plural(warnings, "warning"))
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(p.Error(), "\n", "\n    "))
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
