package envtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

const managedFlagMessage = "extraArgs must not set a flag the operator manages"

// specRuleField is where the API server reports a refusal by a rule of the
// whole spec that names field as its fieldPath: there from Kubernetes 1.28,
// which added fieldPath; older servers drop it and report the spec.
func specRuleField(field string) string {
	if serverMinor < 28 {
		return "spec"
	}
	return field
}

// TestSchemaValidationTuning creates Memcacheds with the settings added in
// 0.2.0 that the CRD's schema and CEL rules must refuse or accept. It needs
// no operator.
func TestSchemaValidationTuning(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	spec := func(kv ...any) map[string]any {
		s := map[string]any{"size": int64(1)}
		for i := 0; i < len(kv); i += 2 {
			s[kv[i].(string)] = kv[i+1]
		}
		return s
	}
	args := func(a ...string) []any {
		out := make([]any, len(a))
		for i := range a {
			out[i] = a[i]
		}
		return out
	}

	for i, tc := range []struct {
		name string
		spec map[string]any
		// wantField names the refused field; empty when the object is valid.
		wantField string
		// wantMessage, when set, must be in the refusal.
		wantMessage string
	}{
		{name: "memoryMB below 16", spec: spec("memoryMB", int64(15)), wantField: "spec.memoryMB"},
		{name: "memoryMB above 65536", spec: spec("memoryMB", int64(65537)), wantField: "spec.memoryMB"},
		{name: "maxConnections below 16", spec: spec("maxConnections", int64(15)), wantField: "spec.maxConnections"},
		{name: "threads 0", spec: spec("threads", int64(0)), wantField: "spec.threads"},
		{name: "threads 65", spec: spec("threads", int64(65)), wantField: "spec.threads"},
		{name: "verbosity 3", spec: spec("verbosity", int64(3)), wantField: "spec.verbosity"},
		{name: "verbosity -1", spec: spec("verbosity", int64(-1)), wantField: "spec.verbosity"},
		{name: "maxItemSize in gigabytes", spec: spec("maxItemSize", "1g"), wantField: "spec.maxItemSize"},
		{name: "maxItemSize with an upper-case unit", spec: spec("maxItemSize", "1M"), wantField: "spec.maxItemSize"},
		{name: "maxItemSize not a size", spec: spec("maxItemSize", "big"), wantField: "spec.maxItemSize"},
		{name: "maxItemSize zero", spec: spec("maxItemSize", "0k"), wantField: "spec.maxItemSize"},
		{name: "maxItemSize below 1k", spec: spec("maxItemSize", "512"), wantField: "spec.maxItemSize", wantMessage: "at least 1k"},
		{name: "maxItemSize above 128m", spec: spec("memoryMB", int64(1024), "maxItemSize", "129m"), wantField: "spec.maxItemSize", wantMessage: "at most 128m"},
		{name: "maxItemSize above half of memoryMB", spec: spec("maxItemSize", "33m"), wantField: specRuleField("spec.maxItemSize"), wantMessage: "at most half of memoryMB"},
		{name: "maxItemSize above half of the set memoryMB", spec: spec("memoryMB", int64(100), "maxItemSize", "51m"), wantField: specRuleField("spec.maxItemSize"), wantMessage: "at most half of memoryMB"},
		{name: "maxItemSize not a multiple of 512k", spec: spec("maxItemSize", "1000k"), wantField: specRuleField("spec.maxItemSize"), wantMessage: "multiple of 512k"},
		{name: "maxItemSize small without slab_chunk_max", spec: spec("maxItemSize", "64k"), wantField: specRuleField("spec.maxItemSize"), wantMessage: "multiple of 512k"},
		{name: "antiAffinityPreset unknown", spec: spec("antiAffinityPreset", "medium"), wantField: "spec.antiAffinityPreset"},
		{name: "resources with claims", spec: spec("resources", map[string]any{"claims": []any{map[string]any{"name": "gpu"}}}), wantField: "spec.resources", wantMessage: "claims is not supported"},
		{name: "exporterImage with a space", spec: spec("monitoring", map[string]any{"enabled": true, "exporterImage": "bad image"}), wantField: "spec.monitoring.exporterImage"},
		{name: "monitoring.enabled not a bool", spec: spec("monitoring", map[string]any{"enabled": "yes"}), wantField: "spec.monitoring.enabled"},

		{name: "memoryMB 16", spec: spec("memoryMB", int64(16))},
		{name: "memoryMB 65536", spec: spec("memoryMB", int64(65536))},
		{name: "maxConnections, threads, verbosity at their bounds", spec: spec("maxConnections", int64(16), "threads", int64(64), "verbosity", int64(2))},
		{name: "threads 1, verbosity 0", spec: spec("threads", int64(1), "verbosity", int64(0))},
		{name: "maxItemSize 1m", spec: spec("maxItemSize", "1m")},
		{name: "maxItemSize 512k", spec: spec("maxItemSize", "512k")},
		{name: "maxItemSize 1536k", spec: spec("maxItemSize", "1536k")},
		{name: "maxItemSize in bytes", spec: spec("maxItemSize", "2097152")},
		{name: "maxItemSize half of the default memory", spec: spec("maxItemSize", "32m")},
		{name: "maxItemSize 128m", spec: spec("memoryMB", int64(256), "maxItemSize", "128m")},
		{name: "maxItemSize 1k with slab_chunk_max", spec: spec("maxItemSize", "1k", "extraArgs", args("-o", "slab_chunk_max=1024"))},
		{name: "antiAffinityPreset soft", spec: spec("antiAffinityPreset", "soft")},
		{name: "antiAffinityPreset hard", spec: spec("antiAffinityPreset", "hard")},
		{name: "antiAffinityPreset empty", spec: spec("antiAffinityPreset", "")},
		{name: "monitoring with an image", spec: spec("monitoring", map[string]any{"enabled": true, "exporterImage": "quay.io/prometheus/memcached-exporter:v0.15.3"})},
		{name: "resources", spec: spec("resources", map[string]any{"requests": map[string]any{"cpu": "1"}, "limits": map[string]any{"memory": "1Gi"}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := createMemcachedSpec(t, ns, fmt.Sprintf("tuning-%d", i), tc.spec)
			checkRefusal(t, err, tc.wantField, tc.wantMessage)
		})
	}
}

// TestExtraArgsManagedFlags checks the two guards of extraArgs on the forms
// that matter. The CRD's rule, 0.3.1's unchanged, refuses the flags the
// operator sets from the spec when an argument names them directly, in every
// form getopt reads them. The operator leaves out what passes the rule but
// not its allow-list (a managed flag inside a group, options that would
// stop, detach or expose memcached, abbreviations, unknown options) and
// names it in the Degraded condition. What is accepted passes both and
// reaches memcached's command line. TestExtraArgsAgainstMemcached runs these
// forms through the real memcached.
func TestExtraArgsManagedFlags(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	refused := [][]string{
		{"-m", "128"}, {"-m128"}, {"--memory-limit=128"}, {"--memory-limit", "128"}, {"--mem=128"}, {"--memory-l=2"},
		{"-c", "10"}, {"--conn-limit=10"},
		{"-t", "8"}, {"-t8"}, {"--threads=8"}, {"--threads"},
		{"-I", "2m"}, {"-I2m"}, {"--max-item-size=2m"},
		{"-p", "11212"}, {"--port=11212"},
		{"-U", "11211"}, {"--udp-port=11211"},
		{"-l", "0.0.0.0"}, {"--listen=127.0.0.1"},
		{"-v"}, {"-vv"}, {"-vvv"}, {"--verbose"},
		{"-o", "modern", "-m", "1"}, // one bad argument among good ones
	}
	// The API server accepts these; the operator leaves out the first
	// argument of each and keeps the rest.
	leftOut := [][]string{
		// Grouped short options, as getopt reads them: -Mm2 is -M -m 2.
		{"-Mm2"}, {"-MCt8"}, {"-Cv"}, {"-MCFXWLp11212"},
		{"-Mm2", "-o", "modern"}, // one bad argument among good ones
		// Options that stop, detach or expose memcached, or are not needed
		// in the pod: -V, -h and -i print and exit, -d detaches (the
		// container's process exits), -A lets any client shut it down, -s
		// disables TCP, -u and -P matter only as root or detached.
		{"-V"}, {"-h"}, {"-i"}, {"-d"}, {"-Md"}, {"--daemon"}, {"-A"}, {"--enable-shutdown"},
		{"-s", "/tmp/memcached.sock"}, {"--unix-socket=/tmp/m.sock"}, {"-a", "777"}, {"-u", "root"}, {"--user=root"},
		{"-P", "/tmp/pid"}, {"-S"}, {"-Z"}, {"-e", "/tmp/mem"}, {"-Y", "/tmp/auth"}, {"-k"}, {"-r"}, {"-N", "1"},
		// Abbreviations of long options, which getopt_long expands, and
		// arguments to options that take none.
		{"--ext=modern"}, {"--disable-evictions=yes"},
		// An option memcached does not know is left out too, not passed on.
		{"-x"}, {"--no-such-option"},
	}
	accepted := [][]string{
		{"-o", "modern"}, {"-o", "lru_crawler,lru_maintainer"}, {"-R", "40"}, {"-B", "ascii"}, {"-M"}, {"-C"},
		{"-f", "1.05"}, {"-n", "72"}, {"--max-reqs-per-event=40"}, {"--disable-evictions"}, {"-o", "slab_chunk_max=524288"},
		{"--"},
		// Grouped flags that end in an option taking the rest as its value.
		{"-MC"}, {"-MCo", "modern"}, {"-Momodern"}, {"-om"}, {"--extended=idle_timeout=600"}, {"-D", ":"},
		// Values never reach getopt as options.
		{"-o", "hashpower=16"}, {"lru_crawler"}, {""},
	}
	n := 0
	for _, tc := range refused {
		n++
		t.Run("refused "+strings.Join(tc, " "), func(t *testing.T) {
			err := createMemcachedSpec(t, ns, fmt.Sprintf("args-%d", n), map[string]any{"size": int64(1), "extraArgs": tc})
			checkRefusal(t, err, "spec.extraArgs", managedFlagMessage)
			if err != nil && !strings.Contains(err.Error(), "use memoryMB") {
				t.Errorf("the message does not say which field to use instead: %v", err)
			}
			if !slices.ContainsFunc(tc, func(a string) bool { return !controller.ExtraArgAllowed(a) }) {
				t.Errorf("controller.ExtraArgAllowed accepts every argument")
			}
		})
	}
	for _, tc := range leftOut {
		n++
		t.Run("left out "+strings.Join(tc, " "), func(t *testing.T) {
			checkOperatorArgs(t, ns, fmt.Sprintf("args-%d", n), tc, tc[:1])
		})
	}
	for _, tc := range accepted {
		n++
		t.Run("accepted "+strings.Join(tc, " "), func(t *testing.T) {
			checkOperatorArgs(t, ns, fmt.Sprintf("args-%d", n), tc, nil)
		})
	}
}

// TestSamplesValid creates every sample of config/samples: they must pass
// the CRD's validation as they are.
func TestSamplesValid(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "cache_v1_*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("samples %v (%v), want the default and the production one", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &u.Object); err != nil {
				t.Fatal(err)
			}
			u.SetNamespace(ns)
			if err := k8sClient.Create(t.Context(), u, client.DryRunAll); err != nil {
				t.Errorf("sample refused: %v", err)
			}
			// It also decodes into the Go type without unknown fields.
			if err := yaml.UnmarshalStrict(data, &cachev1.Memcached{}); err != nil {
				t.Errorf("sample does not decode strictly: %v", err)
			}
		})
	}
}

// createMemcachedSpec creates a Memcached with spec as unstructured data, so
// that what is missing is really missing.
func createMemcachedSpec(t *testing.T, ns, name string, spec map[string]any) error {
	t.Helper()
	if a, ok := spec["extraArgs"].([]string); ok {
		list := make([]any, len(a))
		for i := range a {
			list[i] = a[i]
		}
		spec["extraArgs"] = list
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cachev1.GroupVersion.String(),
		"kind":       "Memcached",
		"metadata":   map[string]any{"namespace": ns, "name": name},
		"spec":       spec,
	}}
	return k8sClient.Create(t.Context(), u)
}

// checkRefusal checks that err accepts (wantField empty) or refuses the
// object for wantField, with wantMessage in the error when given.
func checkRefusal(t *testing.T, err error, wantField, wantMessage string) {
	t.Helper()
	switch {
	case wantField == "" && err != nil:
		t.Fatalf("valid Memcached refused: %v", err)
	case wantField == "":
		return
	case !apierrors.IsInvalid(err):
		t.Fatalf("got %v, want an Invalid error about %s", err, wantField)
	}
	if wantMessage != "" && !strings.Contains(err.Error(), wantMessage) {
		t.Errorf("error %q does not contain %q", err, wantMessage)
	}
	var fields []string
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			fields = append(fields, c.Field)
			if c.Field == wantField {
				return
			}
		}
	}
	t.Errorf("error names fields %q, want %s: %v", fields, wantField, err)
}
