package options

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// MinMonitoringRecheckInterval is the shortest --monitoring-recheck-interval:
// each recheck is a discovery request to the API server.
const MinMonitoringRecheckInterval = time.Second

// Options are the manager's settings from its command line.
type Options struct {
	// MetricsAddr is where the metrics endpoint binds; "0" turns it off.
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS with authentication and
	// authorization.
	SecureMetrics bool
	// EnableHTTP2 allows HTTP/2 on the metrics and webhook servers.
	EnableHTTP2 bool
	// ProbeAddr is where the health probes bind; "0" turns them off.
	ProbeAddr string
	// LeaderElect runs leader election before reconciling.
	LeaderElect bool
	// LeaderElectionNamespace holds the lease; empty: the operator's own.
	LeaderElectionNamespace string
	// MaxConcurrentReconciles is how many Memcacheds reconcile at once.
	MaxConcurrentReconciles int
	// QPS and Burst limit the operator's requests to the API server.
	QPS   float64
	Burst int
	// MonitoringRecheckInterval is how often the operator asks whether the
	// Prometheus Operator's APIs appeared or went.
	MonitoringRecheckInterval time.Duration
	// Zap are the logger's settings (--zap-*).
	Zap zap.Options
}

// Parse reads args (the command line without the program's name). It
// returns flag.ErrHelp for -h or --help, after printing the usage to out,
// and otherwise an error naming every flag whose value is wrong.
func Parse(args []string, out io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	// The caller reports errors; only a request for help prints the usage.
	fs.SetOutput(io.Discard)
	o.bind(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fmt.Fprintln(out, "Usage of manager:")
			fs.PrintDefaults()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: the manager takes flags only", fs.Arg(0))
	}
	return o, o.Validate()
}

// bind defines every flag on fs, with its default, into o.
func (o *Options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS with authentication and authorization.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics server (off by default: CVE-2023-44487, CVE-2023-39325).")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to, or 0 to disable it.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false,
		"Enable leader election for controller manager. Enabling this will ensure there is only one active controller manager.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election lease; defaults to the operator's own namespace in a cluster.")
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", 8, "How many Memcacheds are reconciled at once (at least 1).")
	fs.Float64Var(&o.QPS, "kube-api-qps", 50, "Queries per second the operator may send to the API server (more than 0).")
	fs.IntVar(&o.Burst, "kube-api-burst", 100, "Burst of queries the operator may send to the API server (at least 1).")
	fs.DurationVar(&o.MonitoringRecheckInterval, "monitoring-recheck-interval", time.Minute,
		"How often to ask whether the Prometheus Operator's APIs appeared or went; the operator exits (to be restarted) when they did. "+
			"At least "+MinMonitoringRecheckInterval.String()+".")
	o.Zap.BindFlags(fs)
}

// Validate reports every setting the manager cannot run with, each error
// naming its flag.
func (o Options) Validate() error {
	var errs []error
	check := func(ok bool, flagName, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("--%s: %s", flagName, fmt.Sprintf(format, args...)))
		}
	}
	check(bindAddressOK(o.MetricsAddr), "metrics-bind-address", "%q is not 0 nor [host]:port", o.MetricsAddr)
	check(bindAddressOK(o.ProbeAddr), "health-probe-bind-address", "%q is not 0 nor [host]:port", o.ProbeAddr)
	check(o.MaxConcurrentReconciles >= 1, "max-concurrent-reconciles", "%d, want at least 1", o.MaxConcurrentReconciles)
	// client-go takes a QPS of 0 for its default (5) and a negative one for
	// no limit at all: neither is what a user who typed it meant.
	check(o.QPS > 0 && o.QPS <= math.MaxFloat32, "kube-api-qps", "%v, want more than 0", o.QPS)
	// A token bucket of burst 0 lets no request through.
	check(o.Burst >= 1, "kube-api-burst", "%d, want at least 1", o.Burst)
	// time.NewTicker panics on an interval of 0 or less.
	check(o.MonitoringRecheckInterval >= MinMonitoringRecheckInterval, "monitoring-recheck-interval",
		"%s, want at least %s", o.MonitoringRecheckInterval, MinMonitoringRecheckInterval)
	if ns := o.LeaderElectionNamespace; ns != "" {
		problems := validation.IsDNS1123Label(ns)
		check(len(problems) == 0, "leader-election-namespace", "%q is not a namespace name: %v", ns, problems)
	}
	return errors.Join(errs...)
}

// bindAddressOK accepts what the metrics and probe servers can listen on:
// "0" (off), or a host and a numeric port, the host possibly empty.
func bindAddressOK(addr string) bool {
	if addr == "0" {
		return true
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n <= math.MaxUint16
}
