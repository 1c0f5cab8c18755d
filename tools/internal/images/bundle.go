package images

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/yaml"
)

// Defaults of the bundle image, equal to the Makefile's.
const (
	DefaultBundleDir        = "bundle"
	DefaultBundleDockerfile = "bundle.Dockerfile"
	// AnnotationsFile holds the bundle's annotations, which are also the
	// bundle image's labels.
	AnnotationsFile = "metadata/annotations.yaml"
)

// BundleLayout is what bundle.Dockerfile copies, in its order: a bundle
// directory's subdirectory and where it goes in the image.
var BundleLayout = []struct{ Src, Dst string }{
	{"manifests", "/manifests/"},
	{"metadata", "/metadata/"},
	{"tests/scorecard", "/tests/scorecard/"},
}

// bundlePlatform is the bundle and catalog content's platform: the content
// runs nowhere, so it is fixed (what `docker build` on amd64 records).
var bundlePlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// BundleOptions describe the bundle image.
type BundleOptions struct {
	// Dir is the bundle directory (DefaultBundleDir).
	Dir string
	// Dockerfile, when set, is checked to lay out Dir and label the image
	// as this builds it (bundle.Dockerfile, written with the bundle by
	// `tools bundle generate`): its LABELs equal metadata/annotations.yaml.
	Dockerfile string
}

// BundleImage builds the bundle image as bundle.Dockerfile does: FROM
// scratch, manifests/, metadata/ and tests/scorecard/ of the bundle
// directory at /manifests, /metadata and /tests/scorecard, labelled with the
// annotations of metadata/annotations.yaml. One deterministic layer: the
// same bundle gives the same digest.
func BundleImage(opts BundleOptions) (v1.Image, error) {
	if opts.Dir == "" {
		opts.Dir = DefaultBundleDir
	}
	labels, err := ReadAnnotations(filepath.Join(opts.Dir, filepath.FromSlash(AnnotationsFile)))
	if err != nil {
		return nil, fmt.Errorf("bundle image: %w", err)
	}
	if opts.Dockerfile != "" {
		if err := checkBundleDockerfile(opts.Dockerfile, opts.Dir, labels); err != nil {
			return nil, fmt.Errorf("bundle image: %w", err)
		}
	}
	t := NewTree()
	var copies []string
	for _, l := range BundleLayout {
		src := filepath.Join(opts.Dir, filepath.FromSlash(l.Src))
		if err := t.AddDirFrom(src, l.Dst, CopyOptions{FileMode: 0o644, DirMode: 0o755, Owner: Root}); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("bundle image: %s is missing: bundle.Dockerfile copies it (generate the bundle with `make bundle`)", src)
			}
			return nil, fmt.Errorf("bundle image: %w", err)
		}
		// Not the directory as given: the history, like the digest, does not
		// depend on where the bundle is.
		copies = append(copies, fmt.Sprintf("COPY %s %s", path.Join(DefaultBundleDir, l.Src), l.Dst))
	}
	img, err := newImage(bundlePlatform, v1.Config{Labels: labels},
		LayerSpec{Tree: t, CreatedBy: strings.Join(copies, " && ")})
	if err != nil {
		return nil, fmt.Errorf("bundle image: %w", err)
	}
	return img, nil
}

// ReadAnnotations reads a bundle's metadata/annotations.yaml.
func ReadAnnotations(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Annotations) == 0 {
		return nil, fmt.Errorf("%s: no annotations", file)
	}
	return doc.Annotations, nil
}

// checkBundleDockerfile checks that the Dockerfile builds what BundleImage
// builds: FROM scratch, the LABELs of annotations.yaml, and the COPYs of
// BundleLayout from dir (relative to the Dockerfile's directory, the build
// context).
func checkBundleDockerfile(dockerfile, dir string, annotations map[string]string) error {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		return err
	}
	df, err := parseDockerfile(data)
	if err != nil {
		return fmt.Errorf("%s: %w", dockerfile, err)
	}
	var problems []string
	if len(df.from) != 1 || df.from[0] != "scratch" {
		problems = append(problems, fmt.Sprintf("it builds FROM %s, not FROM scratch", strings.Join(df.from, ", ")))
	}
	for _, k := range unionKeys(df.labels, annotations) {
		dv, dok := df.labels[k]
		av, aok := annotations[k]
		switch {
		case !dok:
			problems = append(problems, fmt.Sprintf("no LABEL %s (annotations.yaml: %q)", k, av))
		case !aok:
			problems = append(problems, fmt.Sprintf("LABEL %s=%q is not in annotations.yaml", k, dv))
		case dv != av:
			problems = append(problems, fmt.Sprintf("LABEL %s=%q, annotations.yaml %q", k, dv, av))
		}
	}
	ctxDir, err := filepath.Abs(filepath.Dir(dockerfile))
	if err != nil {
		return err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(ctxDir, absDir)
	if err != nil {
		return err
	}
	var want []string
	for _, l := range BundleLayout {
		want = append(want, path.Join(filepath.ToSlash(rel), l.Src)+" "+l.Dst)
	}
	var got []string
	for _, c := range df.copies {
		got = append(got, path.Clean(c[0])+" "+c[1])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		problems = append(problems, fmt.Sprintf("it copies [%s], not [%s]", strings.Join(got, "; "), strings.Join(want, "; ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s does not describe the bundle image of %s: %s; regenerate both with `make bundle`", dockerfile, dir, strings.Join(problems, "; "))
	}
	return nil
}

type dockerfile struct {
	from   []string
	labels map[string]string
	copies [][2]string
}

// parseDockerfile reads the FROM, LABEL and COPY instructions of a simple
// Dockerfile (what `tools bundle generate` writes): one instruction per
// line, `#` comments, LABEL key=value pairs with optional double quotes.
func parseDockerfile(data []byte) (*dockerfile, error) {
	df := &dockerfile{labels: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			return nil, fmt.Errorf("line %d: continued lines are not supported", n)
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			df.from = append(df.from, strings.Fields(rest)[0])
		case "LABEL":
			for rest != "" {
				k, v, ok := strings.Cut(rest, "=")
				if !ok {
					return nil, fmt.Errorf("line %d: LABEL %s: want key=value", n, rest)
				}
				k = strings.TrimSpace(k)
				var value string
				if strings.HasPrefix(v, `"`) {
					q, err := strconv.QuotedPrefix(v)
					if err != nil {
						return nil, fmt.Errorf("line %d: LABEL %s: %w", n, k, err)
					}
					value, _ = strconv.Unquote(q)
					v = v[len(q):]
				} else {
					value, v, _ = strings.Cut(v, " ")
				}
				df.labels[k] = value
				rest = strings.TrimSpace(v)
			}
		case "COPY", "ADD":
			f := strings.Fields(rest)
			if len(f) != 2 || strings.HasPrefix(f[0], "--") {
				return nil, fmt.Errorf("line %d: %s: want one source and one destination", n, line)
			}
			df.copies = append(df.copies, [2]string{f[0], f[1]})
		default:
			return nil, fmt.Errorf("line %d: %s: only FROM, LABEL and COPY are expected in a bundle Dockerfile", n, instr)
		}
	}
	return df, sc.Err()
}

func unionKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
