// Package problem is the error type of catalog validation: every check adds
// Problems to a List instead of stopping at the first one, and the List turns
// into one error that names each problem's package, channel, bundle and field
// (the style of operator-registry's declcfg/model validation).
package problem

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a catalog, its template or its bundles.
type Problem struct {
	// Package, Channel and Bundle locate the problem; each may be empty.
	Package string
	Channel string
	Bundle  string
	// Field names what is wrong inside the located object, e.g. `skipRange`,
	// `replaces`, `CRD memcacheds.cache.example.com v1 spec.size`.
	Field string
	// Message says what is wrong and, where it helps, what to do.
	Message string
}

// Error renders the problem on one line:
// `package "p", channel "c", bundle "b": FIELD: MESSAGE`.
func (p Problem) Error() string {
	var where []string
	if p.Package != "" {
		where = append(where, fmt.Sprintf("package %q", p.Package))
	}
	if p.Channel != "" {
		where = append(where, fmt.Sprintf("channel %q", p.Channel))
	}
	if p.Bundle != "" {
		where = append(where, fmt.Sprintf("bundle %q", p.Bundle))
	}
	var b strings.Builder
	b.WriteString(strings.Join(where, ", "))
	if p.Field != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(p.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// List collects problems.
type List []Problem

// Add appends a problem.
func (l *List) Add(p Problem) { *l = append(*l, p) }

// Addf appends a problem whose message is formatted.
func (l *List) Addf(at Problem, format string, args ...any) {
	at.Message = fmt.Sprintf(format, args...)
	*l = append(*l, at)
}

// Err returns nil when the list is empty and an *Error holding every problem
// otherwise.
func (l List) Err(summary string) error {
	if len(l) == 0 {
		return nil
	}
	return &Error{Summary: summary, Problems: slices.Clone(l)}
}

// Sort orders the problems by package, channel, bundle, field and message, so
// that output does not depend on map iteration order.
func (l List) Sort() {
	slices.SortStableFunc(l, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Package, b.Package),
			cmp.Compare(a.Channel, b.Channel),
			cmp.Compare(a.Bundle, b.Bundle),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// Error is a non-empty list of problems.
type Error struct {
	Summary  string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	summary := e.Summary
	if summary == "" {
		summary = "invalid catalog"
	}
	n := len(e.Problems)
	fmt.Fprintf(&b, "%s: %d problem", summary, n)
	if n != 1 {
		b.WriteString("s")
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(p.Error(), "\n", "\n    "))
	}
	return b.String()
}
