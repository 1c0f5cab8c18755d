package bundle

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
)

// TestValidateRefusesBadInputs: inputs from public bug reports (issue 13),
// each refused by `tools bundle validate` with the file and field.
func TestValidateRefusesBadInputs(t *testing.T) {
	const csvRel = "manifests/memcached-operator.clusterserviceversion.yaml"
	tests := []struct {
		name        string
		edit        func(t *testing.T, bundleDir string)
		file, field string
		text        string
	}{
		{
			name: "olm.maxOpenShiftVersion 4.x in properties.yaml",
			edit: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, bundleformat.PropertiesFile), "properties:\n- type: olm.maxOpenShiftVersion\n  value: \"4.x\"\n")
			},
			file: "bundle/metadata/properties.yaml", field: "properties[0].value", text: `"4.x" is not MAJOR.MINOR`,
		},
		{
			name: "olm.maxOpenShiftVersion with a patch",
			edit: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, bundleformat.PropertiesFile), "properties:\n- type: olm.maxOpenShiftVersion\n  value: 4.14.2\n")
			},
			file: "bundle/metadata/properties.yaml", field: "properties[0].value", text: "only MAJOR.MINOR",
		},
		{
			name: "webhook containerPort out of range",
			edit: func(t *testing.T, dir string) {
				appendTo(t, filepath.Join(dir, csvRel), "  webhookdefinitions:\n  - type: ValidatingAdmissionWebhook\n    generateName: vmemcached.kb.io\n    deploymentName: memcached-operator-controller-manager\n    containerPort: 70000\n    admissionReviewVersions: [v1]\n    sideEffects: None\n")
			},
			file: "bundle/" + csvRel, field: "spec.webhookdefinitions[0].containerPort", text: "65535",
		},
		{
			name: "install mode of the wrong type",
			edit: func(t *testing.T, dir string) {
				replaceIn(t, filepath.Join(dir, csvRel), "  - supported: true\n    type: OwnNamespace\n", "  - supported: \"no\"\n    type: OwnNamespace\n")
			},
			file: "bundle/" + csvRel, field: "spec.installModes[0].supported", text: "boolean",
		},
		{
			name: "spec.version with a leading v",
			edit: func(t *testing.T, dir string) {
				replaceIn(t, filepath.Join(dir, csvRel), "  version: 0.1.0\n", "  version: v0.1.0\n")
			},
			file: "bundle/" + csvRel, field: "spec.version", text: "no leading v",
		},
		{
			name: "spec.version that is not semver",
			edit: func(t *testing.T, dir string) {
				replaceIn(t, filepath.Join(dir, csvRel), "  version: 0.1.0\n", "  version: \"0.1\"\n")
			},
			file: "bundle/" + csvRel, field: "spec.version", text: "not a semantic version",
		},
		{
			name: "arch label the image is not built for",
			edit: func(t *testing.T, dir string) {
				replaceIn(t, filepath.Join(dir, csvRel), "  name: memcached-operator.v0.1.0\n", "  labels:\n    operatorframework.io/arch.arm64: supported\n  name: memcached-operator.v0.1.0\n")
			},
			file: "bundle/" + csvRel, field: "metadata.labels.operatorframework.io/arch.arm64", text: "not built for it",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, opts := workspace(t, true)
			tc.edit(t, opts.OutputDir)
			report, err := Validate(context.Background(), ValidateOptions{Dir: opts.OutputDir, Platforms: opts.Platforms})
			if err != nil {
				t.Fatal(err)
			}
			assertProblem(t, report.Err(), tc.file, tc.field, tc.text)
		})
	}
}

// TestVersionRefusedBeforeRendering: --version 0.3.2+build.7 (issue 13,
// input 9) is refused with the reason before config/ is even read.
func TestVersionRefusedBeforeRendering(t *testing.T) {
	for _, v := range []string{"0.3.2+build.7", "0.3.2-RC.1"} {
		opts := fixtureOptions(t.TempDir()) // no config/: rendering would fail
		opts.Version = v
		_, err := Build(context.Background(), opts)
		assertProblem(t, err, "--version", "", "")
		if strings.Contains(err.Error(), "kustomization") {
			t.Errorf("%s: rendered before refusing the version: %v", v, err)
		}
	}
	opts := fixtureOptions(t.TempDir())
	opts.Version = "0.3.2+build.7"
	_, err := Build(context.Background(), opts)
	assertProblem(t, err, "--version", "", "cannot hold '+'")
}

// TestDigestsRefusePlainHTTPOffLoopback: `make bundle USE_IMAGE_DIGESTS=true`
// resolves through imageref's resolver, which never asks a non-loopback
// registry over plain HTTP.
func TestDigestsRefusePlainHTTPOffLoopback(t *testing.T) {
	if _, ok := (Options{UseImageDigests: true}).withDefaults().Resolver.(imageref.Resolver); !ok {
		t.Fatal("the default resolver is not imageref.Resolver")
	}
	_, opts := workspace(t, false)
	opts.UseImageDigests = true
	opts.Image = "10.1.2.3:5000/memcached-operator:v0.1.0"
	opts.Resolver = imageref.Resolver{Registry: imageref.Registry{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme == "http" {
			t.Errorf("plain HTTP reached the transport: %s", r.URL)
		}
		return nil, errors.New("connection refused")
	})}}
	_, err := Build(context.Background(), opts)
	assertProblem(t, err, "config/manager/manager.yaml", "spec.template.spec.containers[0].image", "plain HTTP is only allowed for a loopback registry")
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
