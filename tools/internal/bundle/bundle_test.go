package bundle

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/golden"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// fixtureConfig is a frozen copy of the repository's config/ (CRD, RBAC,
// manager, default, samples, manifests, scorecard), so that the golden files
// change only when the generator does, not when the API grows a field.
const fixtureConfig = "testdata/config"

// The repository, seen from this package, and the Makefile's defaults
// (VERSION, IMG, CHANNELS, DEFAULT_CHANNEL).
const (
	repoRoot        = "../../.."
	makefileVersion = "0.1.0"
	makefileImage   = "quay.io/example-inc/memcached-operator:v0.1.0"
	makefileChannel = DefaultChannel
)

func fixtureOptions(dir string) Options {
	return Options{
		ConfigDir:      filepath.Join(dir, "config"),
		OutputDir:      filepath.Join(dir, "bundle"),
		Dockerfile:     filepath.Join(dir, "bundle.Dockerfile"),
		Version:        makefileVersion,
		Channels:       []string{makefileChannel},
		DefaultChannel: makefileChannel,
		Image:          makefileImage,
		// The frozen config has no platform labels: what OLM reads as
		// linux/amd64 only.
		Platforms: []string{"linux/amd64"},
		// What the frozen 0.1.0 base typed as minKubeVersion.
		KubeVersions: []string{"v1.27.0"},
	}
}

// copyTree copies the directory src to dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// workspace is a temporary project with the fixture config and, if
// generated, a bundle made from it.
func workspace(t testing.TB, generated bool) (string, Options) {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, fixtureConfig, filepath.Join(dir, "config"))
	opts := fixtureOptions(dir)
	if generated {
		if _, err := Generate(context.Background(), opts); err != nil {
			t.Fatalf("generating the fixture bundle: %v", err)
		}
	}
	return dir, opts
}

// snapshot reads every file under dir (and the extra files) into a map.
func snapshot(t testing.TB, dir string, extra ...string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	for _, p := range extra {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		files[p] = string(data)
	}
	return files
}

func assertSameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, data := range before {
		got, ok := after[p]
		switch {
		case !ok:
			t.Errorf("%s was removed", p)
		case got != data:
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

func TestGolden(t *testing.T) {
	_, opts := workspace(t, false)
	out, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "csv.golden"), out.Files["manifests/memcached-operator.clusterserviceversion.yaml"])
	golden.Check(t, filepath.Join("testdata", "annotations.golden"), out.Files[bundleformat.AnnotationsFile])
	golden.Check(t, filepath.Join("testdata", "dockerfile.golden"), out.Dockerfile)

	wantFiles := []string{
		"manifests/cache.example.com_memcacheds.yaml",
		"manifests/memcached-operator-controller-manager-metrics-service_v1_service.yaml",
		"manifests/memcached-operator-memcached-admin-role_rbac.authorization.k8s.io_v1_clusterrole.yaml",
		"manifests/memcached-operator-memcached-editor-role_rbac.authorization.k8s.io_v1_clusterrole.yaml",
		"manifests/memcached-operator-memcached-viewer-role_rbac.authorization.k8s.io_v1_clusterrole.yaml",
		"manifests/memcached-operator-metrics-reader_rbac.authorization.k8s.io_v1_clusterrole.yaml",
		"manifests/memcached-operator.clusterserviceversion.yaml",
		"metadata/annotations.yaml",
		"tests/scorecard/config.yaml",
	}
	if got := out.Paths(); strings.Join(got, "\n") != strings.Join(wantFiles, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantFiles, "\n"))
	}
	for p, data := range out.Files {
		if bytes.Contains(data, []byte(originAnnotation)) {
			t.Errorf("%s keeps kustomize's %s annotation", p, originAnnotation)
		}
		var meta struct {
			Metadata struct {
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(data, &meta); err != nil {
			t.Errorf("%s: %v", p, err)
		} else if meta.Metadata.Namespace != "" {
			t.Errorf("%s is pinned to namespace %s; OLM chooses it", p, meta.Metadata.Namespace)
		}
	}
}

// TestGenerateIsDeterministic generates twice from the same inputs and
// expects the same bytes.
func TestGenerateIsDeterministic(t *testing.T) {
	dir, opts := workspace(t, true)
	first := snapshot(t, filepath.Join(dir, "bundle"), opts.Dockerfile)
	if _, err := Generate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	assertSameFiles(t, first, snapshot(t, filepath.Join(dir, "bundle"), opts.Dockerfile))
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".bundle*"))
	if len(leftovers) > 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
}

// buildCSV builds the bundle of opts and decodes its CSV.
func buildCSV(t *testing.T, opts Options) (*Output, *v1alpha1.ClusterServiceVersion) {
	t.Helper()
	out, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	csv := &v1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(out.Files["manifests/memcached-operator.clusterserviceversion.yaml"], csv); err != nil {
		t.Fatal(err)
	}
	return out, csv
}

// TestGeneratedCSV checks the decisions the CSV embodies.
func TestGeneratedCSV(t *testing.T) {
	_, opts := workspace(t, false)
	_, csv := buildCSV(t, opts)
	if csv.Name != "memcached-operator.v0.1.0" || csv.Spec.Version.String() != "0.1.0" || csv.Spec.Replaces != "" {
		t.Errorf("name %s, version %s, replaces %q", csv.Name, csv.Spec.Version, csv.Spec.Replaces)
	}
	strategy := csv.Spec.InstallStrategy.StrategySpec
	if len(strategy.DeploymentSpecs) != 1 || strategy.DeploymentSpecs[0].Name != "memcached-operator-controller-manager" {
		t.Fatalf("deployments: %+v", strategy.DeploymentSpecs)
	}
	if img := strategy.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Image; img != makefileImage {
		t.Errorf("operator image %s, want %s", img, makefileImage)
	}
	has := func(perms []v1alpha1.StrategyDeploymentPermissions, resource string) bool {
		for _, p := range perms {
			if p.ServiceAccountName != "memcached-operator-controller-manager" {
				t.Errorf("permissions for %s", p.ServiceAccountName)
			}
			for _, r := range p.Rules {
				for _, res := range r.Resources {
					if res == resource {
						return true
					}
				}
			}
		}
		return false
	}
	for _, res := range []string{"memcacheds", "memcacheds/status", "deployments", "pods", "events", "leases"} {
		if !has(strategy.Permissions, res) || has(strategy.ClusterPermissions, res) {
			t.Errorf("%s: want it in permissions only", res)
		}
	}
	for _, res := range []string{"tokenreviews", "subjectaccessreviews"} {
		if has(strategy.Permissions, res) || !has(strategy.ClusterPermissions, res) {
			t.Errorf("%s: want it in clusterPermissions only", res)
		}
	}
	related := map[string]string{}
	for _, ri := range csv.Spec.RelatedImages {
		related[ri.Name] = ri.Image
	}
	if related["manager"] != makefileImage || related["memcached"] != "docker.io/library/memcached:1.6.38-alpine" || len(related) != 2 {
		t.Errorf("relatedImages: %v", related)
	}
	if got := csv.Annotations[annDisconnected]; got != "false" {
		t.Errorf("disconnected %q with images pinned by tag", got)
	}
	if got := csv.Annotations[annContainerImage]; got != makefileImage {
		t.Errorf("containerImage %q", got)
	}
	owned := csv.Spec.CustomResourceDefinitions.Owned
	if len(owned) != 1 {
		t.Fatalf("owned: %+v", owned)
	}
	wantX := map[string]string{
		"size": "urn:alm:descriptor:com.tectonic.ui:podCount", "image": "urn:alm:descriptor:com.tectonic.ui:text",
		"nodes": "urn:alm:descriptor:com.tectonic.ui:podStatuses", "conditions": "urn:alm:descriptor:io.kubernetes.conditions",
		"readyReplicas": "", "observedGeneration": "",
	}
	gotX := map[string]string{}
	for _, d := range owned[0].SpecDescriptors {
		gotX[d.Path] = d.XDescriptors[0]
		if d.Description == "" {
			t.Errorf("spec descriptor %s has no description", d.Path)
		}
	}
	for _, d := range owned[0].StatusDescriptors {
		gotX[d.Path] = d.XDescriptors[0]
		if d.Description == "" {
			t.Errorf("status descriptor %s has no description", d.Path)
		}
	}
	for p, x := range wantX {
		if g, ok := gotX[p]; !ok || (x != "" && g != x) {
			t.Errorf("descriptor %s: %q, want %q", p, g, x)
		}
	}
	if len(owned[0].Resources) != 2 {
		t.Errorf("resources: %+v", owned[0].Resources)
	}
}

type fakeResolver map[string]string

func (f fakeResolver) Resolve(_ context.Context, image string) (string, error) {
	if d, ok := f[image]; ok {
		return d, nil
	}
	return "", fmt.Errorf("manifest unknown")
}

func TestUseImageDigests(t *testing.T) {
	_, opts := workspace(t, false)
	const (
		op  = "quay.io/example-inc/memcached-operator@sha256:1111111111111111111111111111111111111111111111111111111111111111"
		mem = "docker.io/library/memcached@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	)
	opts.UseImageDigests = true
	opts.Resolver = fakeResolver{makefileImage: op, "docker.io/library/memcached:1.6.38-alpine": mem}
	out, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var csv v1alpha1.ClusterServiceVersion
	if err := yaml.Unmarshal(out.Files["manifests/memcached-operator.clusterserviceversion.yaml"], &csv); err != nil {
		t.Fatal(err)
	}
	c := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0]
	if c.Image != op || csv.Annotations[annContainerImage] != op {
		t.Errorf("operator image %s, containerImage %s; want %s", c.Image, csv.Annotations[annContainerImage], op)
	}
	for _, e := range c.Env {
		if e.Name == "RELATED_IMAGE_MEMCACHED" && e.Value != mem {
			t.Errorf("RELATED_IMAGE_MEMCACHED=%s, want %s", e.Value, mem)
		}
	}
	for _, ri := range csv.Spec.RelatedImages {
		if !imageref.IsDigest(ri.Image) {
			t.Errorf("related image %s is not pinned", ri.Image)
		}
	}
	if got := csv.Annotations[annDisconnected]; got != "true" {
		t.Errorf("disconnected %q with every image pinned by digest", got)
	}

	// A registry that does not know the tag: the error names the field.
	opts.Resolver = fakeResolver{}
	_, err = Build(context.Background(), opts)
	assertProblem(t, err, "config/manager/manager.yaml", "spec.template.spec.containers[0].image", "resolving")
}

// assertProblem expects err to list a problem in file (a path suffix) at
// field whose message contains text.
func assertProblem(t *testing.T, err error, file, field, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want a problem in %s at %s", file, field)
	}
	var inv *problem.Error
	if !asInvalid(err, &inv) {
		t.Fatalf("error %v is not a *problem.Error", err)
	}
	for _, p := range inv.Problems {
		if strings.HasSuffix(filepath.ToSlash(p.File), file) && p.Field == field && strings.Contains(p.Message, text) {
			return
		}
	}
	t.Errorf("no problem in %s at %s containing %q; got:\n%v", file, field, text, err)
}

func asInvalid(err error, target **problem.Error) bool {
	for err != nil {
		if e, ok := err.(*problem.Error); ok {
			*target = e
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if asInvalid(e, target) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// TestBadInputs breaks one input at a time: generation must fail with a
// message naming the file and field, and leave the previous bundle and
// Dockerfile byte for byte as they were.
func TestBadInputs(t *testing.T) {
	const base = "config/manifests/bases/memcached-operator.clusterserviceversion.yaml"
	tests := []struct {
		name        string
		edit        func(t *testing.T, dir string, opts *Options)
		file, field string
		text        string
	}{
		{
			name: "CSV base without provider.name",
			edit: func(t *testing.T, dir string, _ *Options) {
				replaceIn(t, filepath.Join(dir, base), "  provider:\n    name: example-inc\n", "  provider:\n")
			},
			file: base, field: "spec.provider.name", text: "required",
		},
		{
			name: "CSV base without displayName",
			edit: func(t *testing.T, dir string, _ *Options) {
				replaceIn(t, filepath.Join(dir, base), "  displayName: Memcached Operator\n", "")
			},
			file: base, field: "spec.displayName", text: "required",
		},
		{
			name: "CSV base with a misspelt field",
			edit: func(t *testing.T, dir string, _ *Options) {
				replaceIn(t, filepath.Join(dir, base), "  maturity: alpha\n", "  maturity: alpha\n  maturiy: beta\n")
			},
			file: base, field: "spec.maturiy", text: "unknown field",
		},
		{
			name: "CSV base without a descriptor for spec.image",
			edit: func(t *testing.T, dir string, _ *Options) {
				replaceIn(t, filepath.Join(dir, base), "      - path: image\n        displayName: Image\n", "      - path: imag\n        displayName: Image\n")
			},
			file: base, field: "spec.customresourcedefinitions.owned[0].specDescriptors", text: "spec.image",
		},
		{
			name: "sample with an unknown spec field",
			edit: func(t *testing.T, dir string, _ *Options) {
				appendTo(t, filepath.Join(dir, "config/samples/cache_v1_memcached.yaml"), "  replicas: 3\n")
			},
			file: "config/samples/cache_v1_memcached.yaml", field: "spec.replicas", text: "unknown field",
		},
		{
			name: "sample with a field of the wrong type",
			edit: func(t *testing.T, dir string, _ *Options) {
				replaceIn(t, filepath.Join(dir, "config/samples/cache_v1_memcached.yaml"), "size: 3", `size: "three"`)
			},
			file: "config/samples/cache_v1_memcached.yaml", field: "spec.size", text: "must be of type integer",
		},
		{
			name: "unparseable kustomization",
			edit: func(t *testing.T, dir string, _ *Options) {
				appendTo(t, filepath.Join(dir, "config/samples/kustomization.yaml"), "resources: [unclosed\n")
			},
			file: "config/samples/kustomization.yaml", field: "", text: "not a valid kustomization",
		},
		{
			name: "version that is not semver",
			edit: func(_ *testing.T, _ string, opts *Options) { opts.Version = "0.1" },
			file: "--version", field: "", text: "not a semantic version",
		},
		{
			name: "version with a v",
			edit: func(_ *testing.T, _ string, opts *Options) { opts.Version = "v0.1.0" },
			file: "--version", field: "", text: "without the leading v",
		},
		{
			name: "default channel outside the channels",
			edit: func(_ *testing.T, _ string, opts *Options) { opts.DefaultChannel = "stable" },
			file: "--default-channel", field: "", text: "not one of the bundle's channels",
		},
		{
			name: "channel the good-practices validator warns about",
			edit: func(_ *testing.T, _ string, opts *Options) {
				opts.Channels, opts.DefaultChannel = []string{"alpha"}, "alpha"
			},
			file: "bundle/metadata/annotations.yaml", field: "annotations." + bundleformat.LabelChannels, text: "naming convention",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, opts := workspace(t, true)
			before := snapshot(t, opts.OutputDir, opts.Dockerfile)
			tc.edit(t, dir, &opts)
			_, err := Generate(context.Background(), opts)
			assertProblem(t, err, tc.file, tc.field, tc.text)
			assertSameFiles(t, before, snapshot(t, opts.OutputDir, opts.Dockerfile))
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".bundle*"))
			if len(leftovers) > 0 {
				t.Errorf("staging left behind: %v", leftovers)
			}
		})
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, text...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuildReportsEveryProblem breaks several inputs at once and expects
// all of them in one error.
func TestBuildReportsEveryProblem(t *testing.T) {
	dir, opts := workspace(t, false)
	base := filepath.Join(dir, "config/manifests/bases/memcached-operator.clusterserviceversion.yaml")
	replaceIn(t, base, "  displayName: Memcached Operator\n", "")
	replaceIn(t, base, "categories: Database", "categories: Databases")
	replaceIn(t, base, "  maturity: alpha\n", "  maturity: alpha\n  minKubeVersion: \"1.27\"\n")
	appendTo(t, filepath.Join(dir, "config/samples/cache_v1_memcached.yaml"), "  replicas: 3\n")
	_, err := Build(context.Background(), opts)
	assertProblem(t, err, "manifests/bases/memcached-operator.clusterserviceversion.yaml", "spec.displayName", "required")
	assertProblem(t, err, "manifests/bases/memcached-operator.clusterserviceversion.yaml", "metadata.annotations.categories", "not a standard category")
	assertProblem(t, err, "manifests/bases/memcached-operator.clusterserviceversion.yaml", "spec.minKubeVersion", "typed in the CSV base")
	assertProblem(t, err, "config/samples/cache_v1_memcached.yaml", "spec.replicas", "unknown field")
}

// TestValidateReportsEveryProblem breaks a generated bundle in several
// places and expects Validate to report each, with its file and field.
func TestValidateReportsEveryProblem(t *testing.T) {
	dir, opts := workspace(t, true)
	csvFile := filepath.Join(opts.OutputDir, "manifests/memcached-operator.clusterserviceversion.yaml")
	// No descriptor for spec.size, no provider, an example with a status
	// and an unknown field, a Dockerfile label out of step.
	replaceIn(t, csvFile, "        path: size\n", "        path: replicas\n")
	replaceIn(t, csvFile, "  provider:\n    name: example-inc\n", "  provider:\n")
	replaceIn(t, csvFile, `"size": 3`, `"size": 3, "sizee": 1`)
	replaceIn(t, filepath.Join(dir, "bundle.Dockerfile"), "channels.v1=candidate", "channels.v1=stable")
	report, err := Validate(context.Background(), ValidateOptions{Dir: opts.OutputDir})
	if err != nil {
		t.Fatal(err)
	}
	err = report.Err()
	for _, want := range []struct{ file, field, text string }{
		{"bundle/manifests/memcached-operator.clusterserviceversion.yaml", "spec.provider.name", "required"},
		{"bundle/manifests/memcached-operator.clusterserviceversion.yaml", "metadata.annotations.alm-examples[0].spec.size", "no spec descriptor with path size"},
		{"bundle/manifests/memcached-operator.clusterserviceversion.yaml", "metadata.annotations.alm-examples[0].spec.sizee", "no schema for spec.sizee"},
		{"bundle/manifests/memcached-operator.clusterserviceversion.yaml", "metadata.annotations.alm-examples[0].spec.sizee", "unknown field"},
		{"bundle.Dockerfile", "LABEL " + bundleformat.LabelChannels, `but`},
	} {
		assertProblem(t, err, want.file, want.field, want.text)
	}
	if errs, _ := report.Problems.Count(); errs < 5 {
		t.Errorf("%d errors, want at least 5:\n%v", errs, err)
	}
}

// TestValidateRefusesMultiDocumentManifests: OLM reads only the first
// document of a bundle manifest, so a second one would be dropped silently.
func TestValidateRefusesMultiDocumentManifests(t *testing.T) {
	_, opts := workspace(t, true)
	appendTo(t, filepath.Join(opts.OutputDir, "manifests/memcached-operator-controller-manager-metrics-service_v1_service.yaml"),
		"---\n# a comment alone is no document\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dropped\n")
	report, err := Validate(context.Background(), ValidateOptions{Dir: opts.OutputDir})
	if err != nil {
		t.Fatal(err)
	}
	assertProblem(t, report.Err(), "bundle/manifests/memcached-operator-controller-manager-metrics-service_v1_service.yaml", "", "2 YAML documents")
}

// TestValidateReportsAMissingCSVOnce: a bundle without its CSV is reported
// as unloadable once, not again by each scorecard test that needs it.
func TestValidateReportsAMissingCSVOnce(t *testing.T) {
	_, opts := workspace(t, true)
	if err := os.Remove(filepath.Join(opts.OutputDir, "manifests/memcached-operator.clusterserviceversion.yaml")); err != nil {
		t.Fatal(err)
	}
	report, err := Validate(context.Background(), ValidateOptions{Dir: opts.OutputDir})
	if err != nil {
		t.Fatal(err)
	}
	err = report.Err()
	assertProblem(t, err, "bundle/manifests", "", "unable to find a csv")
	if n := strings.Count(err.Error(), "unable to find a csv"); n != 1 {
		t.Errorf("the missing CSV is reported %d times, want once:\n%v", n, err)
	}
}

// TestCommittedBundleIsUpToDate regenerates the repository's bundle with
// the Makefile's defaults and expects exactly the committed files.
func TestCommittedBundleIsUpToDate(t *testing.T) {
	opts := Options{
		ConfigDir:      filepath.Join(repoRoot, "config"),
		OutputDir:      filepath.Join(repoRoot, "bundle"),
		Dockerfile:     filepath.Join(repoRoot, "bundle.Dockerfile"),
		Version:        committedVersion(t),
		Channels:       []string{makefileChannel},
		DefaultChannel: makefileChannel,
		Image:          "quay.io/example-inc/memcached-operator:v" + committedVersion(t),
		KubeVersions:   committedKubeVersions(t),
	}
	out, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	stale := false
	committed := snapshot(t, opts.OutputDir)
	// The marker says the tools generated bundle/ (they refuse to replace
	// a directory without it); it is not bundle content.
	marker := filepath.Join(opts.OutputDir, atomicdir.Marker)
	if _, ok := committed[marker]; !ok {
		t.Errorf("%s is not committed: `make bundle` would refuse to replace bundle/", marker)
	}
	delete(committed, marker)
	for _, p := range out.Paths() {
		file := filepath.Join(opts.OutputDir, filepath.FromSlash(p))
		got, ok := committed[file]
		if !ok {
			t.Errorf("%s is not committed", file)
			stale = true
		} else if got != string(out.Files[p]) {
			t.Errorf("%s is out of date:\n%s", file, golden.LineDiff(got, string(out.Files[p])))
			stale = true
		}
		delete(committed, file)
	}
	for file := range committed {
		t.Errorf("%s is not generated any more", file)
		stale = true
	}
	df, err := os.ReadFile(opts.Dockerfile)
	if err != nil || !bytes.Equal(df, out.Dockerfile) {
		t.Errorf("%s is out of date (%v)", opts.Dockerfile, err)
		stale = true
	}
	if stale {
		t.Log("run `make bundle` and commit bundle/ and bundle.Dockerfile")
	}

	report, err := Validate(context.Background(), ValidateOptions{Dir: opts.OutputDir, KubeVersions: opts.KubeVersions})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Err(); err != nil {
		t.Error(err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	copyTree(b, fixtureConfig, filepath.Join(dir, "config"))
	opts := fixtureOptions(dir)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// committedVersion is the version the committed bundle/ was generated for:
// the Makefile's VERSION default (the golden tests above stay on the frozen
// 0.1.0 inputs).
func committedVersion(t *testing.T) string {
	t.Helper()
	return defaultAssignment(t, filepath.Join(repoRoot, "Makefile"), "VERSION ?= ")
}

// committedKubeVersions are the versions `make bundle` passes as
// --kube-versions: the Makefile's K8S_COMPAT_VERSIONS default and the
// newest, hack/k8s-binaries.sh's KUBERNETES_VERSION default.
func committedKubeVersions(t *testing.T) []string {
	t.Helper()
	compat := defaultAssignment(t, filepath.Join(repoRoot, "Makefile"), "K8S_COMPAT_VERSIONS ?= ")
	newest := defaultAssignment(t, filepath.Join(repoRoot, "hack", "k8s-binaries.sh"), "KUBERNETES_VERSION=${KUBERNETES_VERSION:-")
	return []string{compat, strings.TrimSuffix(newest, "}")}
}

// defaultAssignment is the rest of the line of file that starts with prefix.
func defaultAssignment(t *testing.T, file, prefix string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s has no line starting with %q", file, prefix)
	return ""
}
