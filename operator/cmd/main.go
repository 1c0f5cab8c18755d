// Command manager runs the memcached operator: it wires flags, the scheme and
// the manager, registers the Memcached controller and blocks until signalled.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
	"github.com/example-inc/memcached-operator/operator/internal/health"
	"github.com/example-inc/memcached-operator/operator/internal/leaderguard"
	"github.com/example-inc/memcached-operator/operator/internal/options"
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
	// rest_client_rate_limiter_duration_seconds: how long requests waited
	// for the client-side limiter (--kube-api-qps, --kube-api-burst), so
	// that whether that budget bounds a rollout is read, not guessed
	// (docs/performance.md). Two labels, verb and host: a few series.
	metrics.RegisterRESTClientMetrics(metrics.MetricRateLimiterLatency)
}

func main() {
	opts, err := options.Parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		// Before anything starts, and with flag's own exit status.
		fmt.Fprintf(os.Stderr, "manager: invalid command line:\n%v\n", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.Zap)))

	namespaces, err := scope.ParseNamespaces(os.Getenv(scope.WatchNamespaceEnv))
	if err != nil {
		setupLog.Error(err, "Unable to read the namespaces to watch")
		os.Exit(1)
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(opts.QPS), opts.Burst
	// controller-runtime's defaults, spelled out: the write guard uses the
	// renew deadline.
	leaseDuration, renewDeadline, retryPeriod := 15*time.Second, 10*time.Second, 2*time.Second
	if opts.LeaderElect {
		// A replica whose Lease may have been taken writes nothing.
		restConfig.Wrap(leaderguard.New(renewDeadline).Wrap)
	}

	var tlsOpts []func(*tls.Config)
	if !opts.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{
		BindAddress:   opts.MetricsAddr,
		SecureServing: opts.SecureMetrics,
		TLSOpts:       tlsOpts,
	}
	if opts.SecureMetrics {
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
		HealthProbeBindAddress:        opts.ProbeAddr,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              "memcached-operator.cache.example.com",
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
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
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Unable to create controller", "controller", "Memcached")
		os.Exit(1)
	}

	if err := setupUpgradeable(mgr, restConfig); err != nil {
		setupLog.Error(err, "Unable to create controller", "controller", "upgradeable")
		os.Exit(1)
	}

	if err := mgr.Add(&platform.MonitoringWatch{Discovery: discoveryClient, Started: monitoring, Interval: opts.MonitoringRecheckInterval}); err != nil {
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
