package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// DeprecationsFile is the source of the package's olm.deprecations blob,
// beside the template, and its rendered copy in the package directory.
const DeprecationsFile = "deprecations.yaml"

// loadDeprecations reads the olm.deprecations blob at path; none is nil.
func loadDeprecations(path string) (*declcfg.Deprecation, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read deprecations: %w", err)
	}
	var d declcfg.Deprecation
	if err := sigsyaml.UnmarshalStrict(data, &d); err != nil {
		return nil, fmt.Errorf("deprecations %s: %w", path, err)
	}
	// opm would skip a blob of another schema without a word, and with it
	// every deprecation the file declares.
	if d.Schema != declcfg.SchemaDeprecation {
		return nil, fmt.Errorf("deprecations %s: schema: %q, want %q (the one blob of the package's deprecations)", path, d.Schema, declcfg.SchemaDeprecation)
	}
	return &d, nil
}

// checkDeprecations reports every problem of the olm.deprecations blobs of
// cfg at once — what operator-registry's model conversion refuses one at a
// time: a package that is not in the catalog, a second blob for a package,
// an entry without schema or of an unknown schema, a bundle or channel that
// does not exist, a package reference with a name, an entry listed twice,
// and an empty message.
func checkDeprecations(cfg *declcfg.DeclarativeConfig) problem.List {
	var problems problem.List
	bundles, channels := map[string]bool{}, map[string]bool{}
	for _, b := range cfg.Bundles {
		bundles[b.Package+"/"+b.Name] = true
	}
	for _, c := range cfg.Channels {
		channels[c.Package+"/"+c.Name] = true
	}
	packages := map[string]bool{}
	for _, p := range cfg.Packages {
		packages[p.Name] = true
	}
	seenPkg := map[string]bool{}
	for i, d := range cfg.Deprecations {
		at := func(field string) problem.Problem {
			return problem.Problem{Package: d.Package, Field: fmt.Sprintf("olm.deprecations[%d]%s", i, field)}
		}
		switch {
		case d.Package == "":
			problems.Addf(at(".package"), "must be set")
		case !packages[d.Package]:
			problems.Addf(at(".package"), "%q is not a package of the catalog", d.Package)
		case seenPkg[d.Package]:
			problems.Addf(at(".package"), "a second olm.deprecations for package %q: one per package", d.Package)
		}
		seenPkg[d.Package] = true
		var seen []declcfg.PackageScopedReference
		for j, e := range d.Entries {
			entry := func(field string) problem.Problem { return at(fmt.Sprintf(".entries[%d]%s", j, field)) }
			ref := e.Reference
			switch ref.Schema {
			case "":
				problems.Addf(entry(".reference.schema"), "must be set (%s, %s or %s)", declcfg.SchemaBundle, declcfg.SchemaChannel, declcfg.SchemaPackage)
			case declcfg.SchemaBundle:
				if !bundles[d.Package+"/"+ref.Name] {
					problems.Addf(entry(".reference.name"), "bundle %q is not in package %q", ref.Name, d.Package)
				}
			case declcfg.SchemaChannel:
				if !channels[d.Package+"/"+ref.Name] {
					problems.Addf(entry(".reference.name"), "channel %q is not in package %q", ref.Name, d.Package)
				}
			case declcfg.SchemaPackage:
				if ref.Name != "" {
					problems.Addf(entry(".reference.name"), "must be empty for the package itself (it is %q)", ref.Name)
				}
			default:
				problems.Addf(entry(".reference.schema"), "%q is not %s, %s or %s", ref.Schema, declcfg.SchemaBundle, declcfg.SchemaChannel, declcfg.SchemaPackage)
			}
			if slices.Contains(seen, ref) {
				problems.Addf(entry(".reference"), "%s %q is deprecated twice", ref.Schema, ref.Name)
			}
			seen = append(seen, ref)
			if e.Message == "" {
				problems.Addf(entry(".message"), "must say why, and what to use instead")
			}
		}
	}
	return problems
}

// bundleDeprecations maps the deprecated bundles of pkg to their messages.
func bundleDeprecations(cfg *declcfg.DeclarativeConfig, pkg string) map[string]string {
	out := map[string]string{}
	for _, d := range cfg.Deprecations {
		if d.Package != pkg {
			continue
		}
		for _, e := range d.Entries {
			if e.Reference.Schema == declcfg.SchemaBundle && e.Message != "" {
				out[e.Reference.Name] = e.Message
			}
		}
	}
	return out
}

// forCatalog returns d with only the entries about what cfg holds: a
// catalog cut at a version (RenderOptions.MaxVersion) lacks newer bundles.
func forCatalog(d *declcfg.Deprecation, cfg *declcfg.DeclarativeConfig) *declcfg.Deprecation {
	has := func(ref declcfg.PackageScopedReference) bool {
		switch ref.Schema {
		case declcfg.SchemaBundle:
			return slices.ContainsFunc(cfg.Bundles, func(b declcfg.Bundle) bool { return b.Name == ref.Name })
		case declcfg.SchemaChannel:
			return slices.ContainsFunc(cfg.Channels, func(c declcfg.Channel) bool { return c.Name == ref.Name })
		}
		return true
	}
	out := *d
	out.Entries = slices.DeleteFunc(slices.Clone(d.Entries), func(e declcfg.DeprecationEntry) bool { return !has(e.Reference) })
	return &out
}
