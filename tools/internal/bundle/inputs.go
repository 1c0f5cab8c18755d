package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	registrybundle "github.com/operator-framework/operator-registry/pkg/lib/bundle"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
	"github.com/example-inc/memcached-operator/tools/internal/render"
)

// originAnnotation is set by kustomize (buildMetadata: [originAnnotations] in
// config/manifests) to the file each object came from.
const originAnnotation = "config.kubernetes.io/origin"

const checkGenerate = "generate"

// source is a rendered object and the file it was declared in.
type source struct {
	obj  *unstructured.Unstructured
	file string
}

func (s source) describe() string {
	return fmt.Sprintf("%s %s", s.obj.GetKind(), s.obj.GetName())
}

// inputs are the rendered objects of config/manifests, sorted by role.
type inputs struct {
	manifestsDir string
	csvBase      *source
	crds         []source
	deployments  []source
	// rbac and service accounts are sorted out against the deployments.
	serviceAccounts, roles, clusterRoles, roleBindings, clusterRoleBindings []source
	samples                                                                 []source
	scorecard                                                               *source
	// others are objects OLM accepts in a bundle, copied as they are.
	others []source
}

// loadInputs renders ConfigDir/manifests and sorts its objects. Problems name
// the file each bad object came from.
func loadInputs(configDir string) (*inputs, problem.List) {
	in := &inputs{manifestsDir: filepath.Join(configDir, "manifests")}
	var ps problem.List
	if ps = checkKustomizations(in.manifestsDir); len(ps) > 0 {
		return nil, ps
	}
	objs, err := render.Objects(in.manifestsDir)
	if err != nil {
		ps.Errorf(checkGenerate, filepath.Join(in.manifestsDir, "kustomization.yaml"), "", "%v", err)
		return nil, ps
	}

	var maybeSamples []source
	crdKinds := map[schema.GroupKind]bool{}
	for _, obj := range objs {
		src := source{obj: obj, file: in.origin(obj)}
		gvk := obj.GroupVersionKind()
		switch {
		case gvk.Group == "operators.coreos.com" && gvk.Kind == "ClusterServiceVersion":
			if in.csvBase != nil {
				ps.Errorf(checkGenerate, src.file, "", "a second ClusterServiceVersion (%s; the first is in %s): config/manifests must hold exactly one CSV base", obj.GetName(), in.csvBase.file)
				continue
			}
			in.csvBase = &src
		case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
			if gvk.Version != "v1" {
				ps.Errorf(checkGenerate, src.file, "apiVersion", "CustomResourceDefinition %s is %s: only apiextensions.k8s.io/v1 is served by supported Kubernetes versions", obj.GetName(), obj.GetAPIVersion())
				continue
			}
			in.crds = append(in.crds, src)
			group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
			crdKinds[schema.GroupKind{Group: group, Kind: kind}] = true
		case gvk.Group == "apps" && gvk.Kind == "Deployment":
			in.deployments = append(in.deployments, src)
		case gvk.Group == "" && gvk.Kind == "Namespace":
			// OLM installs into the namespace the user picks.
		case gvk.Group == "" && gvk.Kind == "ServiceAccount":
			in.serviceAccounts = append(in.serviceAccounts, src)
		case gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "Role":
			in.roles = append(in.roles, src)
		case gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "ClusterRole":
			in.clusterRoles = append(in.clusterRoles, src)
		case gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "RoleBinding":
			in.roleBindings = append(in.roleBindings, src)
		case gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "ClusterRoleBinding":
			in.clusterRoleBindings = append(in.clusterRoleBindings, src)
		case gvk.Group == "scorecard.operatorframework.io" && gvk.Kind == "Configuration":
			if in.scorecard != nil {
				ps.Errorf(checkGenerate, src.file, "", "a second scorecard Configuration (the first is in %s)", in.scorecard.file)
				continue
			}
			in.scorecard = &src
		case gvk.Kind == "NetworkPolicy":
			ps.Errorf(checkGenerate, src.file, "kind", "NetworkPolicy %s: OperatorHub rejects bundles with a NetworkPolicy; leave it out of config/manifests", obj.GetName())
		default:
			maybeSamples = append(maybeSamples, src)
		}
	}
	ps.Add(in.sortSamples(maybeSamples, crdKinds)...)
	if in.csvBase == nil {
		ps.Errorf(checkGenerate, filepath.Join(in.manifestsDir, "kustomization.yaml"), "resources",
			"no ClusterServiceVersion: add the CSV base (bases/<package>.clusterserviceversion.yaml) to the resources")
	}
	if len(in.deployments) == 0 {
		ps.Errorf(checkGenerate, filepath.Join(in.manifestsDir, "kustomization.yaml"), "resources",
			"no Deployment: the operator's Deployment (config/manager through ../default) must be among the resources")
	}
	return in, ps
}

// sortSamples tells the samples (objects of a CRD of the bundle) from the
// other objects OLM applies as they are.
func (in *inputs) sortSamples(objs []source, crdKinds map[schema.GroupKind]bool) problem.List {
	var ps problem.List
	for _, src := range objs {
		gvk := src.obj.GroupVersionKind()
		if crdKinds[gvk.GroupKind()] {
			in.samples = append(in.samples, src)
			continue
		}
		if ok, _ := registrybundle.IsSupported(gvk.Kind); !ok {
			ps.Errorf(checkGenerate, src.file, "kind", "%s %s: kind %s is not supported in a registry+v1 bundle (and no CRD of the bundle defines it, so it is no sample either)", gvk.Kind, src.obj.GetName(), gvk.Kind)
			continue
		}
		in.others = append(in.others, src)
	}
	return ps
}

// origin returns the file obj was declared in and removes the annotation
// that says so.
func (in *inputs) origin(obj *unstructured.Unstructured) string {
	ann := obj.GetAnnotations()
	value, ok := ann[originAnnotation]
	if !ok {
		return filepath.Join(in.manifestsDir, "kustomization.yaml")
	}
	delete(ann, originAnnotation)
	if len(ann) == 0 {
		unstructured.RemoveNestedField(obj.Object, "metadata", "annotations")
	} else {
		obj.SetAnnotations(ann)
	}
	var o struct {
		Path string `json:"path"`
		Repo string `json:"repo"`
	}
	if err := yaml.Unmarshal([]byte(value), &o); err != nil || o.Path == "" {
		return filepath.Join(in.manifestsDir, "kustomization.yaml")
	}
	if o.Repo != "" {
		return o.Repo + "//" + o.Path
	}
	return filepath.Join(in.manifestsDir, o.Path)
}

// checkKustomizations parses every kustomization reachable from dir through
// directory resources, so that a broken one is reported with its own path
// and line rather than as a failure to build dir.
func checkKustomizations(dir string) problem.List {
	var ps problem.List
	seen := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		file, data, err := readKustomization(dir)
		if err != nil {
			ps.Errorf(checkGenerate, filepath.Join(dir, "kustomization.yaml"), "", "%v", err)
			return
		}
		var k struct {
			Resources  []string `json:"resources"`
			Components []string `json:"components"`
			Bases      []string `json:"bases"`
		}
		if err := yaml.Unmarshal(data, &k); err != nil {
			ps.Errorf(checkGenerate, file, "", "not a valid kustomization: %v", err)
			return
		}
		for _, list := range [][]string{k.Resources, k.Components, k.Bases} {
			for _, r := range list {
				if strings.Contains(r, "://") || filepath.IsAbs(r) {
					continue
				}
				p := filepath.Join(dir, r)
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					visit(p)
				}
			}
		}
	}
	visit(filepath.Clean(dir))
	return ps
}

func readKustomization(dir string) (string, []byte, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		file := filepath.Join(dir, name)
		data, err := os.ReadFile(file)
		if err == nil {
			return file, data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return file, nil, err
		}
	}
	return "", nil, fmt.Errorf("no kustomization.yaml in %s", dir)
}

// sortSources orders objects by kind and name, for stable output.
func sortSources(srcs []source) {
	sort.SliceStable(srcs, func(i, j int) bool {
		a, b := srcs[i].obj, srcs[j].obj
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}
