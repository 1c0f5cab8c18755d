package options

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	o, err := Parse(nil, io.Discard)
	if err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
	if o.MetricsAddr != "0" || !o.SecureMetrics || o.EnableHTTP2 || o.ProbeAddr != ":8081" || o.LeaderElect ||
		o.MaxConcurrentReconciles != 8 || o.QPS != 50 || o.Burst != 100 || o.MonitoringRecheckInterval != time.Minute {
		t.Errorf("defaults %+v", o)
	}
}

// The values the project's own manifests and tools pass must stay valid.
func TestParseAccepts(t *testing.T) {
	for _, args := range [][]string{
		{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443"},
		{"--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0", "--metrics-secure=false"},
		{"--metrics-bind-address=[::1]:8443", "--leader-election-namespace=memcached-operator-system"},
		{"--kube-api-qps=0.5", "--kube-api-burst=1", "--max-concurrent-reconciles=1"},
		{"--monitoring-recheck-interval=1s", "--zap-log-level=debug", "--zap-devel"},
	} {
		if _, err := Parse(args, io.Discard); err != nil {
			t.Errorf("%v refused: %v", args, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct {
		args []string
		// want are the flags the error must name.
		want []string
	}{
		{[]string{"--monitoring-recheck-interval=0"}, []string{"--monitoring-recheck-interval"}},
		{[]string{"--monitoring-recheck-interval=-1m"}, []string{"--monitoring-recheck-interval"}},
		{[]string{"--monitoring-recheck-interval=10ms"}, []string{"--monitoring-recheck-interval"}},
		{[]string{"--max-concurrent-reconciles=0"}, []string{"--max-concurrent-reconciles"}},
		{[]string{"--max-concurrent-reconciles=-3"}, []string{"--max-concurrent-reconciles"}},
		{[]string{"--kube-api-qps=0"}, []string{"--kube-api-qps"}},
		{[]string{"--kube-api-qps=-1"}, []string{"--kube-api-qps"}},
		{[]string{"--kube-api-qps=NaN"}, []string{"--kube-api-qps"}},
		{[]string{"--kube-api-qps=1e300"}, []string{"--kube-api-qps"}},
		{[]string{"--kube-api-burst=0"}, []string{"--kube-api-burst"}},
		{[]string{"--kube-api-burst=-10"}, []string{"--kube-api-burst"}},
		{[]string{"--metrics-bind-address=8443"}, []string{"--metrics-bind-address"}},
		{[]string{"--metrics-bind-address=:https"}, []string{"--metrics-bind-address"}},
		{[]string{"--health-probe-bind-address=:70000"}, []string{"--health-probe-bind-address"}},
		{[]string{"--health-probe-bind-address="}, []string{"--health-probe-bind-address"}},
		{[]string{"--leader-election-namespace=Not_A_Namespace"}, []string{"--leader-election-namespace"}},
		// Every problem at once, not the first only.
		{
			[]string{"--max-concurrent-reconciles=0", "--kube-api-qps=-1", "--kube-api-burst=0", "--monitoring-recheck-interval=0"},
			[]string{"--max-concurrent-reconciles", "--kube-api-qps", "--kube-api-burst", "--monitoring-recheck-interval"},
		},
		// What the flag package refuses names the flag too.
		{[]string{"--max-concurrent-reconciles=many"}, []string{"-max-concurrent-reconciles"}},
		{[]string{"--zap-log-level=loud"}, []string{"-zap-log-level"}},
		{[]string{"--no-such-flag"}, []string{"-no-such-flag"}},
		{[]string{"extra"}, []string{`"extra"`}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := Parse(tt.args, io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	var out strings.Builder
	if _, err := Parse([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-monitoring-recheck-interval") {
		t.Errorf("usage does not list the flags:\n%s", out.String())
	}
}
