package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       float64
		bad        bool
	}{
		{"plain", "4242 (manager) S 1 4242 4242 0 -1 4194560 5000 0 0 0 150 37 0 0 20 0 12 0 100 0 0", 1.87, false},
		{"command with spaces and parentheses", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0", 0.03, false},
		{"truncated", "7 (manager) S 1 7", 0, true},
		{"no command", "garbage", 0, true},
		{"not a number", "7 (m) S 1 7 7 0 -1 0 0 0 0 0 x 2 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want one: %v", err, tc.bad)
			}
			if !tc.bad && (got < tc.want-1e-9 || got > tc.want+1e-9) {
				t.Errorf("got %v CPU seconds, want %v", got, tc.want)
			}
		})
	}
	if cpu, err := ReadCPU(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("own CPU time %v, %v", cpu, err)
	}
}

func TestProfileOf(t *testing.T) {
	at := func(ms int) string { return fmt.Sprintf("2030-01-01T00:00:%02d.%03dZ", ms/1000, ms%1000) }
	var lines []string
	// 3 Service creates and 1 status patch in the first second, each
	// answered 10 ms later; 2 Event creates in the next; a watch and
	// someone else's write that do not count.
	for i, r := range []struct{ verb, resource, sub string }{
		{"create", "services", ""}, {"create", "services", ""}, {"create", "services", ""}, {"patch", "memcacheds", "status"},
	} {
		lines = append(lines, auditTimed(r.verb, operatorUser, r.resource, r.sub, at(100*i), at(100*i+10)))
	}
	lines = append(lines,
		auditTimed("create", operatorUser, "events", "", at(1500), at(1540)),
		auditTimed("create", operatorUser, "events", "", at(1600), at(1700)),
		auditTimed("watch", operatorUser, "pods", "", at(0), at(5000)),
		auditTimed("create", "kubernetes-admin", "memcacheds", "", at(0), at(3000)),
	)
	events := readAuditLines(t, lines)
	p := ProfileOf(events, operatorUser)
	if p.Requests != 6 || p.PeakPerSecond != 4 || p.PeakResource != "services" || p.PeakResourcePerSecond != 3 {
		t.Errorf("profile %+v", p)
	}
	if p.WriteLatencyP50Millis != 10 || p.WriteLatencyP99Millis != 40 {
		t.Errorf("latencies p50 %v, p99 %v", p.WriteLatencyP50Millis, p.WriteLatencyP99Millis)
	}
	if p.MeanPerSecond < 3.5 || p.MeanPerSecond > 3.6 { // 6 requests in 1.7 s
		t.Errorf("mean rate %v", p.MeanPerSecond)
	}
	if (ProfileOf(nil, operatorUser) != Profile{}) {
		t.Error("the profile of nothing is not empty")
	}
}

// auditTimed is a completed request received at received and answered at
// done.
func auditTimed(verb, user, resource, subresource, received, done string) string {
	line := auditLine("ResponseComplete", verb, user, resource, subresource, "ns", "x", 201, received)
	return strings.Replace(line, `"stageTimestamp":"`+received+`"`, `"stageTimestamp":"`+done+`"`, 1)
}

func readAuditLines(t *testing.T, lines []string) []AuditEvent {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	events, err := NewAuditReader(path).Read()
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestWorkload(t *testing.T) {
	w := Workload{CRs: 25, Namespaces: 10, Size: 3}
	if ns := w.NamespaceNames("bench-01"); len(ns) != 10 || ns[0] != "bench-01-00" || ns[9] != "bench-01-09" {
		t.Errorf("namespaces %v", ns)
	}
	items := w.Items("bench-01")
	if len(items) != 25 || items[0] != (Item{"bench-01-00", "mc-0000", 3}) || items[11] != (Item{"bench-01-01", "mc-0011", 3}) {
		t.Errorf("items %v", items)
	}
	want := w.Want("bench-01")
	if len(want) != 25 || want["bench-01-04/mc-0024"] != 3 || w.Pods() != 75 {
		t.Errorf("want %v, pods %d", want, w.Pods())
	}
	mix := Workload{CRs: 4}
	if ns := mix.NamespaceNames("bench-02"); !slices.Equal(ns, []string{"bench-02"}) {
		t.Errorf("one namespace: %v", ns)
	}
	if want := mix.Want("bench-02"); want["bench-02/mc-0002"] != 3 || want["bench-02/mc-0003"] != 1 || mix.Pods() != 7 {
		t.Errorf("mix %v, pods %d", want, mix.Pods())
	}
	if s := w.String(); s != "25 Memcacheds of size 3 (75 pods) over 10 namespace(s)" {
		t.Errorf("String() = %q", s)
	}
}

func TestNodesIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name        string
		nodes, pods []string
		complete    bool
	}{
		{"same order", []string{"a", "b", "c"}, []string{"a", "b", "c"}, true},
		{"any order", []string{"c", "a", "b"}, []string{"b", "c", "a"}, true},
		{"a pod missing", []string{"a", "b"}, []string{"a", "b", "c"}, false},
		{"a gone pod", []string{"a", "b", "d"}, []string{"a", "b", "c"}, false},
		{"pods not cached yet", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodesIncomplete(tc.nodes, tc.pods, 3); (got == "") != tc.complete {
				t.Errorf("nodesIncomplete = %q, want complete: %v", got, tc.complete)
			}
		})
	}
}

// baselineRules is what the tutorial's controller does with the API (its
// kubebuilder markers, plus the watch of Pods that its cached List starts),
// as any controller of the Memcached API derived from it would.
var baselineRules = []struct{ group, resource, verb string }{
	{"cache.example.com", "memcacheds", "get"}, {"cache.example.com", "memcacheds", "list"}, {"cache.example.com", "memcacheds", "watch"},
	{"cache.example.com", "memcacheds/status", "update"},
	{"apps", "deployments", "get"}, {"apps", "deployments", "list"}, {"apps", "deployments", "watch"},
	{"apps", "deployments", "create"}, {"apps", "deployments", "update"},
	{"", "pods", "get"}, {"", "pods", "list"}, {"", "pods", "watch"},
}

// TestOurRoleCoversTheBaseline checks that the ClusterRole of config/rbac,
// which the bench binds to every operator it runs, lets a baseline derived
// from the tutorial do its work: the bench needs no RBAC of its own for it.
func TestOurRoleCoversTheBaseline(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		APIGroups []string `json:"apiGroups"`
		Resources []string `json:"resources"`
		Verbs     []string `json:"verbs"`
	}
	var role struct {
		Rules []rule `json:"rules"`
	}
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	for _, want := range baselineRules {
		if !slices.ContainsFunc(role.Rules, func(r rule) bool {
			return slices.Contains(r.APIGroups, want.group) && slices.Contains(r.Resources, want.resource) && slices.Contains(r.Verbs, want.verb)
		}) {
			t.Errorf("config/rbac/role.yaml does not allow %s %s.%s, which a baseline derived from the tutorial needs", want.verb, want.resource, want.group)
		}
	}
}
