package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// Event reasons the reconciler reports on a Memcached.
const (
	EventDeploymentCreated  = "DeploymentCreated"
	EventDeploymentScaled   = "DeploymentScaled"
	EventDeploymentUpdated  = "DeploymentUpdated"
	EventReconcileFailed    = "ReconcileFailed"
	EventDeploymentNotOwned = "DeploymentNotOwned"

	EventServiceCreated  = "ServiceCreated"
	EventServiceUpdated  = "ServiceUpdated"
	EventServiceNotOwned = "ServiceNotOwned"

	EventPodDisruptionBudgetCreated  = "PodDisruptionBudgetCreated"
	EventPodDisruptionBudgetUpdated  = "PodDisruptionBudgetUpdated"
	EventPodDisruptionBudgetDeleted  = "PodDisruptionBudgetDeleted"
	EventPodDisruptionBudgetNotOwned = "PodDisruptionBudgetNotOwned"

	EventServiceMonitorCreated  = "ServiceMonitorCreated"
	EventServiceMonitorUpdated  = "ServiceMonitorUpdated"
	EventServiceMonitorDeleted  = "ServiceMonitorDeleted"
	EventServiceMonitorNotOwned = "ServiceMonitorNotOwned"
)

// MemcachedReconciler runs each Memcached as a Deployment of memcached pods,
// with its Services, PodDisruptionBudget, ServiceMonitor and PrometheusRule.
type MemcachedReconciler struct {
	Client client.Client
	Scheme *runtime.Scheme
	// APIReader reads around the cache (mgr.GetAPIReader()).
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Operand   OperandOptions
	// ServiceMonitors tells whether the cluster serves the Prometheus
	// Operator's ServiceMonitor API (detected once at start): only then does
	// the reconciler watch, create or delete ServiceMonitors.
	ServiceMonitors bool
	// PrometheusRules, likewise, for the PrometheusRule API: the alerts of
	// a monitored Memcached.
	PrometheusRules bool
	// MaxConcurrentReconciles is how many Memcacheds reconcile at once.
	MaxConcurrentReconciles int

	// created are the objects created that the cache does not show yet.
	created createdObjects
}

// CachedObjects are the kinds the reconciler reads and watches of which the
// manager's cache needs only the operator's own, selected by
// ManagedSelector: every kind it creates, and the pods.
func CachedObjects(serviceMonitors, prometheusRules bool) []client.Object {
	objs := []client.Object{&appsv1.Deployment{}, &corev1.Pod{}, &corev1.Service{}, &policyv1.PodDisruptionBudget{}}
	if serviceMonitors {
		objs = append(objs, newServiceMonitor())
	}
	if prometheusRules {
		objs = append(objs, newPrometheusRule())
	}
	return objs
}

// +kubebuilder:rbac:groups=cache.example.com,resources=memcacheds,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.example.com,resources=memcacheds/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.example.com,resources=memcacheds/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=core,resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=core,resources=services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=prometheusrules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Memcached's Deployment, Services, PodDisruptionBudget,
// ServiceMonitor and PrometheusRule to its spec. Each phase records what it
// observed; the status is computed from those observations alone and
// written, when it changed, once at the end.
func (r *MemcachedReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	m := &cachev1.Memcached{}
	if err := r.Client.Get(ctx, req.NamespacedName, m); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted: garbage collection removes what it owned.
			forgetReplicas(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !m.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	obs := &observed{}
	// The Deployment first: it alone decides readiness, so its pods start
	// while the other objects are written. These depend neither on it nor
	// on each other and are written concurrently: a first reconcile then
	// takes its slowest create (the ClusterIP Service's, whose address the
	// API server allocates) instead of the sum of four, and a worker is
	// free sooner for the next Memcached (docs/performance.md, "Where the
	// time goes").
	r.reconcileDeployment(ctx, m, obs)
	concurrently(ctx, m, obs, append(r.serviceReconciles(m),
		r.reconcilePodDisruptionBudget,
		r.reconcileServiceMonitor,
		r.reconcilePrometheusRule,
	)...)
	r.observePods(ctx, m, obs) // last: the status reports the pods as they are now

	status := computeStatus(m, *obs, metav1.Now())
	recordReplicas(req.NamespacedName, m.Spec.Size, status.ReadyReplicas)
	r.report(m, obs, m.Status, status)
	// An error, a failure or an object in the way, has controller-runtime
	// retry the Memcached after a delay that doubles with every failure.
	err := obs.err(m.Name)
	if werr := r.writeStatus(ctx, m, status); werr != nil {
		err = errors.Join(err, werr)
	}
	return ctrl.Result{}, err
}

// reconcileDeployment creates m's Deployment or brings it back to what m
// asks for, and records it as it now is.
func (r *MemcachedReconciler) reconcileDeployment(ctx context.Context, m *cachev1.Memcached, obs *observed) {
	if d, ok := deployments.ensure(ctx, r, m, DesiredDeployment(m, r.Operand), obs); ok {
		obs.deployment = d
	}
}

// phase is one step of a reconcile: it brings one object of m's to its spec
// and records in obs what it observed and did.
type phase func(context.Context, *cachev1.Memcached, *observed)

// concurrently runs phases at once, each recording into an observed of its
// own, and then adds their records to obs in the order the phases are
// given, so that Events, errors and the status come out as if they had run
// one after another. The phases must not depend on each other's effects.
func concurrently(ctx context.Context, m *cachev1.Memcached, obs *observed, phases ...phase) {
	each := make([]observed, len(phases))
	var wg sync.WaitGroup
	for i, p := range phases {
		wg.Go(func() { p(ctx, m, &each[i]) })
	}
	wg.Wait()
	for _, o := range each {
		obs.add(o)
	}
}

// serviceReconciles are the phases that create or restore m's ClusterIP and
// headless Services, one each.
func (r *MemcachedReconciler) serviceReconciles(m *cachev1.Memcached) []phase {
	var phases []phase
	for _, desired := range DesiredServices(m) {
		phases = append(phases, func(ctx context.Context, m *cachev1.Memcached, obs *observed) {
			services.ensure(ctx, r, m, desired, obs)
		})
	}
	return phases
}

// reconcilePodDisruptionBudget creates or restores m's PodDisruptionBudget,
// or deletes it when m has become too small for one.
func (r *MemcachedReconciler) reconcilePodDisruptionBudget(ctx context.Context, m *cachev1.Memcached, obs *observed) {
	if desired := DesiredPodDisruptionBudget(m); desired != nil {
		podDisruptionBudgets.ensure(ctx, r, m, desired, obs)
		return
	}
	podDisruptionBudgets.remove(ctx, r, m, PodDisruptionBudgetName(m), obs)
}

// reconcileServiceMonitor creates or restores m's ServiceMonitor while its
// monitoring is on, and deletes it otherwise. Without the ServiceMonitor API
// it does nothing: the exporter still serves metrics for other scrapers.
func (r *MemcachedReconciler) reconcileServiceMonitor(ctx context.Context, m *cachev1.Memcached, obs *observed) {
	r.reconcileMonitoringObject(ctx, m, obs, r.ServiceMonitors, serviceMonitors, DesiredServiceMonitor(m), ServiceMonitorName(m))
}

// reconcilePrometheusRule creates or restores m's alerts while its monitoring
// is on, and deletes them otherwise; without the PrometheusRule API it does
// nothing.
func (r *MemcachedReconciler) reconcilePrometheusRule(ctx context.Context, m *cachev1.Memcached, obs *observed) {
	r.reconcileMonitoringObject(ctx, m, obs, r.PrometheusRules, prometheusRules, DesiredPrometheusRule(m), PrometheusRuleName(m))
}

// reconcileMonitoringObject does nothing where the cluster does not serve
// the kind, deletes m's object called name when desired is nil (monitoring
// off), and otherwise creates or restores it. The Prometheus Operator's
// kinds are unstructured: the operator depends on no Go module of theirs.
func (r *MemcachedReconciler) reconcileMonitoringObject(ctx context.Context, m *cachev1.Memcached, obs *observed,
	served bool, kind ownedKind[*unstructured.Unstructured], desired *unstructured.Unstructured, name string,
) {
	switch {
	case !served:
	case desired == nil:
		kind.remove(ctx, r, m, name, obs)
	default:
		kind.ensure(ctx, r, m, desired, obs)
	}
}

// observePods records the pods labelled as m's.
func (r *MemcachedReconciler) observePods(ctx context.Context, m *cachev1.Memcached, obs *observed) {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(m.Namespace), client.MatchingLabels(objectLabels(m.Name))); err != nil {
		obs.fail("list", "pods of memcached", m.Name, nil, err)
		return
	}
	obs.pods = pods.Items
}

// report sends the Events of what this reconcile did, and the Warnings of
// what it could not do when the Degraded condition changed with them: a
// retry that fails as the one before did reports nothing new.
func (r *MemcachedReconciler) report(m *cachev1.Memcached, obs *observed, before, after cachev1.MemcachedStatus) {
	notes := obs.done
	if degradedChanged(before, after) {
		notes = append(notes, obs.warnings()...)
	}
	if r.Recorder == nil {
		return
	}
	for _, n := range notes {
		r.Recorder.Eventf(m, n.related, n.eventType, n.reason, n.action, "%s", n.message)
	}
}

// writeStatus patches status only when it changed, so a steady state costs
// no write.
func (r *MemcachedReconciler) writeStatus(ctx context.Context, m *cachev1.Memcached, status cachev1.MemcachedStatus) error {
	if equality.Semantic.DeepEqual(m.Status, status) {
		return nil
	}
	before := m.DeepCopy()
	m.Status = status
	if err := r.Client.Status().Patch(ctx, m, client.MergeFrom(before), client.FieldOwner(ManagerName)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("writing status of memcached %s: %w", m.Name, err)
	}
	return nil
}

// SetupWithManager watches Memcacheds, the objects they own, and their pods,
// whose names, readiness and IPs status reports. ServiceMonitors and
// PrometheusRules are watched only where the cluster serves them.
func (r *MemcachedReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		// Our own status writes change no generation and need no reconcile.
		For(&cachev1.Memcached{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{})
	if r.ServiceMonitors {
		b = b.Owns(newServiceMonitor())
	}
	if r.PrometheusRules {
		b = b.Owns(newPrometheusRule())
	}
	return b.
		Watches(&corev1.Pod{},
			handler.EnqueueRequestsFromMapFunc(podToMemcached),
			builder.WithPredicates(podLifecycleChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("memcached").
		Complete(r)
}

// podToMemcached maps a memcached pod to the Memcached named by its instance
// label. Pods are owned by ReplicaSets, not by the Memcached, so owner
// references cannot lead there.
func podToMemcached(_ context.Context, o client.Object) []ctrl.Request {
	l := o.GetLabels()
	if l[NameLabel] != AppName || l[ManagedByLabel] != ManagerName || l[InstanceLabel] == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[InstanceLabel]}}}
}

// podLifecycleChanged passes pod events that can change status: creation,
// deletion, and updates of phase, readiness, IP, labels or deletion.
func podLifecycleChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldPod, okOld := e.ObjectOld.(*corev1.Pod)
			newPod, okNew := e.ObjectNew.(*corev1.Pod)
			if !okOld || !okNew {
				return true
			}
			return oldPod.Status.Phase != newPod.Status.Phase ||
				!maps.Equal(oldPod.Labels, newPod.Labels) ||
				podReady(oldPod) != podReady(newPod) ||
				oldPod.Status.PodIP != newPod.Status.PodIP ||
				(oldPod.DeletionTimestamp == nil) != (newPod.DeletionTimestamp == nil)
		},
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
