package bundle

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	apimanifests "github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	apivalidation "github.com/operator-framework/api/pkg/validation"
	apierrors "github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/scorecard"
)

// MaxBundleBytes is what OLM can unpack: the bundle's files end up in one
// ConfigMap, and objects are limited to 1 MiB.
const MaxBundleBytes = 1 << 20

// sizeBudget is the most this project lets a bundle grow, uncompressed:
// well under the limit, so that a growing CRD schema is noticed in time.
const sizeBudget = MaxBundleBytes / 2

// ValidateOptions say which bundle to validate.
type ValidateOptions struct {
	// Dir is the bundle directory (manifests/, metadata/, tests/).
	Dir string
	// Dockerfile is the bundle image's Dockerfile, whose labels must equal
	// the annotations. Empty means <Dir>.Dockerfile beside Dir.
	Dockerfile string
	// K8sVersion is passed to the validators as k8s-version.
	K8sVersion string
	// DisplayDir and DisplayDockerfile replace Dir and Dockerfile in
	// messages (Generate validates a staging directory).
	DisplayDir, DisplayDockerfile string
}

// Report is the outcome of Validate.
type Report struct {
	CSVName        string
	Package        string
	Channels       []string
	DefaultChannel string
	// Files is the number of files of the bundle; Size their total size
	// and CompressedSize the total of their gzip sizes, as OLM counts.
	Files          int
	Size           int64
	CompressedSize int64
	// Checks lists what ran.
	Checks   []string
	Problems Problems
}

// Err returns an error listing every problem, or nil if there is none:
// warnings count, this project ships bundles without any.
func (r *Report) Err() error {
	return r.Problems.Err("invalid bundle " + r.CSVName)
}

// The optional validators of `operator-sdk bundle validate --select-optional
// suite=operatorframework`, after the default ones.
var validators = []struct {
	name string
	v    interfaces.Validator
}{
	{"csv", apivalidation.ClusterServiceVersionValidator},
	{"crd", apivalidation.CustomResourceDefinitionValidator},
	{"bundle", apivalidation.BundleValidator},
	{"operatorhub/v2", apivalidation.OperatorHubV2Validator},
	{"standardcapabilities", apivalidation.StandardCapabilitiesValidator},
	{"standardcategories", apivalidation.StandardCategoriesValidator},
	{"alpha-deprecated-apis", apivalidation.AlphaDeprecatedAPIsValidator},
	{"good-practices", apivalidation.GoodPracticesValidator},
}

// manifestFile is one file of bundle/manifests.
type manifestFile struct {
	rel string // manifests/<name>
	obj *unstructured.Unstructured
}

// Validate runs, against the bundle in opts.Dir: operator-framework/api's
// default bundle validators and the operatorframework suite (operatorhub/v2,
// capabilities, categories, deprecated APIs, good practices);
// operator-registry's format and content checks; the checks of the six
// default scorecard tests; OperatorHub's own requirements on the CSV;
// annotations.yaml against the Dockerfile's labels; and the size. It
// returns every problem found; the error is for a bundle it cannot read.
func Validate(ctx context.Context, opts ValidateOptions) (*Report, error) {
	_ = ctx
	if opts.Dockerfile == "" {
		clean := filepath.Clean(opts.Dir)
		opts.Dockerfile = filepath.Join(filepath.Dir(clean), filepath.Base(clean)+".Dockerfile")
	}
	if opts.K8sVersion == "" {
		opts.K8sVersion = DefaultK8sVersion
	}
	if opts.DisplayDir == "" {
		opts.DisplayDir = opts.Dir
	}
	if opts.DisplayDockerfile == "" {
		opts.DisplayDockerfile = opts.Dockerfile
	}
	if fi, err := os.Stat(opts.Dir); err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", opts.Dir)
	}
	display := func(rel string) string { return filepath.Join(opts.DisplayDir, filepath.FromSlash(rel)) }
	r := &Report{}
	var ps Problems

	// Size and the manifests, by file.
	var manifests []manifestFile
	err := filepath.WalkDir(opts.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(opts.Dir, p)
		rel = filepath.ToSlash(rel)
		r.Files++
		r.Size += int64(len(data))
		r.CompressedSize += gzipSize(data)
		if path.Dir(rel) == manifestsDir {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &obj.Object); err != nil {
				ps.errorf("manifests", display(rel), "", "not YAML: %v", err)
			} else {
				manifests = append(manifests, manifestFile{rel: rel, obj: obj})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	r.Checks = append(r.Checks, "size")
	if r.Size > sizeBudget {
		ps.errorf("size", opts.DisplayDir, "", "%d bytes: over this project's budget of %d bytes (OLM unpacks a bundle into one ConfigMap, limited to %d bytes)", r.Size, sizeBudget, MaxBundleBytes)
	}

	csvFile := ""
	fileOf := map[string]string{} // kind/name -> display path
	for _, m := range manifests {
		fileOf[m.obj.GetKind()+"/"+m.obj.GetName()] = display(m.rel)
		switch m.obj.GetKind() {
		case "ClusterServiceVersion":
			csvFile = display(m.rel)
		case "NetworkPolicy":
			ps.errorf("manifests", display(m.rel), "kind", "OperatorHub rejects bundles with a NetworkPolicy")
		case "Namespace":
			ps.errorf("manifests", display(m.rel), "kind", "OLM installs into the namespace the user chooses; a bundle has no Namespace")
		}
	}

	// operator-framework/api validators, run as operator-sdk bundle validate
	// runs them.
	b, err := apimanifests.GetBundleFromDir(opts.Dir)
	if err != nil || b == nil || b.CSV == nil {
		msg := "no ClusterServiceVersion found"
		if err != nil {
			msg = err.Error()
		}
		ps.errorf("bundle", display(manifestsDir), "", "cannot load the bundle: %s", msg)
	} else {
		r.CSVName, r.Package, r.Channels, r.DefaultChannel = b.CSV.GetName(), b.Package, b.Channels, b.DefaultChannel
		objs := b.ObjectsToValidate()
		for _, o := range b.Objects {
			objs = append(objs, o)
		}
		objs = append(objs, map[string]string{"k8s-version": opts.K8sVersion})
		for _, v := range validators {
			r.Checks = append(r.Checks, v.name)
			for _, res := range v.v.Validate(objs...) {
				for _, e := range append(append([]apierrors.Error{}, res.Errors...), res.Warnings...) {
					sev := SeverityError
					if e.Level == apierrors.LevelWarn {
						sev = SeverityWarning
					}
					file, field := csvFile, e.Field
					if f, ok := fileOf["CustomResourceDefinition/"+res.Name]; ok && v.name == "crd" {
						file = f
					}
					if strings.Contains(e.Detail, "channel(s)") {
						// good-practices reads the channels from the metadata.
						file, field = display(annotationsFile), "annotations."+labelChannels
					}
					msg := e.Detail
					if msg == "" {
						msg = e.Error()
					}
					// The file already says which CSV: drop the "(name) " prefix.
					msg = strings.TrimPrefix(msg, "("+res.Name+") ")
					if e.BadValue != nil && e.Field == "" && v.name != "bundle" {
						if s := fmt.Sprint(e.BadValue); s != res.Name && s != "" && !strings.Contains(msg, s) {
							msg = fmt.Sprintf("%s (%s)", msg, s)
						}
					}
					ps.add(sev, v.name, file, field, "%s", msg)
				}
			}
		}
	}

	// This project's and OperatorHub's requirements on the CSV.
	if csvFile != "" {
		r.Checks = append(r.Checks, "operatorhub")
		ps = append(ps, checkCSVFile(manifests, csvFile, display)...)
	}

	// The scorecard's default tests.
	r.Checks = append(r.Checks, "scorecard")
	for _, f := range scorecard.Run(opts.Dir) {
		ps.errorf("scorecard/"+f.Test, display(f.File), f.Field, "%s", f.Message)
	}

	// annotations.yaml against the Dockerfile.
	r.Checks = append(r.Checks, "dockerfile")
	ps = append(ps, checkDockerfile(opts, display)...)

	r.Problems = ps.normalize()
	return r, nil
}

// checkCSVFile makes OperatorHub's and this project's checks on the CSV:
// the pipeline's required fields, the name, and that relatedImages lists
// every image the Deployments run (and honestly says disconnected).
func checkCSVFile(manifests []manifestFile, csvFile string, display func(string) string) Problems {
	var ps Problems
	const check = "operatorhub"
	var csvSrc *source
	for _, m := range manifests {
		if m.obj.GetKind() == "ClusterServiceVersion" {
			csvSrc = &source{obj: m.obj.DeepCopy(), file: csvFile}
		}
	}
	if csvSrc == nil {
		return ps
	}
	csv, more := parseCSV(*csvSrc, check)
	ps = append(ps, more...)
	if csv == nil {
		return ps
	}
	ps = append(ps, hubChecks(csv, csvFile, check, true)...)
	ps = append(ps, checkExamples(manifests, csv, csvFile, display)...)
	if v := csv.Spec.Version.String(); v != "" && !strings.HasSuffix(csv.Name, ".v"+v) {
		ps.errorf(check, csvFile, "metadata.name", "%q does not end in .v%s (spec.version)", csv.Name, v)
	}

	// Every image the Deployments run or name in RELATED_IMAGE_* is listed.
	listed := map[string]bool{}
	allDigests := true
	for _, ri := range csv.Spec.RelatedImages {
		listed[ri.Image] = true
		if !isDigest(ri.Image) {
			allDigests = false
		}
	}
	for i, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		pod := d.Spec.Template.Spec
		containers := append(append([]containerRef{}, refsOf("initContainers", pod.InitContainers)...), refsOf("containers", pod.Containers)...)
		for _, c := range containers {
			at := fmt.Sprintf("spec.install.spec.deployments[%d].spec.template.spec.%s", i, c.path)
			if !listed[c.image] {
				ps.errorf(check, csvFile, at, "%s is not in spec.relatedImages: mirroring for a disconnected cluster would miss it", c.image)
			}
		}
	}
	if csv.GetAnnotations()[annDisconnected] == "true" && !allDigests {
		ps.errorf(check, csvFile, "metadata.annotations."+annDisconnected, `"true" needs every related image pinned by digest`)
	}
	if csv.Spec.Replaces != "" {
		ps.errorf(check, csvFile, "spec.replaces", "set, but the catalog owns the upgrade edges: leave it out")
	}
	return ps
}

type containerRef struct{ path, image string }

func refsOf(kind string, cs []corev1.Container) []containerRef {
	var out []containerRef
	for i, c := range cs {
		out = append(out, containerRef{path: fmt.Sprintf("%s[%d].image", kind, i), image: c.Image})
		for j, e := range c.Env {
			if strings.HasPrefix(e.Name, relatedImagePrefix) && e.Value != "" {
				out = append(out, containerRef{path: fmt.Sprintf("%s[%d].env[%d].value", kind, i, j), image: e.Value})
			}
		}
	}
	return out
}

// checkDockerfile compares metadata/annotations.yaml with the labels of the
// Dockerfile and checks that it copies the bundle's directories where the
// annotations say.
func checkDockerfile(opts ValidateOptions, display func(string) string) Problems {
	var ps Problems
	const check = "dockerfile"
	annFile := display(annotationsFile)
	data, err := os.ReadFile(filepath.Join(opts.Dir, filepath.FromSlash(annotationsFile)))
	if err != nil {
		ps.errorf(check, annFile, "", "cannot read: %v", err)
		return ps
	}
	var meta struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(data, &meta); err != nil {
		ps.errorf(check, annFile, "", "not a bundle annotations file: %v", err)
		return ps
	}
	df, err := os.ReadFile(opts.Dockerfile)
	if err != nil {
		ps.errorf(check, opts.DisplayDockerfile, "", "cannot read the bundle's Dockerfile: %v", err)
		return ps
	}
	labels := map[string]string{}
	copies := map[string]string{} // destination -> source
	from := ""
	for _, ins := range parseDockerfile(df) {
		switch ins.cmd {
		case "FROM":
			from = ins.args
		case "LABEL":
			l, err := parseLabels(ins.args)
			if err != nil {
				ps.errorf(check, opts.DisplayDockerfile, fmt.Sprintf("line %d", ins.line), "LABEL: %v", err)
				continue
			}
			for k, v := range l {
				labels[k] = v
			}
		case "COPY", "ADD":
			fields := strings.Fields(ins.args)
			if len(fields) == 2 {
				copies[strings.TrimSuffix(fields[1], "/")+"/"] = fields[0]
			}
		}
	}
	if from != "scratch" {
		ps.errorf(check, opts.DisplayDockerfile, "FROM", "%q: a bundle image is FROM scratch", from)
	}
	keys := map[string]bool{}
	for k := range meta.Annotations {
		keys[k] = true
	}
	for k := range labels {
		if strings.HasPrefix(k, "operators.operatorframework.io.") {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		a, inAnn := meta.Annotations[k]
		l, inLabels := labels[k]
		switch {
		case !inLabels:
			ps.errorf(check, opts.DisplayDockerfile, "LABEL "+k, "missing: %s sets it to %q", annFile, a)
		case !inAnn:
			ps.errorf(check, annFile, "annotations."+k, "missing: %s labels the image with %q", opts.DisplayDockerfile, l)
		case a != l:
			ps.errorf(check, opts.DisplayDockerfile, "LABEL "+k, "%q, but %s says %q", l, annFile, a)
		}
	}
	for _, want := range []struct{ label, dir string }{
		{labelManifests, manifestsDir},
		{labelMetadata, metadataDir},
		{labelTestConfig, testsDir},
	} {
		dest, ok := meta.Annotations[want.label]
		if !ok {
			continue
		}
		src, copied := copies["/"+strings.TrimSuffix(dest, "/")+"/"]
		if !copied {
			ps.errorf(check, opts.DisplayDockerfile, "COPY", "nothing is copied to /%s, where %s says the %s are", dest, want.label, want.dir)
		} else if !strings.HasSuffix(strings.TrimSuffix(src, "/"), want.dir) {
			ps.errorf(check, opts.DisplayDockerfile, "COPY", "/%s is copied from %s, not from the bundle's %s", dest, src, want.dir)
		}
	}
	return ps
}

func gzipSize(data []byte) int64 {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(data)
	_ = w.Close()
	return int64(b.Len())
}

// checkExamples validates every alm-example against the schema of its CRD
// in the bundle, as the API server would on create.
func checkExamples(manifests []manifestFile, csv *v1alpha1.ClusterServiceVersion, csvFile string, display func(string) string) Problems {
	var ps Problems
	const check = "alm-examples"
	var crds []source
	for _, m := range manifests {
		if m.obj.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, source{obj: m.obj, file: display(m.rel)})
		}
	}
	versions, _, more := parseCRDs(crds)
	ps = append(ps, more...)
	checker, more := newSampleChecker(versions)
	ps = append(ps, more...)
	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.GetAnnotations()[annAlmExamples]), &examples); err != nil {
		return ps // reported by hubChecks
	}
	for i, ex := range examples {
		found := checker.check(source{obj: &unstructured.Unstructured{Object: ex}, file: csvFile})
		for _, p := range found {
			p.Check = check
			p.Field = fmt.Sprintf("metadata.annotations.alm-examples[%d].%s", i, p.Field)
			ps = append(ps, p)
		}
	}
	return ps
}
