package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/blang/semver/v4"
	semvertemplate "github.com/operator-framework/operator-registry/alpha/template/semver"
	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// TemplateSchema is the schema of operator-registry's semver template, the
// format of catalog/template.yaml.
const TemplateSchema = "olm.semver"

// Archetypes are the semver template's channel archetypes, least stable
// first. It names the channels it generates after them (stable-v0, ...) and
// makes the most stable one the default channel.
var Archetypes = []string{"candidate", "fast", "stable"}

// semverTemplate is catalog/template.yaml: parsed with operator-registry's
// own type, as strictly as `opm alpha render-template semver` parses it,
// and the bundle images of each archetype.
type semverTemplate struct {
	semvertemplate.SemverTemplateData
	images map[string][]string // by archetype
	raw    map[string]any
}

// parseTemplate parses a semver template and reports every problem of it:
// unknown fields, another schema, bundle images listed twice in an archetype
// or not released (idx, when given).
func parseTemplate(path string, data []byte, idx *releaseIndex) (*semverTemplate, problem.List) {
	var problems problem.List
	at := func(field string) problem.Problem { return problem.Problem{File: path, Field: field} }
	t := &semverTemplate{images: map[string][]string{}}
	if err := sigsyaml.UnmarshalStrict(data, &t.SemverTemplateData); err != nil {
		problems.Addf(at(""), "not an %s template: %v", TemplateSchema, err)
		return nil, problems
	}
	if err := sigsyaml.Unmarshal(data, &t.raw); err != nil {
		problems.Addf(at(""), "%v", err)
		return nil, problems
	}
	if t.Schema != TemplateSchema {
		problems.Addf(at("schema"), "is %q, want %q (operator-registry's semver template)", t.Schema, TemplateSchema)
	}
	for _, arch := range Archetypes {
		bundles, _ := nested(t.raw, arch)["bundles"].([]any)
		for i, b := range bundles {
			img, _ := b.(map[string]any)["image"].(string)
			field := fmt.Sprintf("%s.bundles[%d].image", arch, i)
			switch {
			case img == "":
				problems.Addf(at(field), "must be set")
			case slices.Contains(t.images[arch], img):
				problems.Addf(at(field), "%s is listed twice", img)
			case idx != nil && idx.byImage(img) == nil:
				problems.Addf(at(field), "%s is not a release: %s lists no such image (release a bundle with `tools catalog release`)", img, idx.path)
			}
			t.images[arch] = append(t.images[arch], img)
		}
	}
	return t, problems
}

func nested(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// filtered returns the template, as operator-registry's semver template
// reads it, with only the images keep accepts.
func (t *semverTemplate) filtered(keep func(image string) bool) ([]byte, error) {
	raw, err := json.Marshal(t.raw)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	for _, arch := range Archetypes {
		ch := nested(c, arch)
		bundles, _ := ch["bundles"].([]any)
		kept := slices.DeleteFunc(bundles, func(b any) bool {
			img, _ := b.(map[string]any)["image"].(string)
			return !keep(img)
		})
		if len(kept) == 0 {
			delete(c, arch)
		} else {
			ch["bundles"] = kept
		}
	}
	return json.Marshal(c)
}

// templateHeader starts a template written by `tools catalog release` when
// there was none.
const templateHeader = `# The catalog template: operator-registry's semver template (olm.semver).
# Each archetype lists the bundle images released into it; the semver
# template generates the channels (stable-v0, ...), their upgrade edges and
# the default channel (the most stable). ` + "`tools catalog render`" + ` renders it like
# ` + "`opm alpha render-template semver --migrate-level bundle-object-to-csv-metadata -o yaml`" + `,
# reading each image's bundle from releases/<version>/ (releases/index.yaml)
# instead of pulling it. Edit by hand or with ` + "`tools catalog release`" + ` (make catalog).
# opm ignores this file (see .indexignore).
schema: olm.semver
generateMajorChannels: true
generateMinorChannels: false
`

// addToTemplate returns the template file data with image added to each of
// archetypes (where missing), keeping comments and order. data may be empty:
// a new template is started.
func addToTemplate(data []byte, image string, archetypes []string) ([]byte, bool, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte(templateHeader)
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
	for _, arch := range archetypes {
		list, err := bundlesNode(root, arch)
		if err != nil {
			return nil, false, err
		}
		if slices.ContainsFunc(list.Content, func(n *yaml.Node) bool {
			v := mappingValue(n, "image")
			return v != nil && v.Value == image
		}) {
			continue
		}
		entry := &yaml.Node{Kind: yaml.MappingNode}
		entry.Content = []*yaml.Node{scalar("image"), scalar(image)}
		list.Content = append(list.Content, entry)
		changed = true
	}
	if !changed {
		return data, false, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, false, err
	}
	if err := enc.Close(); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// bundlesNode returns the `<archetype>: {bundles: [...]}` list, created
// when missing.
func bundlesNode(root *yaml.Node, archetype string) (*yaml.Node, error) {
	arch := mappingValue(root, archetype)
	if arch == nil {
		arch = &yaml.Node{Kind: yaml.MappingNode}
		root.Content = append(root.Content, scalar(archetype), arch)
	}
	if arch.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("catalog template: %s is not a mapping", archetype)
	}
	list := mappingValue(arch, "bundles")
	if list == nil {
		list = &yaml.Node{Kind: yaml.SequenceNode}
		arch.Content = append(arch.Content, scalar("bundles"), list)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("catalog template: %s.bundles is not a list", archetype)
	}
	list.Style = 0 // block style, also when the list was written `[]`
	return list, nil
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
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

// Template is what the tools that run the catalog need to know of it: the
// released versions, their bundle images, and the semver template
// archetypes each is listed in.
type Template struct {
	// Releases in version order.
	Releases []TemplateRelease
}

// TemplateRelease is one released version.
type TemplateRelease struct {
	Version  string
	Image    string
	Channels []string // archetypes: candidate, fast, stable
}

// LoadTemplate reads the template at path and the release index of the
// releases directory beside its directory (catalog/template.yaml,
// releases/index.yaml), and lists the releases the template holds.
func LoadTemplate(path string) (*Template, error) {
	releasesDir := filepath.Join(filepath.Dir(filepath.Dir(path)), DefaultReleasesDir)
	idx, err := loadIndex(releasesDir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog template: %w", err)
	}
	t, problems := parseTemplate(path, data, idx)
	if err := problems.Err("invalid catalog template"); err != nil {
		return nil, err
	}
	out := &Template{}
	for _, e := range idx.Releases {
		var archs []string
		for _, a := range Archetypes {
			if slices.Contains(t.images[a], e.Image) {
				archs = append(archs, a)
			}
		}
		if len(archs) > 0 {
			out.Releases = append(out.Releases, TemplateRelease{Version: e.Version, Image: e.Image, Channels: archs})
		}
	}
	return out, nil
}

// versionOf parses a release version; build metadata is dropped, as semver
// ordering ignores it.
func versionOf(s string) (semver.Version, error) {
	v, err := semver.Parse(s)
	v.Build = nil
	return v, err
}
