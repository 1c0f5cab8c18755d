// Package controller reconciles Memcached resources into a memcached
// Deployment, its Services, PodDisruptionBudget, ServiceMonitor and
// PrometheusRule, and reports what runs back into the resource's status.
//
// Reconcile only orchestrates a list of phases, as cluster-api's controllers
// do. Each phase records what it observed into one observed value
// (observed.go): the Deployment as it now is, the pods, the objects in the
// way that the Memcached does not own, the requests that failed, and what was
// done. The Deployment's phase runs first; the phases of the objects that
// depend neither on it nor on each other run concurrently, each into an
// observed of its own merged in a fixed order (concurrently), so a reconcile
// takes its slowest create rather than the sum. What each object should look like comes from pure builders
// (deployment.go, service.go, ...), every owned kind takes the one
// create-compare-patch path of owned.go, and the status comes from pure
// functions of the observations (status.go), written once at the end; so
// builders and status are table-tested without an API server.
//
// It must not derive status from errors or from anything but the
// observations, write the status more than once per reconcile, or write an
// object it does not control.
package controller
