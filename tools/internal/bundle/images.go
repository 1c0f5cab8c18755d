package bundle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// relatedImagePrefix marks the operator's environment variables that name
// an operand image; OLM and disconnected mirroring read them from
// spec.relatedImages.
const relatedImagePrefix = "RELATED_IMAGE_"

// relatedImage is one entry of spec.relatedImages.
type relatedImage struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// imageRef points at one image field of a Deployment: a container's image
// or the value of one of its RELATED_IMAGE_* variables.
type imageRef struct {
	deployment source
	// path is where the field is, for messages:
	// spec.template.spec.containers[0].image.
	path string
	// name is the relatedImages name this image is listed under.
	name  string
	get   func() string
	set   func(string)
	isEnv bool
}

// imageRefs lists every image field of the deployments.
func imageRefs(deployments []source) ([]imageRef, problem.List) {
	var refs []imageRef
	var ps problem.List
	for _, d := range deployments {
		for _, kind := range []string{"initContainers", "containers"} {
			// NoCopy: the closures below edit the Deployment in place.
			field, _, _ := unstructured.NestedFieldNoCopy(d.obj.Object, "spec", "template", "spec", kind)
			containers, _ := field.([]any)
			for i := range containers {
				c, ok := containers[i].(map[string]any)
				if !ok {
					continue
				}
				base := fmt.Sprintf("spec.template.spec.%s[%d]", kind, i)
				name, _ := c["name"].(string)
				refs = append(refs, imageRef{
					deployment: d, path: base + ".image", name: name,
					get: func() string { s, _ := c["image"].(string); return s },
					set: func(v string) { c["image"] = v },
				})
				env, _ := c["env"].([]any)
				for j := range env {
					e, ok := env[j].(map[string]any)
					if !ok {
						continue
					}
					envName, _ := e["name"].(string)
					if !strings.HasPrefix(envName, relatedImagePrefix) {
						continue
					}
					path := fmt.Sprintf("%s.env[%d]", base, j)
					if _, ok := e["value"].(string); !ok {
						ps.Errorf(checkGenerate, d.file, path, "%s must have a literal value: it is listed in spec.relatedImages, which cannot follow a valueFrom", envName)
						continue
					}
					refs = append(refs, imageRef{
						deployment: d, path: path + ".value", isEnv: true,
						name: strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(envName, relatedImagePrefix)), "_", "-"),
						get:  func() string { s, _ := e["value"].(string); return s },
						set:  func(v string) { e["value"] = v },
					})
				}
			}
		}
	}
	return refs, ps
}

// setOperatorImage replaces the image named "controller" (the placeholder of
// config/manager) with image, as the images field of a kustomization would.
func setOperatorImage(refs []imageRef, image string) problem.List {
	var ps problem.List
	replaced := 0
	for _, r := range refs {
		if r.isEnv {
			continue
		}
		if imageName(r.get()) == managerImageName {
			r.set(image)
			replaced++
		}
	}
	if replaced == 0 {
		file := "config/manager"
		if len(refs) > 0 {
			file = refs[0].deployment.file
		}
		ps.Errorf(checkGenerate, file, "spec.template.spec.containers", "no container image is named %q: --image would be ignored; config/manager must use the image %q as the operator's", managerImageName, managerImageName+":latest")
	}
	return ps
}

// imageName is the image's repository, as kustomize's images field
// matches it ("" for what is no image reference).
func imageName(image string) string {
	repo, err := imageref.Repository(image)
	if err != nil {
		return ""
	}
	return repo
}

// pinDigests replaces every image reference that is not pinned by digest by
// the digest the resolver finds for it.
func pinDigests(ctx context.Context, refs []imageRef, r DigestResolver) problem.List {
	var ps problem.List
	resolved := map[string]string{}
	for _, ref := range refs {
		image := ref.get()
		if imageref.IsDigest(image) {
			continue
		}
		pinned, ok := resolved[image]
		if !ok {
			var err error
			pinned, err = r.Resolve(ctx, image)
			if err != nil {
				ps.Errorf(checkGenerate, ref.deployment.file, ref.path, "resolving %s to a digest (--use-image-digests): %v", image, err)
				resolved[image] = ""
				continue
			}
			if !imageref.IsDigest(pinned) {
				ps.Errorf(checkGenerate, ref.deployment.file, ref.path, "resolving %s to a digest gave %q, which is not pinned by digest", image, pinned)
				resolved[image] = ""
				continue
			}
			resolved[image] = pinned
		}
		if pinned != "" {
			ref.set(pinned)
		}
	}
	return ps
}

// relatedImages lists every image of the deployments once per name, sorted
// by name: containers under their container's name, operands under the
// lower-cased suffix of their RELATED_IMAGE_ variable.
func relatedImages(refs []imageRef) ([]relatedImage, problem.List) {
	var ps problem.List
	byName := map[string]imageRef{}
	for _, ref := range refs {
		image := ref.get()
		if image == "" {
			ps.Errorf(checkGenerate, ref.deployment.file, ref.path, "empty image")
			continue
		}
		if _, err := imageref.Parse(image); err != nil {
			ps.Errorf(checkGenerate, ref.deployment.file, ref.path, "%q is not an image reference: %v", image, err)
			continue
		}
		if errs := validation.IsDNS1123Subdomain(ref.name); len(errs) > 0 {
			ps.Errorf(checkGenerate, ref.deployment.file, ref.path, "relatedImages name %q is not valid: %s", ref.name, strings.Join(errs, "; "))
			continue
		}
		if prev, ok := byName[ref.name]; ok {
			if prev.get() != image {
				ps.Errorf(checkGenerate, ref.deployment.file, ref.path, "relatedImages name %q would list two images, %s (%s) and %s: rename the container or the variable", ref.name, prev.get(), prev.path, image)
			}
			continue
		}
		byName[ref.name] = ref
	}
	out := make([]relatedImage, 0, len(byName))
	for name, ref := range byName {
		out = append(out, relatedImage{Name: name, Image: ref.get()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ps
}
