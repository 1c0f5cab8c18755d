package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/problem"
)

// TemplateSchema is the schema of the catalog template.
const TemplateSchema = "memcached-operator.catalog-template"

// Template is the human-edited source of the catalog: which versions were
// released, from which bundle image, into which channels. Upgrade edges are
// not part of it; they are computed (see graph.Entries).
type Template struct {
	Schema string `json:"schema" yaml:"schema"`
	// Package is the OLM package name.
	Package string `json:"package" yaml:"package"`
	// DefaultChannel is the channel a Subscription without a channel follows.
	DefaultChannel string `json:"defaultChannel" yaml:"defaultChannel"`
	// Releases in any order; rendered in version order.
	Releases []TemplateRelease `json:"releases" yaml:"releases"`
}

// TemplateRelease is one released version.
type TemplateRelease struct {
	// Version is the bundle's semver version (the CSV's spec.version); the
	// bundle's content is kept in releases/<version>/.
	Version string `json:"version" yaml:"version"`
	// Image is the bundle image the published catalog references.
	Image string `json:"image" yaml:"image"`
	// Channels the release is published in.
	Channels []string `json:"channels" yaml:"channels,flow"`
}

// LoadTemplate reads and validates the template at path. Unknown fields are
// an error, so that a typo does not silently drop a setting.
func LoadTemplate(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog template: %w", err)
	}
	t, err := ParseTemplate(data)
	if err != nil {
		return nil, fmt.Errorf("catalog template %s: %w", path, err)
	}
	return t, nil
}

// ParseTemplate parses and validates a template.
func ParseTemplate(data []byte) (*Template, error) {
	var t Template
	if err := sigsyaml.UnmarshalStrict(data, &t); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate reports every problem of the template at once.
func (t *Template) Validate() error {
	var problems problem.List
	at := func(field string) problem.Problem { return problem.Problem{Package: t.Package, Field: field} }
	if t.Schema != TemplateSchema {
		problems.Addf(at("schema"), "is %q, want %q", t.Schema, TemplateSchema)
	}
	if t.Package == "" {
		problems.Addf(at("package"), "must be set")
	} else if errs := validation.IsDNS1123Label(t.Package); len(errs) > 0 {
		problems.Addf(at("package"), "%q is not a valid package name: %s", t.Package, strings.Join(errs, "; "))
	}
	channels := map[string]bool{}
	var seen []semver.Version
	for i, r := range t.Releases {
		field := fmt.Sprintf("releases[%d]", i)
		v, err := semver.Parse(r.Version)
		if err != nil {
			problems.Addf(at(field+".version"), "%q is not a semver version: %v", r.Version, err)
		} else {
			for _, s := range seen {
				if s.Compare(v) == 0 {
					problems.Addf(at(field+".version"), "%s is listed twice (versions that differ only in build metadata are the same version)", r.Version)
				}
			}
			seen = append(seen, v)
		}
		if r.Image == "" {
			problems.Addf(at(field+".image"), "must be set: the bundle image the published catalog references")
		}
		if len(r.Channels) == 0 {
			problems.Addf(at(field+".channels"), "must name at least one channel")
		}
		inRelease := map[string]bool{}
		for j, c := range r.Channels {
			switch {
			case c == "":
				problems.Addf(at(fmt.Sprintf("%s.channels[%d]", field, j)), "empty channel name")
			case inRelease[c]:
				problems.Addf(at(fmt.Sprintf("%s.channels[%d]", field, j)), "channel %q is listed twice", c)
			}
			inRelease[c] = true
			channels[c] = true
		}
	}
	switch {
	case t.DefaultChannel == "":
		problems.Addf(at("defaultChannel"), "must be set")
	case len(t.Releases) > 0 && !channels[t.DefaultChannel]:
		problems.Addf(at("defaultChannel"), "%q is not a channel of any release", t.DefaultChannel)
	}
	return problems.Err("invalid catalog template")
}

// templateHeader starts a template written by `tools catalog release` when
// there was none.
const templateHeader = `# The catalog template of %[1]s: every released version, the
# bundle image it was published as, and its channels. Edit it by hand or with
# ` + "`tools catalog release`" + ` (make catalog). ` + "`tools catalog render`" + ` renders it,
# with the released bundles kept in releases/<version>/, into the file-based
# catalog beside it (%[1]s/catalog.yaml). Upgrade edges are computed,
# not listed here: in each channel a release replaces the one before it and
# skips the z-stream that one belongs to (skipRange ">=X.Y.0 <version").
# opm ignores this file (see .indexignore).
`

// setRelease returns the template file data with rel added or, if a release
// of the same version is listed with other values, replaced (only when
// replace is true; otherwise that is an error). defaultChannel, when not
// empty, becomes the default channel. Comments and the order of the other
// releases are kept. data may be empty: a new template for pkg is started.
func setRelease(data []byte, pkg string, rel TemplateRelease, defaultChannel string, replace bool) ([]byte, bool, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte(fmt.Sprintf(templateHeader, pkg) +
			fmt.Sprintf("schema: %s\npackage: %s\ndefaultChannel: %s\nreleases: []\n", TemplateSchema, pkg, defaultChannel))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, false, fmt.Errorf("parse catalog template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, errors.New("parse catalog template: not a YAML mapping")
	}
	root := doc.Content[0]
	changed := false

	if defaultChannel != "" {
		n := mappingValue(root, "defaultChannel")
		if n == nil {
			root.Content = append(root.Content, scalar("defaultChannel"), scalar(defaultChannel))
			changed = true
		} else if n.Value != defaultChannel {
			n.SetString(defaultChannel)
			changed = true
		}
	}

	releases := mappingValue(root, "releases")
	if releases == nil {
		releases = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, scalar("releases"), releases)
	}
	if releases.Kind != yaml.SequenceNode {
		return nil, false, errors.New("catalog template: releases is not a list")
	}
	releases.Style = 0 // block style, also when the list was written `[]`

	want, err := semver.Parse(rel.Version)
	if err != nil {
		return nil, false, fmt.Errorf("version %q is not semver: %w", rel.Version, err)
	}
	var node yaml.Node
	if err := node.Encode(rel); err != nil {
		return nil, false, err
	}
	insertAt := len(releases.Content)
	for i, item := range releases.Content {
		var existing TemplateRelease
		if err := item.Decode(&existing); err != nil {
			return nil, false, fmt.Errorf("catalog template: releases[%d]: %w", i, err)
		}
		ev, err := semver.Parse(existing.Version)
		if err != nil {
			continue
		}
		switch c := ev.Compare(want); {
		case c == 0:
			if existing.Image == rel.Image && slices.Equal(existing.Channels, rel.Channels) {
				out, err := encodeYAML(&doc, changed, data)
				return out, changed, err
			}
			if !replace {
				return nil, false, fmt.Errorf("catalog template: version %s is already released as %s in channels %v; releasing it as %s in channels %v needs --force",
					existing.Version, existing.Image, existing.Channels, rel.Image, rel.Channels)
			}
			node.HeadComment = item.HeadComment
			releases.Content[i] = &node
			out, err := encodeYAML(&doc, true, data)
			return out, true, err
		case c > 0 && insertAt == len(releases.Content):
			insertAt = i
		}
	}
	releases.Content = slices.Insert(releases.Content, insertAt, &node)
	out, err := encodeYAML(&doc, true, data)
	return out, true, err
}

func encodeYAML(doc *yaml.Node, changed bool, original []byte) ([]byte, error) {
	if !changed {
		return original, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(s)
	return n
}
