package controller

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// update rewrites the golden files from the builders' current output:
//
//	go test ./operator/internal/controller/ -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the current output")

// checkGolden compares got, as YAML, with testdata/name and rewrites the file
// instead when -update is given.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	out, err := yaml.Marshal(got)
	if err != nil {
		t.Fatalf("marshalling %s: %v", name, err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", path, err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs from the builder's output (run with -update if the change is intended):\n--- want\n%s\n--- got\n%s", path, want, out)
	}
}

// TestDefaultDeploymentGolden pins the Deployment of a Memcached that sets
// nothing but size, as release 0.1.0 rendered it. An operator upgrade must
// not change it: a changed pod template restarts every memcached pod, and a
// restart empties the cache. The golden file was written by 0.1.0's builder;
// never -update it for a change that touches a default Memcached.
func TestDefaultDeploymentGolden(t *testing.T) {
	m := memcached(3, "")
	opts := OperandOptions{RunAsUser: ptr.To(MemcachedImageUID)}
	checkGolden(t, "deployment-default.golden.yaml", DesiredDeployment(m, opts))
}

// TestProductionGolden shows everything the operator creates for a
// Memcached that uses the production settings, for review.
func TestProductionGolden(t *testing.T) {
	m := memcached(3, "")
	m.Spec.MemoryMB = 1024
	m.Spec.MaxConnections = ptr.To[int32](4096)
	m.Spec.Threads = ptr.To[int32](4)
	m.Spec.MaxItemSize = "2m"
	m.Spec.Verbosity = ptr.To[int32](1)
	m.Spec.ExtraArgs = []string{"-o", "lru_crawler,lru_maintainer"}
	m.Spec.Resources = &corev1.ResourceRequirements{Requests: quantities("cpu", "250m")}
	m.Spec.NodeSelector = map[string]string{"node-role.example.com/cache": ""}
	m.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cache", Effect: corev1.TaintEffectNoSchedule}}
	m.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}
	m.Spec.AntiAffinityPreset = cachev1.AntiAffinitySoft
	m.Spec.Monitoring = &cachev1.MonitoringSpec{Enabled: true}
	opts := OperandOptions{RunAsUser: ptr.To(MemcachedImageUID)}

	checkGolden(t, "deployment-production.golden.yaml", DesiredDeployment(m, opts))
	checkGolden(t, "services-production.golden.yaml", DesiredServices(m))
	checkGolden(t, "poddisruptionbudget-production.golden.yaml", DesiredPodDisruptionBudget(m))
	checkGolden(t, "servicemonitor-production.golden.yaml", DesiredServiceMonitor(m))
}
