package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	apimanifests "github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/kubeversion"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
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
	b := &builder{opts: opts, in: in, ps: ps, out: &Output{Files: map[string][]byte{}}}
	b.kubeVersions()
	b.images(ctx)
	b.parseBase()
	var csvMap map[string]any
	if b.base != nil {
		b.crds()
		b.permissions()
		var err error
		if csvMap, err = b.csv(); err != nil {
			return nil, err
		}
	}
	if errs, _ := b.ps.Count(); errs > 0 || b.base == nil {
		return nil, b.ps.Err("cannot generate the bundle from " + opts.ConfigDir)
	}
	if err := b.write(csvMap); err != nil {
		return nil, err
	}
	if len(b.ps) > 0 {
		return nil, b.ps.Err("cannot generate the bundle from " + opts.ConfigDir)
	}
	return b.out, nil
}

// builder carries one Build from step to step.
type builder struct {
	opts Options
	in   *inputs
	ps   problem.List
	out  *Output

	operatorImage string
	related       []relatedImage
	base          *v1alpha1.ClusterServiceVersion
	owned         []v1alpha1.CRDDescription
	clusterCRDs   map[string]bool
	examples      string
	perms         permissionsResult
	// tested are the versions the tests passed on; openShift is
	// com.redhat.openshift.versions for their floor.
	tested    kubeversion.Tested
	openShift string
}

// kubeVersions derives minKubeVersion and the OpenShift releases from the
// versions the tests passed on (the options check reported bad ones).
func (b *builder) kubeVersions() {
	b.tested, _ = parseTested(b.opts.KubeVersions)
	if b.tested == nil {
		return
	}
	b.openShift, _ = kubeversion.OpenShiftVersions(b.tested.Floor())
	b.out.Notes = append(b.out.Notes, describeTested(b.tested, b.openShift))
}

// images replaces the operator's placeholder image, pins every image by
// digest when asked, and lists the related images.
func (b *builder) images(ctx context.Context) {
	refs, more := imageRefs(b.in.deployments)
	b.ps.Add(more...)
	var operatorRefs []imageRef
	for _, r := range refs {
		if !r.isEnv && imageName(r.get()) == managerImageName {
			operatorRefs = append(operatorRefs, r)
		}
	}
	b.ps.Add(setOperatorImage(refs, b.opts.Image)...)
	if b.opts.UseImageDigests {
		b.ps.Add(pinDigests(ctx, refs, b.opts.Resolver)...)
	}
	related, more := relatedImages(refs)
	b.ps.Add(more...)
	b.related = related
	if len(operatorRefs) > 0 {
		b.operatorImage = operatorRefs[0].get()
	}
}

// parseBase reads the CSV base, with --created-at.
func (b *builder) parseBase() {
	if b.opts.CreatedAt != "" {
		ann := b.in.csvBase.obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[annCreatedAt] = b.opts.CreatedAt
		b.in.csvBase.obj.SetAnnotations(ann)
	}
	base, more := parseCSV(*b.in.csvBase, checkGenerate)
	b.ps.Add(more...)
	if base != nil {
		b.ps.Add(baseMinKubeVersion(base.Spec.MinKubeVersion, b.in.csvBase.file)...)
	}
	b.base = base
}

// crds completes the owned CRDs' UI metadata and checks the samples that
// become alm-examples.
func (b *builder) crds() {
	versions, clusterCRDs, more := parseCRDs(b.in.crds)
	b.ps.Add(more...)
	b.clusterCRDs = clusterCRDs
	owned, more := ownedCRDs(b.base.Spec.CustomResourceDefinitions.Owned, b.in.csvBase.file, versions)
	b.ps.Add(more...)
	b.owned = owned
	checker, more := newSampleChecker(versions)
	b.ps.Add(more...)
	sampled := map[schema.GroupVersionKind]bool{}
	for _, s := range b.in.samples {
		b.ps.Add(checker.check(s)...)
		sampled[s.obj.GroupVersionKind()] = true
	}
	samplesDir := filepath.Join(b.opts.ConfigDir, "samples")
	for _, v := range versions {
		if !sampled[v.gvk()] {
			b.ps.Errorf(checkGenerate, samplesDir, "", "no sample of %s %s: add one to config/samples (it becomes the CSV's alm-examples, which OperatorHub and the console offer as a template)", v.gvk().Kind, v.gvk().GroupVersion())
		}
	}
	examples, err := almExamples(b.in.samples)
	if err != nil {
		b.ps.Errorf(checkGenerate, samplesDir, "", "%v", err)
	}
	b.examples = examples
}

// permissions sorts the RBAC into the install strategy's permissions.
func (b *builder) permissions() {
	perms, more := sortPermissions(b.in, b.clusterCRDs)
	b.ps.Add(more...)
	b.perms = perms
}

// csv composes the CSV from the base and what the other steps found, and
// checks it as Validate will (operator-framework/api's CSV validators,
// OLM's CSV schema, OperatorHub's requirements), locating every problem in
// the base, whose fields it comes from.
func (b *builder) csv() (map[string]any, error) {
	csv := b.base.DeepCopy()
	csv.Name = b.opts.Package + ".v" + b.opts.Version
	csv.Namespace = ""
	csv.SetAnnotations(b.annotations(csv.GetAnnotations()))
	csv.Spec.Version = version.OperatorVersion{Version: semver.MustParse(b.opts.Version)}
	if b.tested != nil {
		csv.Spec.MinKubeVersion = b.tested.MinKubeVersion()
	}
	csv.Spec.CustomResourceDefinitions.Owned = b.owned
	csv.Spec.RelatedImages = nil
	for _, ri := range b.related {
		csv.Spec.RelatedImages = append(csv.Spec.RelatedImages, v1alpha1.RelatedImage{Name: ri.Name, Image: ri.Image})
	}
	strategy := v1alpha1.StrategyDetailsDeployment{Permissions: b.perms.permissions, ClusterPermissions: b.perms.clusterPermissions}
	sortSources(b.in.deployments)
	for _, d := range b.in.deployments {
		strategy.DeploymentSpecs = append(strategy.DeploymentSpecs, v1alpha1.StrategyDeploymentSpec{
			Name:  d.obj.GetName(),
			Label: d.obj.GetLabels(),
			Spec:  appsv1.DeploymentSpec{}, // replaced by the rendered spec in csvObject
		})
	}
	csv.Spec.InstallStrategy = v1alpha1.NamedInstallStrategy{StrategyName: v1alpha1.InstallStrategyNameDeployment, StrategySpec: strategy}
	csvMap, err := csvObject(csv, b.in.deployments)
	if err != nil {
		return nil, err
	}
	b.out.CSVName = csv.Name
	b.checkCSV(csvMap)
	return csvMap, nil
}

// checkCSV checks the CSV as it will be written.
func (b *builder) checkCSV(csvMap map[string]any) {
	file := b.in.csvBase.file
	b.ps.Add(checkSchema(csvMap, file)...)
	written, more := parseCSV(source{obj: &unstructured.Unstructured{Object: runtime.DeepCopyJSON(csvMap)}, file: file}, checkGenerate)
	b.ps.Add(more...)
	if written == nil {
		return
	}
	b.ps.Add(runValidators(csvValidators, []any{&apimanifests.Bundle{Name: written.Name, CSV: written}, written}, findingFiles{csv: file})...)
	b.ps.Add(checkCSV(written, csvMap, file)...)
	b.ps.Add(checkPlatformLabels(written.GetLabels(), b.opts.Platforms, file)...)
}

// annotations are the CSV's annotations: the base's, with alm-examples,
// the builder, the operator image and an honest disconnected.
func (b *builder) annotations(ann map[string]string) map[string]string {
	if ann == nil {
		ann = map[string]string{}
	}
	ann[annAlmExamples] = b.examples
	ann[annBuilder] = Builder
	if b.operatorImage != "" {
		ann[annContainerImage] = b.operatorImage
	}
	if ann[annDisconnected] == "true" {
		var tags []string
		for _, ri := range b.related {
			if !imageref.IsDigest(ri.Image) {
				tags = append(tags, ri.Image)
			}
		}
		if len(tags) > 0 {
			ann[annDisconnected] = "false"
			b.out.Notes = append(b.out.Notes, fmt.Sprintf("%s is \"false\": %s not pinned by digest (generate with --use-image-digests for disconnected installs)",
				annDisconnected, strings.Join(tags, ", ")))
		}
	}
	return ann
}

// write lays out the bundle's files: the CSV, the CRDs and the objects OLM
// applies as they are, the scorecard configuration, the annotations and the
// Dockerfile.
func (b *builder) write(csvMap map[string]any) error {
	objs := []*unstructured.Unstructured{{Object: csvMap}}
	for _, c := range b.in.crds {
		objs = append(objs, c.obj)
	}
	extras := append(append([]source{}, b.in.others...), b.perms.extras...)
	sortSources(extras)
	for _, e := range extras {
		obj := e.obj.DeepCopy()
		// OLM creates namespaced objects in the operator's namespace.
		unstructured.RemoveNestedField(obj.Object, "metadata", "namespace")
		objs = append(objs, obj)
	}
	files := map[string]string{}
	for _, obj := range objs {
		name := bundleformat.ManifestsDir + "/" + fileName(b.opts.Package, obj)
		if prev, dup := files[name]; dup {
			b.ps.Errorf(checkGenerate, name, "", "both %s and %s %s would be written to this file", prev, obj.GetKind(), obj.GetName())
			continue
		}
		files[name] = obj.GetKind() + " " + obj.GetName()
		data, err := marshalYAML(obj.Object)
		if err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		b.out.Files[name] = data
	}
	return b.writeMetadata(csvMap)
}

// writeMetadata writes the scorecard configuration, annotations.yaml and
// the Dockerfile.
func (b *builder) writeMetadata(csvMap map[string]any) error {
	withTests := b.in.scorecard != nil
	if withTests {
		data, err := marshalYAML(b.in.scorecard.obj.Object)
		if err != nil {
			return fmt.Errorf("writing %s: %w", bundleformat.ScorecardFile, err)
		}
		b.out.Files[bundleformat.ScorecardFile] = data
	}
	layout, _, _ := unstructured.NestedString(csvMap, "metadata", "annotations", annProjectLayout)
	as := bundleformat.Annotations(bundleformat.Metadata{
		Package: b.opts.Package, Channels: b.opts.Channels, DefaultChannel: b.opts.DefaultChannel,
		OpenShiftVersions: b.openShift, Builder: Builder, ProjectLayout: layout, WithTests: withTests,
	})
	b.out.Files[bundleformat.AnnotationsFile] = bundleformat.AnnotationsYAML(as)
	ctxDir, err := bundleformat.DockerfileContext(b.opts.Dockerfile, b.opts.OutputDir)
	if err != nil {
		b.ps.Errorf(checkGenerate, "--output-dir", "", "%v", err)
	}
	b.out.Dockerfile = bundleformat.Dockerfile(as, ctxDir)
	return nil
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
	// The bundle directory is the tools' own: a user's directory given by
	// mistake is refused, not replaced.
	dir, err := atomicdir.StageOwnedDir("the bundle directory", opts.OutputDir)
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
	if err := checkReplaceableDockerfile(opts.Dockerfile); err != nil {
		return fail(err)
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
		KubeVersions:      opts.KubeVersions,
		Platforms:         opts.Platforms,
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

// checkReplaceableDockerfile refuses to replace a file at path that is not
// a bundle Dockerfile (the operator's Dockerfile, a README given by
// mistake): only a missing file or an earlier bundle.Dockerfile is replaced.
func checkReplaceableDockerfile(path string) error {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("the bundle Dockerfile %s: %w", path, err)
	case bundleformat.IsBundleDockerfile(data):
		return nil
	}
	return fmt.Errorf("the bundle Dockerfile %s exists and is not a bundle Dockerfile (no LABEL %s): refusing to replace it; name another file",
		path, bundleformat.LabelMediatype)
}
