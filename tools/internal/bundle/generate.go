package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
)

// Output is a generated bundle, in memory.
type Output struct {
	CSVName string
	// Files are the bundle's files by slash-separated path relative to the
	// bundle directory (manifests/..., metadata/annotations.yaml,
	// tests/scorecard/config.yaml).
	Files map[string][]byte
	// Dockerfile is the content of bundle.Dockerfile.
	Dockerfile []byte
	// Notes say what the generator decided that the user should know.
	Notes []string
}

// Paths lists Files' paths, sorted.
func (o *Output) Paths() []string {
	paths := make([]string, 0, len(o.Files))
	for p := range o.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// Build renders ConfigDir/manifests and turns it into a bundle, without
// writing anything. Every problem of the inputs is reported at once, each
// naming the file and field (or the flag) at fault.
func Build(ctx context.Context, opts Options) (*Output, error) {
	opts = opts.withDefaults()
	if ps := opts.check(); len(ps) > 0 {
		return nil, ps.Err("invalid options")
	}
	in, ps := loadInputs(opts.ConfigDir)
	if in == nil || in.csvBase == nil || len(in.deployments) == 0 {
		return nil, ps.Err("cannot generate the bundle from " + opts.ConfigDir)
	}
	out := &Output{Files: map[string][]byte{}}

	// Images: the operator's replaces the placeholder, then all are pinned.
	refs, more := imageRefs(in.deployments)
	ps = append(ps, more...)
	operatorRefs := []imageRef{}
	for _, r := range refs {
		if !r.isEnv && imageName(r.get()) == managerImageName {
			operatorRefs = append(operatorRefs, r)
		}
	}
	ps = append(ps, setOperatorImage(refs, opts.Image)...)
	if opts.UseImageDigests {
		resolver := opts.Resolver
		if resolver == nil {
			resolver = RegistryResolver{}
		}
		ps = append(ps, pinDigests(ctx, refs, resolver)...)
	}
	related, more := relatedImages(refs)
	ps = append(ps, more...)

	// The CSV base.
	baseFile := in.csvBase.file
	if opts.CreatedAt != "" {
		ann := in.csvBase.obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[annCreatedAt] = opts.CreatedAt
		in.csvBase.obj.SetAnnotations(ann)
	}
	base, more := parseCSV(*in.csvBase, checkGenerate)
	ps = append(ps, more...)
	if base == nil {
		return nil, ps.Err("cannot generate the bundle from " + opts.ConfigDir)
	}
	ps = append(ps, hubChecks(base, baseFile, checkGenerate, false)...)

	// CRDs, their UI metadata and their examples.
	versions, clusterCRDs, more := parseCRDs(in.crds)
	ps = append(ps, more...)
	owned, more := ownedCRDs(base.Spec.CustomResourceDefinitions.Owned, baseFile, versions)
	ps = append(ps, more...)
	checker, more := newSampleChecker(versions)
	ps = append(ps, more...)
	sampled := map[schema.GroupVersionKind]bool{}
	for _, s := range in.samples {
		ps = append(ps, checker.check(s)...)
		sampled[s.obj.GroupVersionKind()] = true
	}
	for _, v := range versions {
		if !sampled[v.gvk()] {
			ps.errorf(checkGenerate, filepath.Join(opts.ConfigDir, "samples"), "", "no sample of %s %s: add one to config/samples (it becomes the CSV's alm-examples, which OperatorHub and the console offer as a template)", v.gvk().Kind, v.gvk().GroupVersion())
		}
	}
	examples, err := almExamples(in.samples)
	if err != nil {
		ps.errorf(checkGenerate, filepath.Join(opts.ConfigDir, "samples"), "", "%v", err)
	}

	// RBAC.
	perms, more := sortPermissions(in, clusterCRDs)
	ps = append(ps, more...)

	if errs, _ := ps.Count(); errs > 0 {
		return nil, ps.Err("cannot generate the bundle from " + opts.ConfigDir)
	}

	// The CSV.
	csv := base.DeepCopy()
	csv.Name = opts.Package + ".v" + opts.Version
	csv.Namespace = ""
	ann := csv.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[annAlmExamples] = examples
	ann[annBuilder] = Builder
	if len(operatorRefs) > 0 {
		ann[annContainerImage] = operatorRefs[0].get()
	}
	if ann[annDisconnected] == "true" {
		var tags []string
		for _, ri := range related {
			if !isDigest(ri.Image) {
				tags = append(tags, ri.Image)
			}
		}
		if len(tags) > 0 {
			ann[annDisconnected] = "false"
			out.Notes = append(out.Notes, fmt.Sprintf("%s is \"false\": %s not pinned by digest (generate with --use-image-digests for disconnected installs)",
				annDisconnected, strings.Join(tags, ", ")))
		}
	}
	csv.SetAnnotations(ann)
	csv.Spec.Version = version.OperatorVersion{Version: semver.MustParse(opts.Version)}
	csv.Spec.CustomResourceDefinitions.Owned = owned
	csv.Spec.RelatedImages = nil
	for _, ri := range related {
		csv.Spec.RelatedImages = append(csv.Spec.RelatedImages, v1alpha1.RelatedImage{Name: ri.Name, Image: ri.Image})
	}
	strategy := v1alpha1.StrategyDetailsDeployment{
		Permissions:        perms.permissions,
		ClusterPermissions: perms.clusterPermissions,
	}
	sortSources(in.deployments)
	for _, d := range in.deployments {
		strategy.DeploymentSpecs = append(strategy.DeploymentSpecs, v1alpha1.StrategyDeploymentSpec{
			Name:  d.obj.GetName(),
			Label: d.obj.GetLabels(),
			Spec:  appsv1.DeploymentSpec{}, // replaced by the rendered spec below
		})
	}
	csv.Spec.InstallStrategy = v1alpha1.NamedInstallStrategy{
		StrategyName: v1alpha1.InstallStrategyNameDeployment,
		StrategySpec: strategy,
	}
	csvMap, err := csvObject(csv, in.deployments)
	if err != nil {
		return nil, err
	}
	out.CSVName = csv.Name

	// The manifests: the CSV, the CRDs and the objects OLM applies as they are.
	objs := []*unstructured.Unstructured{{Object: csvMap}}
	for _, c := range in.crds {
		objs = append(objs, c.obj)
	}
	extras := append(append([]source{}, in.others...), perms.extras...)
	sortSources(extras)
	for _, e := range extras {
		obj := e.obj.DeepCopy()
		// OLM creates namespaced objects in the operator's namespace.
		unstructured.RemoveNestedField(obj.Object, "metadata", "namespace")
		objs = append(objs, obj)
	}
	files := map[string]string{}
	for i, obj := range objs {
		name := manifestsDir + "/" + fileName(opts.Package, obj)
		if prev, dup := files[name]; dup {
			ps.errorf(checkGenerate, name, "", "both %s and %s %s would be written to this file", prev, obj.GetKind(), obj.GetName())
			continue
		}
		files[name] = obj.GetKind() + " " + obj.GetName()
		data, err := marshalYAML(objs[i].Object)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		out.Files[name] = data
	}

	// Scorecard configuration, metadata and Dockerfile.
	withTests := in.scorecard != nil
	if withTests {
		data, err := marshalYAML(in.scorecard.obj.Object)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", scorecardFile, err)
		}
		out.Files[scorecardFile] = data
	}
	as := bundleAnnotations(opts.Package, opts.Channels, opts.DefaultChannel, ann[annProjectLayout], withTests)
	out.Files[annotationsFile] = annotationsYAML(as)
	ctxDir, err := dockerfileContext(opts.Dockerfile, opts.OutputDir)
	if err != nil {
		ps.errorf(checkGenerate, "--output-dir", "", "%v", err)
	}
	out.Dockerfile = dockerfile(as, ctxDir, withTests)

	if len(ps) > 0 {
		return nil, ps.Err("cannot generate the bundle from " + opts.ConfigDir)
	}
	return out, nil
}

// csvObject is the CSV as it is written: without status or creation time,
// and with each Deployment's spec exactly as kustomize rendered it (the
// typed round trip would add empty fields such as strategy: {}).
func csvObject(csv *v1alpha1.ClusterServiceVersion, deployments []source) (map[string]any, error) {
	data, err := json.Marshal(csv)
	if err != nil {
		return nil, fmt.Errorf("encoding the CSV: %w", err)
	}
	obj := map[string]any{}
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("encoding the CSV: %w", err)
	}
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	spec, _ := obj["spec"].(map[string]any)
	for _, key := range []string{"apiservicedefinitions", "customresourcedefinitions", "cleanup"} {
		if isEmpty(spec[key]) {
			delete(spec, key)
		}
	}
	deps, _, _ := unstructured.NestedSlice(obj, "spec", "install", "spec", "deployments")
	for i := range deps {
		d := deps[i].(map[string]any)
		rendered, _, _ := unstructured.NestedMap(deployments[i].obj.Object, "spec")
		d["spec"] = rendered
	}
	if err := unstructured.SetNestedSlice(obj, deps, "spec", "install", "spec", "deployments"); err != nil {
		return nil, fmt.Errorf("encoding the CSV: %w", err)
	}
	return runtime.DeepCopyJSON(obj), nil
}

// isEmpty reports whether v is absent, or an object whose values are all
// empty or false (cleanup: {enabled: false}).
func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, x := range t {
			if b, ok := x.(bool); ok && !b {
				continue
			}
			if !isEmpty(x) {
				return false
			}
		}
		return true
	case []any:
		return len(t) == 0
	case string:
		return t == ""
	default:
		return false
	}
}

// Result is what Generate wrote.
type Result struct {
	*Output
	OutputDir  string
	Dockerfile string
	Report     *Report
}

// Generate builds the bundle, writes it beside OutputDir and Dockerfile,
// validates what it wrote, and only then replaces them. On any failure the
// previous bundle and Dockerfile are left as they were.
func Generate(ctx context.Context, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	out, err := Build(ctx, opts)
	if err != nil {
		return nil, err
	}
	dir, err := atomicdir.StageDir(opts.OutputDir)
	if err != nil {
		return nil, err
	}
	var items []atomicdir.Item
	items = append(items, dir)
	fail := func(err error) (*Result, error) {
		return nil, errors.Join(err, atomicdir.Discard(items...))
	}
	for _, p := range out.Paths() {
		file := filepath.Join(dir.Path(), filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(file, out.Files[p], 0o644); err != nil {
			return fail(err)
		}
	}
	df, err := atomicdir.StageFile(opts.Dockerfile, out.Dockerfile, 0o644)
	if err != nil {
		return fail(err)
	}
	items = append(items, df)

	report, err := Validate(ctx, ValidateOptions{
		Dir:               dir.Path(),
		Dockerfile:        df.Path(),
		K8sVersion:        opts.K8sVersion,
		DisplayDir:        opts.OutputDir,
		DisplayDockerfile: opts.Dockerfile,
	})
	if err != nil {
		return fail(err)
	}
	if err := report.Err(); err != nil {
		return fail(fmt.Errorf("the generated bundle is not valid, %s and %s are left as they were: %w", opts.OutputDir, opts.Dockerfile, err))
	}
	if err := atomicdir.CommitAll(items...); err != nil {
		return nil, err
	}
	return &Result{Output: out, OutputDir: opts.OutputDir, Dockerfile: opts.Dockerfile, Report: report}, nil
}
