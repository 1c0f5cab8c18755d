package catalog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"
	"github.com/operator-framework/operator-registry/pkg/image"
	"github.com/operator-framework/operator-registry/pkg/registry"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// bundleContent is a bundle directory (manifests/, metadata/) read the way
// `opm render BUNDLE_DIR` reads it, with operator-registry's bundle parser.
type bundleContent struct {
	dir            string
	name           string // the CSV's name
	pkg            string // metadata/annotations.yaml package
	channels       []string
	defaultChannel string
	version        semver.Version
	csv            v1alpha1.ClusterServiceVersion
	objects        []*unstructured.Unstructured
	objectsJSON    []string
	// properties as opm derives them: olm.package, olm.gvk, olm.gvk.required,
	// olm.package.required, properties.yaml/olm.properties, olm.bundle.object.
	properties    []property.Property
	relatedImages []declcfg.RelatedImage // without the bundle image
}

func loadBundleDir(dir string) (*bundleContent, error) {
	in, err := registry.NewImageInput(image.SimpleReference(""), dir)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	b := in.Bundle
	objs, props, err := registry.ObjectsAndPropertiesFromBundle(b)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: properties: %w", dir, err)
	}
	rawVersion, err := b.Version()
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	v, err := semver.Parse(rawVersion)
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: CSV spec.version %q is not semver: %w", dir, rawVersion, err)
	}
	bc := &bundleContent{
		dir:         dir,
		name:        b.Name,
		pkg:         b.Package,
		channels:    b.Channels,
		version:     v,
		objects:     b.Objects,
		objectsJSON: objs,
		properties:  props,
	}
	if b.Annotations != nil {
		bc.defaultChannel = b.Annotations.DefaultChannelName
	}
	for _, o := range b.Objects {
		if o.GetKind() != v1alpha1.ClusterServiceVersionKind {
			continue
		}
		raw, err := json.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("read bundle %s: CSV: %w", dir, err)
		}
		if err := json.Unmarshal(raw, &bc.csv); err != nil {
			return nil, fmt.Errorf("read bundle %s: CSV: %w", dir, err)
		}
	}

	// Related images, as opm render lists them: the CSV's spec.relatedImages,
	// then every image of the install strategy's deployments not among them.
	listed := map[string]bool{}
	for _, ri := range bc.csv.Spec.RelatedImages {
		bc.relatedImages = append(bc.relatedImages, declcfg.RelatedImage{Name: ri.Name, Image: ri.Image})
		listed[ri.Image] = true
	}
	csv, err := b.ClusterServiceVersion()
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	opImages, err := csv.GetOperatorImages()
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: operator images: %w", dir, err)
	}
	for img := range opImages {
		if !listed[img] {
			bc.relatedImages = append(bc.relatedImages, declcfg.RelatedImage{Image: img})
			listed[img] = true
		}
	}
	return bc, nil
}

// declcfgBundle is the olm.bundle of the content. A published bundle
// references image and carries olm.csv.metadata instead of the manifests (what
// `opm render` does for a bundle image); an embedded one has no image and
// carries every manifest as an olm.bundle.object property (what `opm render
// BUNDLE_DIR` does), so that OLM installs it without pulling anything.
func (bc *bundleContent) declcfgBundle(img string, embed bool) declcfg.Bundle {
	b := declcfg.Bundle{
		Schema:  declcfg.SchemaBundle,
		Name:    bc.name,
		Package: bc.pkg,
	}
	var props, objects []property.Property
	for _, p := range bc.properties {
		if p.Type == property.TypeBundleObject {
			objects = append(objects, p)
		} else {
			props = append(props, p)
		}
	}
	related := slices.Clone(bc.relatedImages)
	if embed {
		b.Properties = append(props, objects...)
		b.Objects = slices.Clone(bc.objectsJSON)
		for _, o := range bc.objectsJSON {
			if strings.Contains(o, `"kind":"ClusterServiceVersion"`) {
				b.CsvJSON = o
				break
			}
		}
	} else {
		b.Image = img
		b.Properties = append(props, property.MustBuildCSVMetadata(bc.csv))
		if !slices.ContainsFunc(related, func(r declcfg.RelatedImage) bool { return r.Image == img }) {
			related = append(related, declcfg.RelatedImage{Image: img})
		}
	}
	slices.SortStableFunc(related, func(a, b declcfg.RelatedImage) int {
		if c := strings.Compare(a.Image, b.Image); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	b.RelatedImages = related
	return b
}

// icon is the CSV's first icon, decoded for olm.package.
func (bc *bundleContent) icon() (*declcfg.Icon, error) {
	if len(bc.csv.Spec.Icon) == 0 {
		return nil, nil
	}
	ic := bc.csv.Spec.Icon[0]
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(ic.Data), ""))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: CSV spec.icon[0].base64data: %w", bc.name, err)
	}
	return &declcfg.Icon{Data: data, MediaType: ic.MediaType}, nil
}
