package kubeversion

import (
	"strings"
	"testing"

	"github.com/blang/semver/v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestParseTested(t *testing.T) {
	got, err := ParseTested([]string{"v1.30.14 v1.25.15", "1.37.2,v1.25.15"})
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "1.25.15, 1.30.14, 1.37.2" {
		t.Errorf("versions = %s, want sorted and each once", got)
	}
	if got.MinKubeVersion() != "1.25.15" || got.Newest().String() != "1.37.2" {
		t.Errorf("floor %s, newest %s", got.MinKubeVersion(), got.Newest())
	}
	if !got.Covers(semver.MustParse("1.30.14")) || got.Covers(semver.MustParse("1.30.0")) {
		t.Error("Covers must match exactly the tested versions")
	}
}

func TestParseTestedNamesEveryBadVersion(t *testing.T) {
	_, err := ParseTested([]string{"v1.25", "v1.30.14", "2.0.0", "v1.31.0-rc.1"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"v1.25"`, `"2.0.0"`, `"v1.31.0-rc.1"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := ParseTested([]string{" , "}); err == nil || !strings.Contains(err.Error(), "no Kubernetes version") {
		t.Errorf("empty list: error %v", err)
	}
}

func TestOpenShiftVersions(t *testing.T) {
	for kube, want := range map[string]string{
		"1.25.15": "v4.12", "1.25.0": "v4.12", "1.26.1": "v4.13", "1.30.14": "v4.17", "1.33.0": "v4.20",
		// 1.15 never shipped in OpenShift: 4.3 jumped from 1.14 to 1.16.
		"1.15.3": "v4.3",
	} {
		got, err := OpenShiftVersions(semver.MustParse(kube))
		if err != nil || got != want {
			t.Errorf("OpenShiftVersions(%s) = %q, %v; want %q", kube, got, err, want)
		}
	}
	if _, err := OpenShiftVersions(semver.MustParse("1.99.0")); err == nil || !strings.Contains(err.Error(), "add the newer releases") {
		t.Errorf("a Kubernetes newer than the table: error %v", err)
	}
}

const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
spec:
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        properties:
          spec:
            x-kubernetes-validations:
            - rule: self.a <= self.b
              message: a at most b
              fieldPath: .a
              reason: FieldValueInvalid
            properties:
              c:
                x-kubernetes-validations:
                - rule: self.size() < 3
                  messageExpression: "'too long: ' + self"
`

func TestForServer(t *testing.T) {
	for _, tc := range []struct {
		server string
		want   []string
	}{
		{"1.25.15", []string{
			"CustomResourceDefinition things.example.com spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.c.x-kubernetes-validations[0].messageExpression",
			"CustomResourceDefinition things.example.com spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[0].fieldPath",
			"CustomResourceDefinition things.example.com spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[0].reason",
		}},
		{"1.27.3", []string{
			"CustomResourceDefinition things.example.com spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[0].fieldPath",
			"CustomResourceDefinition things.example.com spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[0].reason",
		}},
		{"1.30.14", nil},
	} {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(crd), &obj.Object); err != nil {
			t.Fatal(err)
		}
		other := &unstructured.Unstructured{Object: map[string]any{"kind": "ConfigMap", "data": map[string]any{"x-kubernetes-validations": []any{map[string]any{"reason": "kept"}}}}}
		got := ForServer([]*unstructured.Unstructured{obj, other}, semver.MustParse(tc.server))
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("server %s removed:\n%s\nwant:\n%s", tc.server, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "versions")
		data, _ := yaml.Marshal(rules)
		for _, f := range tc.want {
			name := f[strings.LastIndex(f, ".")+1:]
			if strings.Contains(string(data), name+":") {
				t.Errorf("server %s: %s is still in the CRD", tc.server, name)
			}
		}
		if !strings.Contains(string(data), "rule: self.a <= self.b") {
			t.Errorf("server %s: the rule itself was removed", tc.server)
		}
		if kept, _, _ := unstructured.NestedSlice(other.Object, "data", "x-kubernetes-validations"); len(kept) != 1 || kept[0].(map[string]any)["reason"] != "kept" {
			t.Error("an object that is not a CRD was changed")
		}
	}
}
