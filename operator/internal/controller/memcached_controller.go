package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"

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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
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

// errDeploymentNotOwned: a Deployment with the Memcached's name belongs to
// someone else.
var errDeploymentNotOwned = errors.New("the operator leaves it alone")

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
// ServiceMonitor and PrometheusRule to its spec and writes what it observed into status,
// once, at the end.
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

	var obs observed
	var errs []error
	deployment, err := r.reconcileDeployment(ctx, m)
	if err != nil {
		errs = append(errs, err)
	}
	obs.deployment = deployment
	for _, phase := range []func(context.Context, *cachev1.Memcached) error{
		r.reconcileServices,
		r.reconcilePodDisruptionBudget,
		r.reconcileServiceMonitor,
		r.reconcilePrometheusRule,
	} {
		if err := phase(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if obs.pods, err = r.listPods(ctx, m); err != nil {
		errs = append(errs, err)
	}
	obs.reconcileErr = errors.Join(errs...)

	status := computeStatus(m, obs, metav1.Now())
	recordReplicas(req.NamespacedName, m.Spec.Size, status.ReadyReplicas)
	if err := r.writeStatus(ctx, m, status); err != nil {
		errs = append(errs, err)
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// reconcileServices creates or restores m's ClusterIP and headless Services.
func (r *MemcachedReconciler) reconcileServices(ctx context.Context, m *cachev1.Memcached) error {
	var errs []error
	for _, desired := range DesiredServices(m) {
		errs = append(errs, ensureOwned(ctx, r, m, desired, &corev1.Service{}, ServiceUpToDate, mergeService))
	}
	return errors.Join(errs...)
}

// reconcilePodDisruptionBudget creates or restores m's PodDisruptionBudget,
// or deletes it when m has become too small for one.
func (r *MemcachedReconciler) reconcilePodDisruptionBudget(ctx context.Context, m *cachev1.Memcached) error {
	desired := DesiredPodDisruptionBudget(m)
	if desired == nil {
		return r.deleteOwned(ctx, m, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: PodDisruptionBudgetName(m)}})
	}
	return ensureOwned(ctx, r, m, desired, &policyv1.PodDisruptionBudget{}, PodDisruptionBudgetUpToDate, mergePodDisruptionBudget)
}

// reconcileServiceMonitor creates or restores m's ServiceMonitor while its
// monitoring is on, and deletes it otherwise. Without the ServiceMonitor API
// it does nothing: the exporter still serves metrics for other scrapers.
func (r *MemcachedReconciler) reconcileServiceMonitor(ctx context.Context, m *cachev1.Memcached) error {
	return r.reconcileMonitoringObject(ctx, m, r.ServiceMonitors, DesiredServiceMonitor, newServiceMonitor, ServiceMonitorName(m), ServiceMonitorUpToDate)
}

// reconcilePrometheusRule creates or restores m's alerts while its monitoring
// is on, and deletes them otherwise; without the PrometheusRule API it does
// nothing.
func (r *MemcachedReconciler) reconcilePrometheusRule(ctx context.Context, m *cachev1.Memcached) error {
	return r.reconcileMonitoringObject(ctx, m, r.PrometheusRules, DesiredPrometheusRule, newPrometheusRule, PrometheusRuleName(m), PrometheusRuleUpToDate)
}

// reconcileMonitoringObject does nothing where the cluster does not serve
// the kind, deletes m's object called name when desiredOf(m) is nil
// (monitoring off), and otherwise creates or restores it. The Prometheus Operator's
// kinds are unstructured: the operator depends on no Go module of theirs.
func (r *MemcachedReconciler) reconcileMonitoringObject(ctx context.Context, m *cachev1.Memcached, served bool,
	desiredOf func(*cachev1.Memcached) *unstructured.Unstructured, empty func() *unstructured.Unstructured, name string,
	upToDate func(desired, actual *unstructured.Unstructured) bool,
) error {
	if !served {
		return nil
	}
	desired := desiredOf(m)
	if desired == nil {
		obj := empty()
		obj.SetNamespace(m.Namespace)
		obj.SetName(name)
		return r.deleteOwned(ctx, m, obj)
	}
	return ensureOwned(ctx, r, m, desired, empty(), upToDate, mergeLabelsAndSpec)
}

// ensureOwned creates desired, owned by m, when it does not exist, and
// updates it to merge(desired, actual) when it differs from desired as
// upToDate judges: in a steady state it only reads (from the cache). actual
// is an empty object of desired's type to read into. An object of that name
// that m does not control is reported and left alone.
func ensureOwned[T client.Object](ctx context.Context, r *MemcachedReconciler, m *cachev1.Memcached,
	desired, actual T, upToDate func(desired, actual T) bool, merge func(desired, actual T) T,
) error {
	log := ctrl.LoggerFrom(ctx)
	kind := kindName(desired)
	if err := controllerutil.SetControllerReference(m, desired, r.Scheme); err != nil {
		return fmt.Errorf("setting owner of %s %s: %w", kind, desired.GetName(), err)
	}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), actual)
	if apierrors.IsNotFound(err) {
		found, err := r.createOrFind(ctx, desired, actual)
		if err != nil {
			r.relatedEvent(m, nil, corev1.EventTypeWarning, EventReconcileFailed, "Create", "Failed to create %s %s: %v", kind, desired.GetName(), err)
			return fmt.Errorf("creating %s %s: %w", kind, desired.GetName(), err)
		}
		if !found {
			log.Info("Created "+kind, "name", desired.GetName())
			r.relatedEvent(m, desired, corev1.EventTypeNormal, kind+"Created", "Create", "Created %s %s", kind, desired.GetName())
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("getting %s %s: %w", kind, desired.GetName(), err)
	}

	if !metav1.IsControlledBy(actual, m) {
		r.relatedEvent(m, actual, corev1.EventTypeWarning, kind+"NotOwned", "Update",
			"%s %s is not controlled by this Memcached", kind, actual.GetName())
		return fmt.Errorf("%s %s is not controlled by memcached %s", kind, actual.GetName(), m.Name)
	}
	if upToDate(desired, actual) {
		return nil
	}
	// A merge patch carries no resourceVersion, so status writes by other
	// controllers (the disruption controller's, for PDBs) cannot conflict.
	if err := r.Client.Patch(ctx, merge(desired, actual), client.MergeFrom(actual), client.FieldOwner(ManagerName)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile: its deletion event brings us back
		}
		r.relatedEvent(m, actual, corev1.EventTypeWarning, EventReconcileFailed, "Update", "Failed to update %s %s: %v", kind, actual.GetName(), err)
		return fmt.Errorf("updating %s %s: %w", kind, actual.GetName(), err)
	}
	log.Info("Updated "+kind, "name", actual.GetName())
	r.relatedEvent(m, actual, corev1.EventTypeNormal, kind+"Updated", "Update", "Updated %s %s", kind, actual.GetName())
	return nil
}

// deleteOwned deletes obj (named by its namespace and name) when it exists
// and m controls it. One that m does not control is not m's to delete.
func (r *MemcachedReconciler) deleteOwned(ctx context.Context, m *cachev1.Memcached, obj client.Object) error {
	kind := kindName(obj)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("getting %s %s: %w", kind, obj.GetName(), err)
	case !metav1.IsControlledBy(obj, m):
		return nil
	}
	uid := obj.GetUID()
	if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		r.relatedEvent(m, obj, corev1.EventTypeWarning, EventReconcileFailed, "Delete", "Failed to delete %s %s: %v", kind, obj.GetName(), err)
		return fmt.Errorf("deleting %s %s: %w", kind, obj.GetName(), err)
	}
	ctrl.LoggerFrom(ctx).Info("Deleted "+kind, "name", obj.GetName())
	r.relatedEvent(m, obj, corev1.EventTypeNormal, kind+"Deleted", "Delete", "Deleted %s %s", kind, obj.GetName())
	return nil
}

// kindName is the kind of the operator's objects, for messages and event
// reasons.
func kindName(obj client.Object) string {
	switch o := obj.(type) {
	case *corev1.Service:
		return "Service"
	case *corev1.Pod:
		return "Pod"
	case *policyv1.PodDisruptionBudget:
		return "PodDisruptionBudget"
	case *appsv1.Deployment:
		return "Deployment"
	case *unstructured.Unstructured:
		return o.GetKind()
	default:
		return fmt.Sprintf("%T", obj)
	}
}

// reconcileDeployment creates m's Deployment or brings it back to what m
// asks for, and returns it as it now is (nil when it could not be had).
func (r *MemcachedReconciler) reconcileDeployment(ctx context.Context, m *cachev1.Memcached) (*appsv1.Deployment, error) {
	log := ctrl.LoggerFrom(ctx)
	desired := DesiredDeployment(m, r.Operand)
	if err := controllerutil.SetControllerReference(m, desired, r.Scheme); err != nil {
		return nil, fmt.Errorf("setting owner of deployment %s: %w", desired.Name, err)
	}

	actual := &appsv1.Deployment{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), actual)
	if apierrors.IsNotFound(err) {
		found, err := r.createOrFind(ctx, desired, actual)
		if err != nil {
			r.event(m, corev1.EventTypeWarning, EventReconcileFailed, "Create", "Failed to create Deployment %s: %v", desired.Name, err)
			return nil, fmt.Errorf("creating deployment %s: %w", desired.Name, err)
		}
		if !found {
			log.Info("Created Deployment", "deployment", desired.Name, "replicas", m.Spec.Size)
			r.event(m, corev1.EventTypeNormal, EventDeploymentCreated, "Create", "Created Deployment %s with %d replicas", desired.Name, m.Spec.Size)
			return desired, nil
		}
	} else if err != nil {
		return nil, fmt.Errorf("getting deployment %s: %w", desired.Name, err)
	}

	if !metav1.IsControlledBy(actual, m) {
		// Someone else's Deployment: leave it alone and report nothing of it
		// as this Memcached's status.
		r.event(m, corev1.EventTypeWarning, EventDeploymentNotOwned, "Update",
			"Deployment %s exists and is not controlled by this Memcached", actual.Name)
		return nil, fmt.Errorf("deployment %s exists and is not controlled by memcached %s: %w", actual.Name, m.Name, errDeploymentNotOwned)
	}
	if DeploymentUpToDate(desired, actual) {
		return actual, nil
	}

	// A merge patch carries no resourceVersion: the Deployment controller's
	// status writes, which follow every spec change, cannot make it conflict.
	updated := mergeDeployment(desired, actual)
	if err := r.Client.Patch(ctx, updated, client.MergeFrom(actual), client.FieldOwner(ManagerName)); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted meanwhile: its deletion event brings us back to create it.
			return nil, nil
		}
		r.event(m, corev1.EventTypeWarning, EventReconcileFailed, "Update", "Failed to update Deployment %s: %v", actual.Name, err)
		return actual, fmt.Errorf("updating deployment %s: %w", actual.Name, err)
	}
	from, to := ptrValue(actual.Spec.Replicas), m.Spec.Size
	if from != to {
		log.Info("Scaled Deployment", "deployment", actual.Name, "from", from, "to", to)
		r.event(m, corev1.EventTypeNormal, EventDeploymentScaled, "Scale", "Scaled Deployment %s from %d to %d replicas", actual.Name, from, to)
	}
	if !DeploymentUpToDate(desired, withReplicas(actual, to)) {
		log.Info("Updated Deployment", "deployment", actual.Name)
		r.event(m, corev1.EventTypeNormal, EventDeploymentUpdated, "Update", "Updated the pod template of Deployment %s", actual.Name)
	}
	return updated, nil
}

// createOrFind creates desired, which the cache did not hold. The cache holds
// only objects labelled as the operator's, so one whose label was removed is
// invisible there: its create fails with AlreadyExists, and it is then read
// around the cache into actual (found), to be checked and restored like any
// other. Confirming only failed creates keeps the common create to one request.
func (r *MemcachedReconciler) createOrFind(ctx context.Context, desired, actual client.Object) (found bool, err error) {
	err = r.Client.Create(ctx, desired, client.FieldOwner(ManagerName))
	if !apierrors.IsAlreadyExists(err) || r.APIReader == nil {
		return false, err
	}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), actual); err != nil {
		return false, fmt.Errorf("reading the existing object: %w", err)
	}
	return true, nil
}

func (r *MemcachedReconciler) listPods(ctx context.Context, m *cachev1.Memcached) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(m.Namespace), client.MatchingLabels(objectLabels(m.Name))); err != nil {
		return nil, fmt.Errorf("listing pods of memcached %s: %w", m.Name, err)
	}
	return pods.Items, nil
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

func (r *MemcachedReconciler) event(m *cachev1.Memcached, eventType, reason, action, format string, args ...any) {
	r.relatedEvent(m, nil, eventType, reason, action, format, args...)
}

// relatedEvent reports an event regarding m about related (nil when none):
// events of the same reason about different objects, such as the two
// Services, then stay apart instead of being counted as one series.
func (r *MemcachedReconciler) relatedEvent(m *cachev1.Memcached, related runtime.Object, eventType, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(m, related, eventType, reason, action, format, args...)
	}
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

func ptrValue(p *int32) int32 {
	if p == nil {
		return 1 // the API server's default for Deployment replicas
	}
	return *p
}

func withReplicas(d *appsv1.Deployment, replicas int32) *appsv1.Deployment {
	c := d.DeepCopy()
	c.Spec.Replicas = &replicas
	return c
}
