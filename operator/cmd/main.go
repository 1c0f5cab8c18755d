// Command manager runs the memcached operator: it wires flags, the scheme and
// the manager, registers the Memcached controller and blocks until signalled.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"os"
	"time"

	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/proxy"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
	"github.com/example-inc/memcached-operator/operator/internal/health"
	"github.com/example-inc/memcached-operator/operator/internal/platform"
	"github.com/example-inc/memcached-operator/operator/internal/scope"
	"github.com/example-inc/memcached-operator/operator/internal/upgradeable"
)

// relatedImageEnv and relatedExporterImageEnv name the memcached and
// exporter images OLM lists in relatedImages.
const (
	relatedImageEnv         = "RELATED_IMAGE_MEMCACHED"
	relatedExporterImageEnv = "RELATED_IMAGE_MEMCACHED_EXPORTER"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cachev1.AddToScheme(scheme))
	utilruntime.Must(apiv2.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr             string
		secureMetrics           bool
		enableHTTP2             bool
		probeAddr               string
		enableLeaderElection    bool
		leaderElectionNamespace string
		maxConcurrentReconciles int
		qps                     float64
		burst                   int
		monitoringRecheck       time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS with authentication and authorization.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics server (off by default: CVE-2023-44487, CVE-2023-39325).")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. Enabling this will ensure there is only one active controller manager.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election lease; defaults to the operator's own namespace in a cluster.")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 8, "How many Memcacheds are reconciled at once.")
	flag.Float64Var(&qps, "kube-api-qps", 50, "Queries per second the operator may send to the API server.")
	flag.IntVar(&burst, "kube-api-burst", 100, "Burst of queries the operator may send to the API server.")
	flag.DurationVar(&monitoringRecheck, "monitoring-recheck-interval", time.Minute,
		"How often to ask whether the Prometheus Operator's APIs appeared or went; the operator exits (to be restarted) when they did.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	namespaces, err := scope.ParseNamespaces(os.Getenv(scope.WatchNamespaceEnv))
	if err != nil {
		setupLog.Error(err, "Unable to read the namespaces to watch")
		os.Exit(1)
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(qps), burst

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	// What the cluster serves decides what the cache holds and the
	// controller watches: ask once, before the manager starts.
	discoveryClient := discovery.NewDiscoveryClientForConfigOrDie(restConfig)
	openShift, err := platform.IsOpenShift(discoveryClient)
	if err != nil {
		setupLog.Error(err, "Unable to detect the platform")
		os.Exit(1)
	}
	monitoring, err := platform.DiscoverMonitoring(discoveryClient)
	if err != nil {
		setupLog.Error(err, "Unable to detect the monitoring APIs")
		os.Exit(1)
	}

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme,
		Cache:  scope.CacheOptions(namespaces, controller.ManagedSelector(), controller.CachedObjects(monitoring.ServiceMonitors, monitoring.PrometheusRules)),
		// ServiceMonitors and PrometheusRules are handled as unstructured
		// objects: read them from the cache too.
		Client:                        client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Metrics:                       metricsOptions,
		WebhookServer:                 webhook.NewServer(webhook.Options{TLSOpts: tlsOpts}),
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                enableLeaderElection,
		LeaderElectionID:              "memcached-operator.cache.example.com",
		LeaderElectionNamespace:       leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "Unable to create manager")
		os.Exit(1)
	}

	operand := controller.OperandOptions{
		DefaultImage:         os.Getenv(relatedImageEnv),
		DefaultExporterImage: os.Getenv(relatedExporterImageEnv),
		ProxyEnv:             proxy.ReadProxyVarsFromEnv(),
	}
	if !openShift {
		operand.RunAsUser = ptr.To(controller.MemcachedImageUID)
	}

	if err := (&controller.MemcachedReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder(controller.ManagerName),
		Operand:                 operand,
		ServiceMonitors:         monitoring.ServiceMonitors,
		PrometheusRules:         monitoring.PrometheusRules,
		MaxConcurrentReconciles: maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Unable to create controller", "controller", "Memcached")
		os.Exit(1)
	}

	if err := setupUpgradeable(mgr, restConfig); err != nil {
		setupLog.Error(err, "Unable to create controller", "controller", "upgradeable")
		os.Exit(1)
	}

	if err := mgr.Add(&platform.MonitoringWatch{Discovery: discoveryClient, Started: monitoring, Interval: monitoringRecheck}); err != nil {
		setupLog.Error(err, "Unable to watch the monitoring APIs")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", health.CacheSynced(mgr.GetCache())); err != nil {
		setupLog.Error(err, "Unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager", "namespaces", namespaces, "openShift", openShift, "monitoring", monitoring,
		"defaultImage", operand.DefaultImage, "defaultExporterImage", operand.DefaultExporterImage)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		if errors.Is(err, platform.ErrMonitoringAPIsChanged) {
			// Not a failure: the Deployment starts it again, and the new
			// process caches and watches what the cluster now serves.
			setupLog.Info("Exiting to restart with the monitoring APIs the cluster now serves", "reason", err.Error())
			os.Exit(0)
		}
		setupLog.Error(err, "Problem running manager")
		os.Exit(1)
	}
}

// setupUpgradeable reports the Upgradeable operator condition under OLM. The
// OperatorCondition lives in the operator's own namespace, which the cache may
// not watch, so it is read and written without the cache.
func setupUpgradeable(mgr ctrl.Manager, restConfig *rest.Config) error {
	direct, err := client.New(restConfig, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}
	condition, err := upgradeable.FromEnvironment(direct)
	if err != nil || condition == nil {
		return err
	}
	return (&upgradeable.Reconciler{Client: mgr.GetClient(), Condition: condition}).SetupWithManager(mgr)
}
