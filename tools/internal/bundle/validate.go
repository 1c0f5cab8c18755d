package bundle

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	apimanifests "github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
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
	// K8sVersion is passed to the validators as k8s-version; empty means
	// the newest of KubeVersions.
	K8sVersion string
	// KubeVersions are the Kubernetes versions the tests passed on (as in
	// Options): the CSV's minKubeVersion must be one of them, none lower
	// than the lowest. Without them only the agreement of minKubeVersion
	// and com.redhat.openshift.versions is checked, where the bundle has
	// the annotation (releases made before both were derived have not).
	KubeVersions []string
	// Platforms the operator image is built for (OS/ARCH, PLATFORMS): the
	// CSV's operatorframework.io/arch.* and os.* labels must say so.
	Platforms []string
	// DisplayDir and DisplayDockerfile replace Dir and Dockerfile in
	// messages (Generate validates a staging directory).
	DisplayDir, DisplayDockerfile string
}

func (o ValidateOptions) withDefaults() ValidateOptions {
	if o.Dockerfile == "" {
		clean := filepath.Clean(o.Dir)
		o.Dockerfile = filepath.Join(filepath.Dir(clean), filepath.Base(clean)+".Dockerfile")
	}
	o.K8sVersion = k8sVersion(o.K8sVersion, o.KubeVersions)
	if len(o.Platforms) == 0 {
		o.Platforms = Options{}.withDefaults().Platforms
	}
	if o.DisplayDir == "" {
		o.DisplayDir = o.Dir
	}
	if o.DisplayDockerfile == "" {
		o.DisplayDockerfile = o.Dockerfile
	}
	return o
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
	Problems problem.List
}

// Err returns an error listing every problem, or nil if there is none:
// warnings count, this project ships bundles without any.
func (r *Report) Err() error {
	return r.Problems.Err("invalid bundle " + r.CSVName)
}

// manifestFile is one file of bundle/manifests.
type manifestFile struct {
	rel string // manifests/<name>
	obj *unstructured.Unstructured
}

// bundleCheck is one run of Validate: every check runs once and adds its
// problems.
type bundleCheck struct {
	opts      ValidateOptions
	r         *Report
	ps        problem.List
	manifests []manifestFile
	files     findingFiles
	// csv is the bundle's CSV, once runValidators read it.
	csv *v1alpha1.ClusterServiceVersion
	// unloadable is set when the bundle could not be loaded: it is reported
	// once, not again by every check that needs it.
	unloadable bool
}

// Validate runs, once each, against the bundle in opts.Dir:
// operator-registry's format and content checks; every validator of
// `operator-sdk bundle validate --select-optional suite=operatorframework`
// (operator-framework/api's csv, crd and bundle validators, operatorhub/v2,
// standard capabilities and categories, deprecated APIs, good practices);
// OLM's CSV schema; OperatorHub's and this project's own requirements on
// the CSV; the alm-examples against their CRDs; the checks of the six
// default scorecard tests; the offline part of the multiarch validator
// (the CSV's platform labels); metadata/properties.yaml as OLM parses it;
// annotations.yaml against the Dockerfile; and the size. It returns every
// problem found; the error is for a bundle it cannot read.
func Validate(ctx context.Context, opts ValidateOptions) (*Report, error) {
	_ = ctx
	opts = opts.withDefaults()
	if fi, err := os.Stat(opts.Dir); err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", opts.Dir)
	}
	v := &bundleCheck{opts: opts, r: &Report{}}
	if err := v.readFiles(); err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	for _, check := range []struct {
		name string
		run  func()
	}{
		{"manifests", v.checkKinds},
		{"validators", v.runValidators},
		{"scorecard", v.scorecard},
		{"dockerfile", v.dockerfile},
		{checkKubeVersions, v.kubeVersions},
		{"properties", v.properties},
		{"multiarch", v.platforms},
	} {
		check.run()
		v.r.Checks = append(v.r.Checks, check.name)
	}
	v.ps.Sort()
	v.r.Problems = v.ps
	return v.r, nil
}

// display is the path of a bundle file in messages.
func (v *bundleCheck) display(rel string) string {
	return filepath.Join(v.opts.DisplayDir, filepath.FromSlash(rel))
}

// readFiles reads every file of the bundle for its size, and the
// manifests.
func (v *bundleCheck) readFiles() error {
	err := filepath.WalkDir(v.opts.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(v.opts.Dir, p)
		rel = filepath.ToSlash(rel)
		v.r.Files++
		v.r.Size += int64(len(data))
		v.r.CompressedSize += gzipSize(data)
		if path.Dir(rel) == bundleformat.ManifestsDir {
			obj := &unstructured.Unstructured{}
			if n, err := yamlDocuments(data); err != nil {
				v.ps.Errorf("manifests", v.display(rel), "", "not YAML: %v", err)
			} else if n > 1 {
				v.ps.Errorf("manifests", v.display(rel), "", "%d YAML documents: OLM reads only the first of a bundle manifest (operator-registry's bundle loader ignores the rest); put each object in its own file", n)
			}
			if err := yaml.Unmarshal(data, &obj.Object); err != nil {
				v.ps.Errorf("manifests", v.display(rel), "", "not YAML: %v", err)
			} else {
				v.manifests = append(v.manifests, manifestFile{rel: rel, obj: obj})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if v.r.Size > sizeBudget {
		v.ps.Errorf("size", v.opts.DisplayDir, "", "%d bytes: over this project's budget of %d bytes (OLM unpacks a bundle into one ConfigMap, limited to %d bytes)", v.r.Size, sizeBudget, MaxBundleBytes)
	}
	return nil
}

// yamlDocuments counts the documents of a YAML stream that hold something
// (a document of comments alone does not count).
func yamlDocuments(data []byte) (int, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	n := 0
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return n, err
		}
		if v != nil {
			n++
		}
	}
}

// checkKinds finds the CSV and CRD files and refuses kinds OperatorHub or
// OLM refuse.
func (v *bundleCheck) checkKinds() {
	v.files = findingFiles{crds: map[string]string{}, annotations: v.display(bundleformat.AnnotationsFile)}
	for _, m := range v.manifests {
		switch m.obj.GetKind() {
		case "ClusterServiceVersion":
			v.files.csv = v.display(m.rel)
		case "CustomResourceDefinition":
			v.files.crds[m.obj.GetName()] = v.display(m.rel)
		case "NetworkPolicy":
			v.ps.Errorf("manifests", v.display(m.rel), "kind", "OperatorHub rejects bundles with a NetworkPolicy")
		case "Namespace":
			v.ps.Errorf("manifests", v.display(m.rel), "kind", "OLM installs into the namespace the user chooses; a bundle has no Namespace")
		}
	}
}

// runValidators loads the bundle as operator-sdk does and runs every
// validator once, then this project's checks of the CSV and of its
// examples.
func (v *bundleCheck) runValidators() {
	b, err := apimanifests.GetBundleFromDir(v.opts.Dir)
	if err != nil || b == nil || b.CSV == nil {
		msg := "no ClusterServiceVersion found"
		if err != nil {
			msg = err.Error()
		}
		v.ps.Errorf("bundle", v.display(bundleformat.ManifestsDir), "", "cannot load the bundle: %s", msg)
		v.unloadable = true
	} else {
		v.r.CSVName, v.r.Package, v.r.Channels, v.r.DefaultChannel = b.CSV.GetName(), b.Package, b.Channels, b.DefaultChannel
		objs := b.ObjectsToValidate()
		for _, o := range b.Objects {
			objs = append(objs, o)
		}
		objs = append(objs, map[string]string{"k8s-version": v.opts.K8sVersion})
		v.ps.Add(runValidators(bundleValidators, objs, v.files)...)
	}
	for _, m := range v.manifests {
		if m.obj.GetKind() != "ClusterServiceVersion" {
			continue
		}
		v.ps.Add(checkSchema(m.obj.Object, v.files.csv)...)
		csv, more := parseCSV(source{obj: m.obj.DeepCopy(), file: v.files.csv}, checkCSVName)
		v.ps.Add(more...)
		if csv != nil {
			v.csv = csv
			v.ps.Add(checkCSV(csv, m.obj.Object, v.files.csv)...)
			v.ps.Add(v.checkExamples(csv)...)
		}
	}
}

// scorecard makes the checks of the default scorecard tests that no
// validator above makes: operator-registry's format and content checks
// (olm-bundle-validation's part beyond the default validators) and the
// other five tests.
func (v *bundleCheck) scorecard() {
	fs := scorecard.FormatAndContent(v.opts.Dir)
	if !v.unloadable { // the tests that need the loaded bundle
		fs = append(fs, scorecard.Examples(v.opts.Dir)...)
	}
	for _, f := range fs {
		v.ps.Errorf("scorecard/"+f.Test, v.display(f.File), f.Field, "%s", f.Message)
	}
}

// dockerfile compares metadata/annotations.yaml with the Dockerfile.
func (v *bundleCheck) dockerfile() {
	annFile := v.display(bundleformat.AnnotationsFile)
	annotations, err := bundleformat.ReadAnnotations(filepath.Join(v.opts.Dir, filepath.FromSlash(bundleformat.AnnotationsFile)))
	if err != nil {
		v.ps.Errorf("dockerfile", annFile, "", "%v", err)
		return
	}
	data, err := os.ReadFile(v.opts.Dockerfile)
	if err != nil {
		v.ps.Errorf("dockerfile", v.opts.DisplayDockerfile, "", "cannot read the bundle's Dockerfile: %v", err)
		return
	}
	// Where the COPY lines must copy from: the bundle as it will be, not
	// the staging directory Generate validates.
	contextDir, err := bundleformat.DockerfileContext(v.opts.DisplayDockerfile, v.opts.DisplayDir)
	if err != nil {
		v.ps.Errorf("dockerfile", v.opts.DisplayDockerfile, "COPY", "%v", err)
		return
	}
	files := bundleformat.DockerfileFiles{Dockerfile: v.opts.DisplayDockerfile, Annotations: annFile}
	v.ps.Add(bundleformat.CheckDockerfile(data, annotations, contextDir, files)...)
}

// kubeVersions checks the CSV's minKubeVersion against the versions the
// tests passed on, and the OpenShift annotation against minKubeVersion.
func (v *bundleCheck) kubeVersions() {
	tested, ps := parseTested(v.opts.KubeVersions)
	v.ps.Add(ps...)
	annFile := v.display(bundleformat.AnnotationsFile)
	annotations, err := bundleformat.ReadAnnotations(filepath.Join(v.opts.Dir, filepath.FromSlash(bundleformat.AnnotationsFile)))
	if v.csv == nil || err != nil {
		return // runValidators and dockerfile report an unreadable CSV or annotations
	}
	openShift, has := annotations[bundleformat.LabelOpenShiftVersions]
	v.ps.Add(checkVersionClaims(versionClaims{
		minKube: v.csv.Spec.MinKubeVersion, csvFile: v.files.csv,
		openShift: openShift, hasOpenShift: has, annotationsFile: annFile,
	}, tested)...)
}

// properties checks metadata/properties.yaml, when the bundle has one, as
// OLM parses its values.
func (v *bundleCheck) properties() {
	file := filepath.Join(v.opts.Dir, filepath.FromSlash(bundleformat.PropertiesFile))
	if _, err := os.Stat(file); os.IsNotExist(err) {
		return
	}
	v.ps.Add(bundleformat.CheckPropertiesFile(file, v.display(bundleformat.PropertiesFile))...)
}

// platforms is the offline part of the multiarch validator: the CSV's
// platform labels against the platforms the operator image is built for.
func (v *bundleCheck) platforms() {
	if v.csv != nil {
		v.ps.Add(checkPlatformLabels(v.csv.GetLabels(), v.opts.Platforms, v.files.csv)...)
	}
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
func (v *bundleCheck) checkExamples(csv *v1alpha1.ClusterServiceVersion) problem.List {
	var ps problem.List
	var crds []source
	for _, m := range v.manifests {
		if m.obj.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, source{obj: m.obj, file: v.display(m.rel)})
		}
	}
	versions, _, more := parseCRDs(crds)
	ps = append(ps, more...)
	checker, more := newSampleChecker(versions)
	ps = append(ps, more...)
	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.GetAnnotations()[annAlmExamples]), &examples); err != nil {
		return ps // the csv validator reports it
	}
	for i, ex := range examples {
		for _, p := range checker.check(source{obj: &unstructured.Unstructured{Object: ex}, file: v.files.csv}) {
			p.Check = "alm-examples"
			p.Field = fmt.Sprintf("metadata.annotations.alm-examples[%d].%s", i, p.Field)
			ps = append(ps, p)
		}
	}
	return ps
}
