package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/operator-framework/operator-registry/alpha/action/migrations"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"
	"github.com/operator-framework/operator-registry/alpha/template/api"
	ref "github.com/operator-framework/operator-registry/pkg/image"
	"github.com/operator-framework/operator-registry/pkg/lib/bundle"
	"github.com/operator-framework/operator-registry/pkg/registry"
	sigsyaml "sigs.k8s.io/yaml"
)

// CSVMetadataMigration is the operator-registry migration the published
// catalog is rendered with: bundles carry olm.csv.metadata, not every
// manifest as olm.bundle.object (`--migrate-level` of opm).
const CSVMetadataMigration = "bundle-object-to-csv-metadata"

// bundleLabels reads metadata/annotations.yaml of a bundle directory.
func bundleLabels(dir string) (map[string]string, error) {
	path := filepath.Join(dir, bundle.MetadataDir, bundle.AnnotationsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bundle annotations: %w", err)
	}
	var md bundle.AnnotationMetadata
	if err := sigsyaml.Unmarshal(data, &md); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return md.Annotations, nil
}

// bundleRenderer is the semver template's bundle renderer: it renders the
// bundle of a released image from releases/<version>/ (idx, dirOf) instead
// of pulling the image, as `opm alpha render-template` renders a pulled
// bundle image: the image as the bundle's image, migrated to
// olm.csv.metadata unless embed.
func bundleRenderer(idx *releaseIndex, dirOf func(version string) string, embed bool) (api.BundleRenderer, error) {
	var m *migrations.Migrations
	if !embed {
		var err error
		if m, err = migrations.NewMigrations(CSVMetadataMigration); err != nil {
			return nil, err
		}
	}
	return func(_ context.Context, ref string) (*declcfg.DeclarativeConfig, error) {
		e := idx.byImage(ref)
		if e == nil {
			return nil, fmt.Errorf("bundle image %s is not a release (%s)", ref, idx.path)
		}
		b, err := renderBundleDir(dirOf(e.Version), ref)
		if err != nil {
			return nil, err
		}
		cfg := &declcfg.DeclarativeConfig{Bundles: []declcfg.Bundle{*b}}
		if m != nil {
			if err := m.Migrate(cfg); err != nil {
				return nil, fmt.Errorf("migrate %s: %w", ref, err)
			}
		}
		return cfg, nil
	}, nil
}

// renderBundleDir renders a bundle directory published as image (none for
// `opm render DIR`) the way operator-registry's alpha/action renders a bundle
// (bundleToDeclcfg, getRelatedImages, then bundle objects last and related
// images sorted): its bundle parser and property derivation, and the same
// related images. alpha/action itself is not imported: it links
// containers/image's gpgme (cgo), which opm avoids with a build tag that
// `go test ./...` does not set.
func renderBundleDir(dir, image string) (*declcfg.Bundle, error) {
	in, err := registry.NewImageInput(ref.SimpleReference(image), dir)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	b := in.Bundle
	b.BundleImage = image
	objs, props, err := registry.ObjectsAndPropertiesFromBundle(b)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: properties: %w", dir, err)
	}
	related, err := relatedImages(b)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: related images: %w", dir, err)
	}
	out := &declcfg.Bundle{Schema: declcfg.SchemaBundle, Name: b.Name, Package: b.Package, Image: image,
		Properties: bundleObjectsLast(props), RelatedImages: related, Objects: objs}
	for _, o := range b.Objects {
		if o.GetKind() == "ClusterServiceVersion" {
			csv, err := json.Marshal(o)
			if err != nil {
				return nil, fmt.Errorf("read bundle %s: CSV: %w", dir, err)
			}
			out.CsvJSON = string(csv)
		}
	}
	return out, nil
}

// relatedImages lists the CSV's spec.relatedImages, then the bundle image,
// then every image of the install strategy not among them, sorted by image.
func relatedImages(b *registry.Bundle) ([]declcfg.RelatedImage, error) {
	csv, err := b.ClusterServiceVersion()
	if err != nil {
		return nil, err
	}
	var spec struct {
		RelatedImages []declcfg.RelatedImage `json:"relatedImages"`
	}
	if err := json.Unmarshal(csv.Spec, &spec); err != nil {
		return nil, err
	}
	out := spec.RelatedImages
	seen := map[string]bool{}
	for _, r := range out {
		seen[r.Image] = true
	}
	if b.BundleImage != "" && !seen[b.BundleImage] {
		out = append(out, declcfg.RelatedImage{Image: b.BundleImage})
	}
	opImages, err := csv.GetOperatorImages()
	if err != nil {
		return nil, err
	}
	for img := range opImages {
		if !seen[img] {
			out = append(out, declcfg.RelatedImage{Image: img})
			seen[img] = true
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Image < out[j].Image })
	return out, nil
}

// bundleObjectsLast moves olm.bundle.object and olm.csv.metadata properties
// after the others, as alpha/action does.
func bundleObjectsLast(props []property.Property) []property.Property {
	last := func(p property.Property) bool {
		return p.Type == property.TypeBundleObject || p.Type == property.TypeCSVMetadata
	}
	return append(slices.DeleteFunc(slices.Clone(props), last), slices.DeleteFunc(slices.Clone(props), func(p property.Property) bool { return !last(p) })...)
}

// embedBundles turns a rendered catalog into one OLM installs without
// pulling a bundle image: no image (what `opm render DIR` gives a bundle
// directory), every manifest kept as olm.bundle.object.
func embedBundles(cfg *declcfg.DeclarativeConfig) {
	for i := range cfg.Bundles {
		b := &cfg.Bundles[i]
		img := b.Image
		b.Image = ""
		b.RelatedImages = slices.DeleteFunc(b.RelatedImages, func(r declcfg.RelatedImage) bool { return r.Image == img && r.Name == "" })
	}
}

// bundleVersion is the version of a rendered bundle (its olm.package property).
func bundleVersion(b *declcfg.Bundle) (string, error) {
	props, err := property.Parse(b.Properties)
	if err != nil {
		return "", fmt.Errorf("bundle %s: %w", b.Name, err)
	}
	if len(props.Packages) != 1 {
		return "", fmt.Errorf("bundle %s: %d %s properties, want 1", b.Name, len(props.Packages), property.TypePackage)
	}
	return props.Packages[0].Version, nil
}
