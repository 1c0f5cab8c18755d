package bundleformat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/property"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

func TestDockerfileLabelsRoundTrip(t *testing.T) {
	as := Annotations(Metadata{Package: "memcached-operator", Channels: []string{"candidate", "fast"}, DefaultChannel: "fast",
		OpenShiftVersions: "v4.12", Builder: "memcached-operator-tools", ProjectLayout: "go.kubebuilder.io/v4", WithTests: true})
	if a := as[6]; a.Key != LabelOpenShiftVersions || a.Value != "v4.12" {
		t.Errorf("annotation 6 is %s=%s, want %s=v4.12 after the core ones", a.Key, a.Value, LabelOpenShiftVersions)
	}
	labels := map[string]string{}
	for _, ins := range ParseDockerfile(Dockerfile(as, "bundle")) {
		if ins.Cmd != "LABEL" {
			continue
		}
		l, err := ParseLabels(ins.Args)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range l {
			labels[k] = v
		}
	}
	if len(labels) != len(as) {
		t.Errorf("%d labels for %d annotations", len(labels), len(as))
	}
	for _, a := range as {
		if labels[a.Key] != a.Value {
			t.Errorf("label %s=%q, annotation %q", a.Key, labels[a.Key], a.Value)
		}
	}
	got, err := ParseLabels(`a="x y" b=z "c"="q\"r"`)
	if err != nil || got["a"] != "x y" || got["b"] != "z" || got["c"] != `q"r` {
		t.Errorf("ParseLabels: %v, %v", got, err)
	}
}

// TestCheckDockerfile: the one Dockerfile reader accepts continued lines,
// and the one check reports every difference from the annotations.
func TestCheckDockerfile(t *testing.T) {
	annotations := map[string]string{LabelMediatype: "registry+v1", LabelManifests: "manifests/", LabelMetadata: "metadata/", LabelChannels: "candidate"}
	files := DockerfileFiles{Dockerfile: "bundle.Dockerfile", Annotations: "bundle/metadata/annotations.yaml"}
	good := "FROM scratch\nLABEL " + LabelMediatype + "=registry+v1 \\\n  " + LabelManifests + "=manifests/ \\\n  # a comment\n  " + LabelMetadata + "=metadata/\n" +
		"LABEL " + LabelChannels + "=candidate\nCOPY bundle/manifests /manifests/\nCOPY bundle/metadata /metadata/\n"
	if ps := CheckDockerfile([]byte(good), annotations, "bundle", files); len(ps) > 0 {
		t.Errorf("a continued LABEL: %v", ps.Err("x"))
	}
	bad := "FROM alpine\nRUN true\nLABEL " + LabelChannels + "=stable extra=1\nCOPY other/manifests /manifests/\n"
	ps := CheckDockerfile([]byte(bad), annotations, "bundle", files)
	for _, want := range []struct{ file, field, text string }{
		{"bundle.Dockerfile", "FROM", "scratch"},
		{"bundle.Dockerfile", "line 2", "only FROM, LABEL and COPY"},
		{"bundle.Dockerfile", "LABEL " + LabelChannels, "but"},
		{"bundle.Dockerfile", "LABEL " + LabelMediatype, "missing"},
		{"bundle/metadata/annotations.yaml", "annotations.extra", "missing"},
		{"bundle.Dockerfile", "COPY", "not from the bundle's bundle/manifests"},
		{"bundle.Dockerfile", "COPY", "nothing is copied to /metadata/"},
	} {
		if !hasProblem(ps, want.file, want.field, want.text) {
			t.Errorf("no problem in %s at %s with %q:\n%v", want.file, want.field, want.text, ps.Err("x"))
		}
	}
}

func hasProblem(ps problem.List, file, field, text string) bool {
	for _, p := range ps {
		if p.File == file && p.Field == field && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}

// TestCheckProperties: values as OLM parses them; olm.maxOpenShiftVersion
// as OLM's openshift controller does (issue 13, input 3, and its kind).
func TestCheckProperties(t *testing.T) {
	prop := func(typ, value string) property.Property {
		return property.Property{Type: typ, Value: json.RawMessage(value)}
	}
	at := func(i int) problem.Problem {
		return problem.Problem{File: "bundle/metadata/properties.yaml", Field: "properties[" + string(rune('0'+i)) + "]"}
	}
	for _, ok := range [][]property.Property{
		{prop(TypeMaxOpenShiftVersion, `"4.14"`)},
		{prop(TypeMaxOpenShiftVersion, `4.14`)},
		{prop(TypeMaxOpenShiftVersion, `"\"4.9\""`)},
		{prop(property.TypePackage, `{"packageName":"memcached-operator","version":"0.3.1"}`)},
	} {
		if ps := CheckProperties(ok, at); len(ps) > 0 {
			t.Errorf("%s: %v", ok[0].Value, ps.Err("x"))
		}
	}
	for _, tc := range []struct {
		props       []property.Property
		field, text string
	}{
		{[]property.Property{prop(TypeMaxOpenShiftVersion, `"4.x"`)}, "properties[0].value", `"4.x" is not MAJOR.MINOR`},
		{[]property.Property{prop(TypeMaxOpenShiftVersion, `"4.14.1"`)}, "properties[0].value", "only MAJOR.MINOR"},
		{[]property.Property{prop(TypeMaxOpenShiftVersion, `""`)}, "properties[0].value", "empty"},
		{[]property.Property{prop(TypeMaxOpenShiftVersion, `"4.14"`), prop(TypeMaxOpenShiftVersion, `"4.15"`)}, "properties[1].type", "more than one"},
		{[]property.Property{prop(property.TypePackage, `{"packageName":1}`)}, "properties[0].value", property.TypePackage},
	} {
		ps := CheckProperties(tc.props, at)
		if !hasProblem(ps, "bundle/metadata/properties.yaml", tc.field, tc.text) {
			t.Errorf("%s: want %q at %s, got %v", tc.props[len(tc.props)-1].Value, tc.text, tc.field, ps.Err("x"))
		}
	}
}
