package render

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver/v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/kubeversion"
)

// Image replaces the image called Name in the rendered objects, as the
// `images:` field of a kustomization does.
type Image struct {
	Name    string
	NewName string
	NewTag  string
	Digest  string
}

// ParseImage reads NAME=REFERENCE, where REFERENCE is a repository with an
// optional :tag or @sha256:digest, e.g. controller=quay.io/example/op:v0.1.0.
// NAME=@sha256:... pins the digest and keeps the repository, as kustomize's
// images field allows. Whatever is not a valid reference part is refused
// here (by imageref, on go-containerregistry's rules), so that a typo never
// reaches a rendered manifest.
func ParseImage(s string) (Image, error) {
	name, ref, ok := strings.Cut(s, "=")
	if !ok || name == "" || ref == "" {
		return Image{}, fmt.Errorf("image %q: want NAME=REPOSITORY[:TAG|@DIGEST]", s)
	}
	digestOnly := strings.HasPrefix(ref, "@")
	if digestOnly {
		// Split checks the digest of any repository.
		ref = "image" + ref
	}
	p, err := imageref.Split(ref)
	switch {
	case err != nil:
		return Image{}, fmt.Errorf("image %q: %w", s, err)
	case p.Tag != "" && p.Digest != "":
		return Image{}, fmt.Errorf("image %q: both a tag and a digest: kustomize sets one of them", s)
	case digestOnly:
		return Image{Name: name, Digest: p.Digest}, nil
	}
	return Image{Name: name, NewName: p.Repository, NewTag: p.Tag, Digest: p.Digest}, nil
}

// Render builds the kustomization in dir and returns the multi-document YAML
// that `kustomize build dir` prints, with images replaced.
func Render(dir string, images ...Image) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(abs, "kustomization.yaml")); err != nil {
		return nil, fmt.Errorf("%s: no kustomization.yaml: %w", dir, err)
	}
	target := abs
	fsys := filesys.MakeFsOnDisk()
	if len(images) > 0 {
		// Set images in an overlay held in memory: config/ stays as it is,
		// unlike with `kustomize edit set image`.
		if fsys, target, err = overlay(abs, images); err != nil {
			return nil, err
		}
	}
	// `kustomize build` sorts its output (--reorder legacy, its default):
	// Namespaces and CRDs before what they hold, so that `kubectl apply`
	// of a fresh install creates the namespace before its objects.
	// krusty's defaults keep the input order instead.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	k := krusty.MakeKustomizer(opts)
	resources, err := k.Run(fsys, target)
	if err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("writing kustomization %s as YAML: %w", dir, err)
	}
	return out, nil
}

// Objects renders dir and decodes every document into an object.
func Objects(dir string, images ...Image) ([]*unstructured.Unstructured, error) {
	out, err := Render(dir, images...)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(out)
	if err != nil {
		return nil, fmt.Errorf("decoding the output of %s: %w", dir, err)
	}
	return objs, nil
}

// Decode splits multi-document YAML into objects, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	reader := utilyaml.NewYAMLReader(bufioReader(data))
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		objs = append(objs, obj)
	}
}

// overlay copies the tree around dir into memory at the same paths and adds
// a kustomization that sets images on top of dir.
func overlay(dir string, images []Image) (filesys.FileSystem, string, error) {
	root := filepath.Dir(dir)
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return mem.MkdirAll(path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile(path, data)
	})
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", root, err)
	}
	k := types.Kustomization{
		TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		// Relative: kustomize refuses an absolute path as a resource root.
		Resources: []string{"../" + filepath.Base(dir)},
	}
	for _, img := range images {
		k.Images = append(k.Images, types.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	data, err := yaml.Marshal(k)
	if err != nil {
		return nil, "", fmt.Errorf("writing the image overlay: %w", err)
	}
	target := filepath.Join(root, ".render-overlay")
	if err := mem.MkdirAll(target); err != nil {
		return nil, "", err
	}
	if err := mem.WriteFile(filepath.Join(target, "kustomization.yaml"), data); err != nil {
		return nil, "", err
	}
	return mem, target, nil
}

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }

// RenderFor is Render for an API server of version server: the CRDs leave out
// the validation-rule fields that server does not know (kubeversion.ForServer),
// which it would drop itself but which server-side apply refuses. removed
// says what was left out.
func RenderFor(dir string, server semver.Version, images ...Image) (out []byte, removed []string, err error) {
	objs, err := Objects(dir, images...)
	if err != nil {
		return nil, nil, err
	}
	removed = kubeversion.ForServer(objs, server)
	var b bytes.Buffer
	for i, obj := range objs {
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return nil, nil, fmt.Errorf("writing %s %s as YAML: %w", obj.GetKind(), obj.GetName(), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes(), removed, nil
}
