package bundle

import (
	"fmt"
	"sort"
	"strings"
)

// Severity tells whether a Problem fails the bundle. Both do: the project
// ships bundles with no error and no warning.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with the bundle or with its inputs, located as
// precisely as the check that found it can: a file and a field in it.
type Problem struct {
	Severity Severity
	// File is the file the problem is in, as a path from the working
	// directory (config/manifests/bases/..., bundle/manifests/...), or a
	// flag such as --version for a bad option.
	File string
	// Field is the path of the offending field in File (spec.provider.name,
	// spec.customresourcedefinitions.owned[0].specDescriptors), if known.
	Field string
	// Message says what is wrong and, where it helps, what to do.
	Message string
	// Check names what found the problem: "generate", "operatorhub/v2",
	// "good-practices", "scorecard/olm-spec-descriptors", ...
	Check string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(string(p.Severity))
	b.WriteString(": ")
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Check != "" {
		b.WriteString(" [")
		b.WriteString(p.Check)
		b.WriteString("]")
	}
	return b.String()
}

// Problems collects every problem found, rather than stopping at the first.
type Problems []Problem

func (ps *Problems) add(sev Severity, check, file, field, format string, args ...any) {
	*ps = append(*ps, Problem{Severity: sev, File: file, Field: field, Message: fmt.Sprintf(format, args...), Check: check})
}

// errorf records an error found by check in file at field.
func (ps *Problems) errorf(check, file, field, format string, args ...any) {
	ps.add(SeverityError, check, file, field, format, args...)
}

// Count returns the number of errors and of warnings.
func (ps Problems) Count() (errs, warnings int) {
	for _, p := range ps {
		if p.Severity == SeverityError {
			errs++
		} else {
			warnings++
		}
	}
	return errs, warnings
}

// normalize sorts the problems by file, field and message and drops exact
// duplicates (two validators may report the same thing).
func (ps Problems) normalize() Problems {
	out := make(Problems, len(ps))
	copy(out, ps)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		if a.Message != b.Message {
			return a.Message < b.Message
		}
		return a.Check < b.Check
	})
	dedup := out[:0]
	for i, p := range out {
		if i > 0 {
			q := out[i-1]
			if p.File == q.File && p.Field == q.Field && p.Severity == q.Severity && p.Message == q.Message {
				continue
			}
		}
		dedup = append(dedup, p)
	}
	return dedup
}

// Err returns nil when there is no problem and an *InvalidError otherwise.
func (ps Problems) Err(subject string) error {
	if len(ps) == 0 {
		return nil
	}
	return &InvalidError{Subject: subject, Problems: ps.normalize()}
}

// InvalidError reports every problem found in Subject, one per line.
type InvalidError struct {
	Subject  string
	Problems Problems
}

func (e *InvalidError) Error() string {
	errs, warns := e.Problems.Count()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %s", e.Subject, plural(errs, "error"), plural(warns, "warning"))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
