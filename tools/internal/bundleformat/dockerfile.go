package bundleformat

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// Instruction is one instruction of a Dockerfile.
type Instruction struct {
	// Line is where the instruction starts.
	Line int
	// Cmd is the instruction, upper case: FROM, LABEL, COPY, ...
	Cmd string
	// Args is the rest, continuation lines joined.
	Args string
}

// ParseDockerfile is the one Dockerfile reader: it splits a Dockerfile
// into instructions, joining lines continued with a backslash and skipping
// comments and blank lines (Docker's own syntax, without parser
// directives, heredocs or variables, which a bundle Dockerfile has no use
// for).
func ParseDockerfile(data []byte) []Instruction {
	var out []Instruction
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		trimmed := strings.TrimSpace(sc.Text())
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // also inside a continued instruction, as Docker does
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, continued := strings.CutSuffix(trimmed, `\`); continued {
			cur.WriteString(body)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, Instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, Instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
	}
	return out
}

// ParseLabels reads the key=value pairs of a LABEL instruction; keys and
// values may be double-quoted.
func ParseLabels(args string) (map[string]string, error) {
	labels := map[string]string{}
	s := strings.TrimSpace(args)
	for s != "" {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("%q is not key=value", s)
		}
		if k, err := strconv.Unquote(key); err == nil {
			key = k
		}
		value, rest, err := cutValue(rest)
		if err != nil {
			return nil, fmt.Errorf("LABEL %s: %w", key, err)
		}
		labels[key] = value
		s = strings.TrimSpace(rest)
	}
	return labels, nil
}

// cutValue reads one value, quoted or up to the next blank.
func cutValue(s string) (value, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("value %s: %w", s, err)
		}
		value, _ = strconv.Unquote(q)
		return value, s[len(q):], nil
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:], nil
	}
	return s, "", nil
}

// DockerfileFiles name the files CheckDockerfile reports problems in.
type DockerfileFiles struct {
	Dockerfile, Annotations string
}

// CheckDockerfile is the one check that a Dockerfile builds a bundle image
// as this project builds it: FROM scratch, only FROM, LABEL and COPY, the
// labels equal to the annotations, and each directory of Layout the
// annotations name copied from contextDir (the bundle directory relative
// to the Dockerfile's directory) to where they say. Every problem is
// reported.
func CheckDockerfile(data []byte, annotations map[string]string, contextDir string, files DockerfileFiles) problem.List {
	const check = "dockerfile"
	var ps problem.List
	at := func(field string) problem.Problem {
		return problem.Problem{Check: check, File: files.Dockerfile, Field: field}
	}
	labels := map[string]string{}
	var from []string
	copies := map[string]string{} // destination -> source
	for _, ins := range ParseDockerfile(data) {
		line := fmt.Sprintf("line %d", ins.Line)
		switch ins.Cmd {
		case "FROM":
			from = append(from, ins.Args)
		case "LABEL":
			l, err := ParseLabels(ins.Args)
			if err != nil {
				ps.Addf(at(line), "LABEL: %v", err)
			}
			for k, v := range l {
				labels[k] = v
			}
		case "COPY":
			f := strings.Fields(ins.Args)
			if len(f) != 2 || strings.HasPrefix(f[0], "--") {
				ps.Addf(at(line), "COPY %s: want one source and one destination", ins.Args)
				continue
			}
			copies[strings.TrimSuffix(f[1], "/")+"/"] = path.Clean(f[0])
		default:
			ps.Addf(at(line), "%s: only FROM, LABEL and COPY build a bundle image", ins.Cmd)
		}
	}
	if len(from) != 1 || from[0] != "scratch" {
		ps.Addf(at("FROM"), "%q: a bundle image is built FROM scratch, once", strings.Join(from, ", "))
	}
	ps.Add(checkLabels(labels, annotations, files)...)
	ps.Add(checkCopies(copies, annotations, contextDir, at("COPY"))...)
	return ps
}

// checkLabels compares the Dockerfile's labels with the annotations.
func checkLabels(labels, annotations map[string]string, files DockerfileFiles) problem.List {
	var ps problem.List
	keys := make([]string, 0, len(labels)+len(annotations))
	for k := range labels {
		keys = append(keys, k)
	}
	for k := range annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		a, inAnn := annotations[k]
		l, inLabels := labels[k]
		switch {
		case !inLabels:
			ps.Errorf("dockerfile", files.Dockerfile, "LABEL "+k, "missing: %s sets it to %q", files.Annotations, a)
		case !inAnn:
			ps.Errorf("dockerfile", files.Annotations, "annotations."+k, "missing: %s labels the image with %q", files.Dockerfile, l)
		case a != l:
			ps.Errorf("dockerfile", files.Dockerfile, "LABEL "+k, "%q, but %s says %q", l, files.Annotations, a)
		}
	}
	return ps
}

// checkCopies checks that each directory the annotations name is copied
// from the bundle to where they say, and that nothing else is.
func checkCopies(copies, annotations map[string]string, contextDir string, at problem.Problem) problem.List {
	var ps problem.List
	for _, d := range Layout {
		dest, ok := annotations[d.Label]
		if !ok {
			continue
		}
		dst := "/" + strings.TrimSuffix(dest, "/") + "/"
		want := path.Join(contextDir, d.Path)
		src, copied := copies[dst]
		switch {
		case !copied:
			ps.Addf(at, "nothing is copied to %s, where %s says the %s are", dst, d.Label, d.Path)
		case src != want:
			ps.Addf(at, "%s is copied from %s, not from the bundle's %s", dst, src, want)
		}
		delete(copies, dst)
	}
	for _, dst := range slices.Sorted(maps.Keys(copies)) {
		ps.Addf(at, "%s is copied to %s, which no annotation names", copies[dst], dst)
	}
	return ps
}

// IsBundleDockerfile reports whether data is a bundle's Dockerfile: one of
// its LABEL instructions sets the bundle media type (LabelMediatype).
// The tools replace only such a file, never a user's other Dockerfile.
func IsBundleDockerfile(data []byte) bool {
	for _, in := range ParseDockerfile(data) {
		if in.Cmd != "LABEL" {
			continue
		}
		if labels, err := ParseLabels(in.Args); err == nil {
			if _, ok := labels[LabelMediatype]; ok {
				return true
			}
		}
	}
	return false
}
