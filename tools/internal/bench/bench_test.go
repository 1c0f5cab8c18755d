package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const operatorUser = "system:serviceaccount:memcached-operator-system:memcached-operator-controller-manager"

// auditLine is one audit event as the API server writes it.
func auditLine(stage, verb, user, resource, subresource, namespace, name string, code int, at string) string {
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "x",
		"stage": stage, "verb": verb, "user": map[string]any{"username": user, "groups": []string{"system:authenticated"}},
		"objectRef":                map[string]any{"resource": resource, "subresource": subresource, "namespace": namespace, "name": name},
		"requestReceivedTimestamp": at, "stageTimestamp": at,
	}
	if stage == "ResponseComplete" {
		ev["responseStatus"] = map[string]any{"metadata": map[string]any{}, "code": code}
	}
	data, _ := json.Marshal(ev)
	return string(data) + "\n"
}

func TestAuditReaderCountsCompletedWritesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	lines := []string{
		auditLine("RequestReceived", "create", operatorUser, "deployments", "", "ns", "a", 0, "2030-01-01T00:00:00.000001Z"),
		auditLine("ResponseComplete", "create", operatorUser, "deployments", "", "ns", "a", 201, "2030-01-01T00:00:00.000002Z"),
		auditLine("ResponseComplete", "patch", operatorUser, "memcacheds", "status", "ns", "a", 200, "2030-01-01T00:00:00.000003Z"),
		auditLine("ResponseComplete", "create", operatorUser, "deployments", "", "ns", "a", 409, "2030-01-01T00:00:00.000004Z"),
		auditLine("ResponseComplete", "get", operatorUser, "deployments", "", "ns", "a", 200, "2030-01-01T00:00:00.000005Z"),
		auditLine("ResponseComplete", "create", "kubernetes-admin", "memcacheds", "", "ns", "a", 201, "2030-01-01T00:00:00.000006Z"),
		auditLine("ResponseComplete", "create", operatorUser, "events", "", "other", "e", 201, "2030-01-01T00:00:00.000007Z"),
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines[:3], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	r := NewAuditReader(path)
	first, err := r.Read()
	if err != nil || len(first) != 3 {
		t.Fatalf("first read: %d events, %v", len(first), err)
	}

	// The rest arrives later, the last line still being written.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	rest := strings.Join(lines[3:], "")
	if _, err := f.WriteString(rest[:len(rest)-10]); err != nil {
		t.Fatal(err)
	}
	second, err := r.Read()
	if err != nil || len(second) != 3 {
		t.Fatalf("second read: %d events, %v; want the 3 complete lines", len(second), err)
	}
	if _, err := f.WriteString(rest[len(rest)-10:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	third, err := r.Read()
	if err != nil || len(third) != 1 {
		t.Fatalf("third read: %d events, %v; want the line completed since", len(third), err)
	}

	all := append(append(first, second...), third...)
	c := CountMutating(all, "", operatorUser)
	if c.Total != 4 || c.Failed != 1 {
		t.Errorf("counted %d writes, %d refused; want 4 and 1: %s", c.Total, c.Failed, c)
	}
	if c.ByKind["create deployments"] != 2 || c.ByKind["patch memcacheds/status"] != 1 || c.ByKind["create events"] != 1 {
		t.Errorf("by kind: %v", c.ByKind)
	}
	if n := c.Without("events"); n != 3 {
		t.Errorf("without events: %d, want 3", n)
	}
	if c := CountMutating(all, "ns", operatorUser); c.Total != 3 {
		t.Errorf("in ns: %d writes, want 3", c.Total)
	}
	if c := CountMutating(all, ""); c.Total != 5 {
		t.Errorf("everyone's writes: %d, want 5", c.Total)
	}
	if s := c.String(); !strings.HasPrefix(s, "create deployments: 2") || !strings.HasSuffix(s, "(1 refused)") {
		t.Errorf("String() = %q", s)
	}

	spans := Writers(all, operatorUser, "kubernetes-admin")
	if s := spans[operatorUser]; s.Count != 4 || s.First.Nanosecond() != 2000 || s.Last.Nanosecond() != 7000 {
		t.Errorf("operator span %+v", s)
	}
	if s := spans["kubernetes-admin"]; s.Count != 1 {
		t.Errorf("admin span %+v", s)
	}
}

func TestAuditReaderSkip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	r := NewAuditReader(path)
	if err := r.Skip(); err != nil {
		t.Fatalf("skipping a log not written yet: %v", err)
	}
	if events, err := r.Read(); err != nil || len(events) != 0 {
		t.Fatalf("reading a log not written yet: %v, %v", events, err)
	}
	line := auditLine("ResponseComplete", "update", operatorUser, "deployments", "", "ns", "a", 200, "2030-01-01T00:00:00Z")
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	if events, err := r.Read(); err != nil || len(events) != 0 {
		t.Fatalf("after Skip: %d events, %v", len(events), err)
	}
	if err := os.WriteFile(path, []byte("not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewAuditReader(path).Read(); err == nil {
		t.Error("a malformed line was not reported")
	}
}

func TestReadProcStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	data := "Name:\tmanager\nVmPeak:\t 1000 kB\nVmHWM:\t   70000 kB\nVmRSS:\t   65536 kB\nThreads:\t12\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := readProcStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 64<<20 || m.HWM != 70000*1024 {
		t.Errorf("got %+v", m)
	}
	if MiB(m.RSS) != "64.0 MiB" {
		t.Errorf("MiB = %s", MiB(m.RSS))
	}
	own, err := ReadMemory(os.Getpid())
	if err != nil || own.RSS == 0 || own.HWM < own.RSS {
		t.Errorf("own memory %+v, %v", own, err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := "# HELP go_memstats_heap_inuse_bytes x\n# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes 1.2582912e+07\ngo_goroutines 42\n" +
		"rest_client_requests_total{code=\"200\",host=\"h\",method=\"GET\"} 7\nrest_client_requests_total{code=\"201\",host=\"h\",method=\"POST\"} 3\nrest_client_requests_total_other 1\n"
	got, err := parseMetrics(bufio.NewScanner(strings.NewReader(text)), []string{"go_memstats_heap_inuse_bytes", "go_goroutines", "rest_client_requests_total"})
	if err != nil {
		t.Fatal(err)
	}
	if got["go_memstats_heap_inuse_bytes"] != 12<<20 || got["go_goroutines"] != 42 || got["rest_client_requests_total"] != 10 || len(got) != 3 {
		t.Errorf("got %v", got)
	}
}

func TestParseSettingsAndCounts(t *testing.T) {
	s, err := ParseSettings(" 1/50, 8/100/150,")
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{{1, 50, 100}, {8, 100, 150}}
	if len(s) != 2 || s[0] != want[0] || s[1] != want[1] {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if got := strings.Join(s[0].Args(), " "); got != "--max-concurrent-reconciles=1 --kube-api-qps=50 --kube-api-burst=100" {
		t.Errorf("args %q", got)
	}
	for _, bad := range []string{"4", "0/50", "4/0", "4/x", "4/50/0", "1/2/3/4"} {
		if _, err := ParseSettings(bad); err == nil {
			t.Errorf("ParseSettings(%q) accepted", bad)
		}
	}
	if s, err := ParseSettings(""); err != nil || len(s) != 0 {
		t.Errorf("empty: %v, %v", s, err)
	}
	n, err := ParseCounts("100, 500")
	if err != nil || len(n) != 2 || n[0] != 100 || n[1] != 500 {
		t.Errorf("ParseCounts: %v, %v", n, err)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		if _, err := ParseCounts(bad); err == nil {
			t.Errorf("ParseCounts(%q) accepted", bad)
		}
	}
}

func TestSizes(t *testing.T) {
	if got := []int32{SizeFor(0), SizeFor(1), SizeFor(2), SizeFor(3)}; got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 1 {
		t.Errorf("sizes %v", got)
	}
	if TotalPods(100) != 199 || TotalPods(500) != 999 {
		t.Errorf("pods for 100: %d, for 500: %d", TotalPods(100), TotalPods(500))
	}
	// 500 Memcacheds of up to 3 pods need at least 4 Nodes of 500 pods.
	if NodesFor(500) < 4 || NodesFor(10) < 2 {
		t.Errorf("nodes for 500: %d, for 10: %d", NodesFor(500), NodesFor(10))
	}
	w := WantFor(4)
	if len(w) != 4 || w["mc-0003"] != 1 || w["mc-0002"] != 3 {
		t.Errorf("want %v", w)
	}
}

func TestConvergencePercentiles(t *testing.T) {
	c := Convergence{
		First:    map[string]time.Duration{"a": 3 * time.Second, "b": 5 * time.Second, "c": 4 * time.Second},
		Deployed: map[string]time.Duration{"a": time.Second, "b": 2 * time.Second, "c": time.Second},
		Ready:    map[string]time.Duration{"a": 3 * time.Second, "b": 3 * time.Second, "c": 3500 * time.Millisecond},
	}
	if c.Percentile(50) != 4*time.Second || c.Percentile(100) != 5*time.Second || c.Percentile(0) != 3*time.Second {
		t.Errorf("percentiles %s %s %s", c.Percentile(0), c.Percentile(50), c.Percentile(100))
	}
	if c.AllDeployed() != 2*time.Second {
		t.Errorf("all deployed at %s", c.AllDeployed())
	}
	if c.StatusLag(50) != 500*time.Millisecond || c.StatusLag(100) != 2*time.Second {
		t.Errorf("status lag p50 %s, max %s", c.StatusLag(50), c.StatusLag(100))
	}
	if (Convergence{}).Percentile(50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestReport(t *testing.T) {
	r := &Report{
		Machine:  Machine{CPUs: 2, LoadBefore: 5, Nodes: 4},
		Settings: DefaultSetting,
		Runs: []*RunResult{{CRs: 100, Pods: 199, ConvergeSeconds: 7.25, Writes: Requests{Total: 500, ByKind: map[string]int{"create deployments": 100}},
			WritesPerCR: 5, IdleSeconds: 60, IdleWrites: &Requests{}, Memory: Memory{RSS: 64 << 20}}},
		Memory: &MemoryResult{CRs: 100, Unrelated: 10000, Before: Memory{RSS: 64 << 20}, After: Memory{RSS: 65 << 20}, RSSChange: 1.6},
		Sweep:  []*RunResult{{CRs: 100, Setting: Setting{1, 20, 40}, ConvergeSeconds: 12}},
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"other processes competed", "| 100 | 199 |", "0 in 60 s", "+1.6 %", "| 1 | 20 | 40 |", "reconciles=8 qps=50 burst=100"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Runs[0].ConvergeSeconds != 7.25 || back.Memory.Unrelated != 10000 {
		t.Errorf("JSON round trip: %v, %+v", err, back)
	}
}
