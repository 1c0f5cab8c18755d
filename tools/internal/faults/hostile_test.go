//go:build e2e

package faults_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// TestHostileInput sends malformed Memcacheds as raw JSON, the way a buggy
// client or a hand-written manifest would, with kubectl's strict field
// validation. The API server refuses every one (so the operator never sees
// them), refuses malformed changes to a valid Memcached, and the operator
// keeps serving the valid one.
func TestHostileInput(t *testing.T) {
	ns := newNamespace(t, "hostile")
	op := startOperator(t, identity(t, testbed.OperatorServiceAccount), ns)
	tr := tracker(t, ns)
	valid := bench.Want{"valid": 1}
	createMemcacheds(t, ns, valid)

	for i, tc := range []struct {
		name string
		// body is the JSON sent.
		body string
		// mention is what the refusal must name: the field or the problem.
		mention string
	}{
		{"negative size", `{"spec":{"size":-1}}`, "spec.size"},
		{"size above 1000", `{"spec":{"size":1001}}`, "spec.size"},
		{"size beyond int32", `{"spec":{"size":4294967297}}`, "spec.size"},
		{"size a string", `{"spec":{"size":"abc"}}`, "spec.size"},
		{"size a fraction", `{"spec":{"size":2.5}}`, "spec.size"},
		{"size null", `{"spec":{"size":null}}`, "spec.size"},
		{"size missing", `{"spec":{"image":"memcached"}}`, "spec.size"},
		{"spec missing", `{}`, "spec"},
		{"spec null", `{"spec":null}`, "spec"},
		{"spec a string", `{"spec":"size=3"}`, "spec"},
		{"spec a list", `{"spec":[{"size":3}]}`, "spec"},
		{"image with spaces", `{"spec":{"size":1,"image":"memcached 1.6"}}`, "spec.image"},
		{"image in upper case", `{"spec":{"size":1,"image":"Docker.io/Library/Memcached"}}`, "spec.image"},
		{"image with ::", `{"spec":{"size":1,"image":"memcached::1.6"}}`, "spec.image"},
		{"image only ::", `{"spec":{"size":1,"image":"::"}}`, "spec.image"},
		{"image with a newline", `{"spec":{"size":1,"image":"memcached\n:1.6"}}`, "spec.image"},
		{"image starting with a dash", `{"spec":{"size":1,"image":"-memcached"}}`, "spec.image"},
		{"image with a short digest", `{"spec":{"size":1,"image":"memcached@sha256:abc"}}`, "spec.image"},
		{"image too long", `{"spec":{"size":1,"image":"` + strings.Repeat("a", 513) + `"}}`, "spec.image"},
		{"image a number", `{"spec":{"size":1,"image":42}}`, "spec.image"},
		{"memory negative", `{"spec":{"size":1,"memoryMB":-5}}`, "spec.memoryMB"},
		{"item size not a size", `{"spec":{"size":1,"maxItemSize":"abc"}}`, "spec.maxItemSize"},
		{"extra args setting a managed flag", `{"spec":{"size":1,"extraArgs":["-m","4096"]}}`, "spec.extraArgs"},
		{"name in upper case", `{"metadata":{"name":"Upper"},"spec":{"size":1}}`, "metadata.name"},
		{"unknown field in spec", `{"spec":{"size":1,"replicas":3}}`, `unknown field "spec.replicas"`},
		{"unknown top-level field", `{"spec":{"size":1},"extra":true}`, `unknown field "extra"`},
		{"unknown field in metadata", `{"metadata":{"name":"meta","nmespace":"x"},"spec":{"size":1}}`, `unknown field "metadata.nmespace"`},
		{"duplicate field", `{"spec":{"size":1,"size":900}}`, `duplicate field "spec.size"`},
		{"not JSON", `{"spec":{"size":1}`, "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("hostile-%d", i)
			body := withObjectHeader(tc.body, ns, name)
			err := env.Admin.CoreV1().RESTClient().Post().
				AbsPath("/apis/cache.example.com/v1/namespaces", ns, "memcacheds").
				Param("fieldValidation", "Strict").
				SetHeader("Content-Type", "application/json").
				Body([]byte(body)).
				Do(t.Context()).Error()
			requireRefused(t, err, tc.mention)
			if _, err := env.Memcacheds(ns).Get(t.Context(), name); !apierrors.IsNotFound(err) {
				t.Errorf("%s exists after its create was refused (%v)", name, err)
			}
		})
	}

	// Malformed changes to a valid Memcached are refused the same way.
	for _, tc := range []struct{ patch, mention string }{
		{`{"spec":{"size":-1}}`, "spec.size"},
		{`{"spec":{"size":"abc"}}`, "spec.size"},
		{`{"spec":{"size":null}}`, "spec.size"},
		{`{"spec":{"image":"Bad Image"}}`, "spec.image"},
		{`{"spec":null}`, "spec"},
		{`{"spec":{"replicas":5}}`, `unknown field "spec.replicas"`},
	} {
		err := env.Memcacheds(ns).Patch(t.Context(), "valid", []byte(tc.patch), client.FieldValidation("Strict"))
		t.Run("patch "+tc.patch, func(t *testing.T) { requireRefused(t, err, tc.mention) })
	}

	waitConverged(t, tr, valid, "the valid Memcached")
	deployments, err := env.Admin.AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(deployments.Items) != 1 || deployments.Items[0].Name != "valid" {
		var names []string
		for _, d := range deployments.Items {
			names = append(names, d.Name)
		}
		t.Errorf("Deployments %v, want only the valid Memcached's", names)
	}
	select {
	case <-op.Exited():
		t.Fatal("the operator exited")
	default:
	}
}

// requireRefused fails unless err is the API server refusing a request as
// invalid (422) or malformed (400), naming mention.
func requireRefused(t *testing.T, err error, mention string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatal("accepted")
	case !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err):
		t.Fatalf("got %v, want 422 Invalid or 400 BadRequest", err)
	case !strings.Contains(err.Error(), mention):
		t.Fatalf("refused without naming %s: %v", mention, err)
	}
	t.Logf("refused: %.300s", err)
}

// withObjectHeader completes a JSON object body with apiVersion, kind and,
// unless the body sets metadata itself, metadata.
func withObjectHeader(body, namespace, name string) string {
	header := `"apiVersion":"cache.example.com/v1","kind":"Memcached",`
	if !strings.Contains(body, `"metadata"`) {
		header += fmt.Sprintf(`"metadata":{"name":%q,"namespace":%q},`, name, namespace)
	}
	rest := strings.TrimPrefix(body, "{")
	if strings.HasPrefix(rest, "}") {
		header = strings.TrimSuffix(header, ",")
	}
	return "{" + header + rest
}
