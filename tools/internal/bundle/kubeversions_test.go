package bundle

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
)

// testedVersions are the versions of these tests: the Makefile's, in another order.
var testedVersions = []string{"v1.37.2", "v1.25.15 v1.30.14"}

const (
	csvFile         = "bundle/manifests/memcached-operator.clusterserviceversion.yaml"
	annotationsFile = "bundle/metadata/annotations.yaml"
)

// TestKubeVersionsDerived: minKubeVersion is the lowest version the tests
// passed on, com.redhat.openshift.versions its OpenShift release, in
// annotations.yaml and the Dockerfile alike, and the removed-API checks
// assume the newest.
func TestKubeVersionsDerived(t *testing.T) {
	_, opts := workspace(t, false)
	opts.KubeVersions = testedVersions
	out, csv := buildCSV(t, opts)
	if csv.Spec.MinKubeVersion != "1.25.15" {
		t.Errorf("minKubeVersion %q, want the floor 1.25.15", csv.Spec.MinKubeVersion)
	}
	want := bundleformat.LabelOpenShiftVersions + ": v4.12\n"
	if !strings.Contains(string(out.Files[bundleformat.AnnotationsFile]), want) {
		t.Errorf("annotations.yaml lacks %q:\n%s", want, out.Files[bundleformat.AnnotationsFile])
	}
	if !strings.Contains(string(out.Dockerfile), "LABEL "+bundleformat.LabelOpenShiftVersions+"=v4.12\n") {
		t.Errorf("the Dockerfile lacks the label:\n%s", out.Dockerfile)
	}
	if got := opts.withDefaults().K8sVersion; got != "1.37.2" {
		t.Errorf("k8s-version %q, want the newest tested, 1.37.2", got)
	}
	if len(out.Notes) == 0 || !strings.Contains(out.Notes[0], "minKubeVersion 1.25.15 (the lowest of 1.25.15, 1.30.14, 1.37.2)") {
		t.Errorf("notes %q do not say where minKubeVersion comes from", out.Notes)
	}
}

// TestKubeVersionsRequired: generation refuses a missing or bad version
// list, naming the flag and each bad version.
func TestKubeVersionsRequired(t *testing.T) {
	_, opts := workspace(t, false)
	opts.KubeVersions = nil
	_, err := Build(context.Background(), opts)
	assertProblem(t, err, "--kube-versions", "", "required")
	opts.KubeVersions = []string{"v1.25", "v1.30.14", "1.99.0"}
	_, err = Build(context.Background(), opts)
	assertProblem(t, err, "--kube-versions", "", `"v1.25" is not a Kubernetes version`)
	opts.KubeVersions = []string{"v1.99.0"}
	_, err = Build(context.Background(), opts)
	assertProblem(t, err, "--kube-versions", "", "add the newer releases")
}

// TestValidateRefusesVersionEdits edits a generated bundle by hand, one
// way at a time: Validate must name the file and field of each problem.
func TestValidateRefusesVersionEdits(t *testing.T) {
	type want struct{ file, field, text string }
	minKube := "spec.minKubeVersion"
	tests := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		wants []want
	}{
		{"minKubeVersion lowered below the floor", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, csvFile), "minKubeVersion: 1.25.15", "minKubeVersion: 1.24.0")
		}, []want{
			{csvFile, minKube, "1.24.0 is below 1.25.15, the lowest Kubernetes version the tests passed on"},
			{annotationsFile, fieldOpenShiftVersions, `"v4.12" disagrees with spec.minKubeVersion 1.24.0`},
		}},
		{"minKubeVersion at the floor's .0", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, csvFile), "minKubeVersion: 1.25.15", "minKubeVersion: 1.25.0")
		}, []want{{csvFile, minKube, "1.25.0 is below 1.25.15"}}},
		{"minKubeVersion no test ran on", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, csvFile), "minKubeVersion: 1.25.15", "minKubeVersion: 1.26.0")
		}, []want{
			{csvFile, minKube, "1.26.0 is not a Kubernetes version the tests passed on (1.25.15, 1.30.14, 1.37.2)"},
			{annotationsFile, fieldOpenShiftVersions, `the first OpenShift release with Kubernetes 1.26 is 4.13, so the value is "v4.13"`},
		}},
		{"minKubeVersion removed", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, csvFile), "  minKubeVersion: 1.25.15\n", "")
		}, []want{{csvFile, minKube, "missing"}}},
		{"OpenShift versions lowered in annotations.yaml and the Dockerfile", func(t *testing.T, dir string) {
			setOpenShiftVersions(t, dir, "v4.11", true)
		}, []want{{annotationsFile, fieldOpenShiftVersions, `"v4.11" disagrees with spec.minKubeVersion 1.25.15 of ` + csvFile}}},
		{"OpenShift versions changed in the Dockerfile only", func(t *testing.T, dir string) {
			setOpenShiftVersions(t, dir, "v4.11", false)
		}, []want{{"bundle.Dockerfile", "LABEL " + bundleformat.LabelOpenShiftVersions, "but"}}},
		{"OpenShift versions removed", func(t *testing.T, dir string) {
			setOpenShiftVersions(t, dir, "", true)
		}, []want{{annotationsFile, fieldOpenShiftVersions, `missing: spec.minKubeVersion 1.25.15 of ` + csvFile + ` is OpenShift 4.12 and later, so the value is "v4.12"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, opts := workspace(t, false)
			opts.KubeVersions = testedVersions
			if _, err := Generate(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, dir)
			t.Chdir(dir) // problems name the files as `make bundle` does: bundle/...
			report, err := Validate(context.Background(), ValidateOptions{Dir: "bundle", Platforms: opts.Platforms, KubeVersions: testedVersions})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wants {
				assertProblem(t, report.Err(), w.file, w.field, w.text)
			}
		})
	}
}

// TestValidateReleasedBundleWithoutVersions: a bundle released before the
// versions were derived (no annotation) passes without --kube-versions, and
// is refused with them.
func TestValidateReleasedBundleWithoutVersions(t *testing.T) {
	dir, opts := workspace(t, false)
	opts.KubeVersions = testedVersions
	if _, err := Generate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	setOpenShiftVersions(t, dir, "", true)
	replaceIn(t, filepath.Join(dir, csvFile), "minKubeVersion: 1.25.15", "minKubeVersion: 1.29.0")
	t.Chdir(dir) // problems name the files as `make bundle` does: bundle/...
	report, err := Validate(context.Background(), ValidateOptions{Dir: "bundle", Platforms: opts.Platforms})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Err(); err != nil {
		t.Errorf("a bundle without the annotation, validated without --kube-versions: %v", err)
	}
	report, err = Validate(context.Background(), ValidateOptions{Dir: "bundle", Platforms: opts.Platforms, KubeVersions: testedVersions})
	if err != nil {
		t.Fatal(err)
	}
	assertProblem(t, report.Err(), csvFile, "spec.minKubeVersion", "1.29.0 is not a Kubernetes version the tests passed on")
}

// setOpenShiftVersions sets (or, with "", removes) the annotation in the
// Dockerfile and, with inAnnotations, in annotations.yaml.
func setOpenShiftVersions(t *testing.T, dir, value string, inAnnotations bool) {
	t.Helper()
	key := bundleformat.LabelOpenShiftVersions
	label, annotation := "LABEL "+key+"="+value+"\n", "  "+key+": "+value+"\n"
	if value == "" {
		label, annotation = "", ""
	}
	replaceIn(t, filepath.Join(dir, "bundle.Dockerfile"), "LABEL "+key+"=v4.12\n", label)
	if inAnnotations {
		replaceIn(t, filepath.Join(dir, annotationsFile), "  "+key+": v4.12\n", annotation)
	}
}
