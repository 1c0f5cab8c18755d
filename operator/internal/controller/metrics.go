package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Operator metrics beyond controller-runtime's, one series per Memcached,
// served on the manager's metrics endpoint.
var (
	desiredReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "memcached_operator_desired_replicas",
		Help: "Number of memcached pods a Memcached asks for (spec.size).",
	}, []string{"namespace", "name"})
	readyReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "memcached_operator_ready_replicas",
		Help: "Number of ready memcached pods of a Memcached (status.readyReplicas).",
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(desiredReplicas, readyReplicas)
}

// recordReplicas sets the gauges of the Memcached key.
func recordReplicas(key types.NamespacedName, desired, ready int32) {
	desiredReplicas.WithLabelValues(key.Namespace, key.Name).Set(float64(desired))
	readyReplicas.WithLabelValues(key.Namespace, key.Name).Set(float64(ready))
}

// forgetReplicas deletes the gauges of the Memcached key, once it is gone.
func forgetReplicas(key types.NamespacedName) {
	desiredReplicas.DeleteLabelValues(key.Namespace, key.Name)
	readyReplicas.DeleteLabelValues(key.Namespace, key.Name)
}
