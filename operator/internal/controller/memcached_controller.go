package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
)

// errDeploymentNotOwned: a Deployment with the Memcached's name belongs to
// someone else.
var errDeploymentNotOwned = errors.New("the operator leaves it alone")

// MemcachedReconciler runs each Memcached as a Deployment of memcached pods.
type MemcachedReconciler struct {
	Client client.Client
	Scheme *runtime.Scheme
	// APIReader reads around the cache (mgr.GetAPIReader()).
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Operand   OperandOptions
	// MaxConcurrentReconciles is how many Memcacheds reconcile at once.
	MaxConcurrentReconciles int
}

// +kubebuilder:rbac:groups=cache.example.com,resources=memcacheds,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.example.com,resources=memcacheds/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.example.com,resources=memcacheds/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=core,resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Memcached's Deployment to its spec and writes what it
// observed into status, once, at the end.
func (r *MemcachedReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	m := &cachev1.Memcached{}
	if err := r.Client.Get(ctx, req.NamespacedName, m); err != nil {
		// Deleted: garbage collection removes what it owned.
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
	if obs.pods, err = r.listPods(ctx, m); err != nil {
		errs = append(errs, err)
	}
	obs.reconcileErr = errors.Join(errs...)

	if err := r.writeStatus(ctx, m, computeStatus(m, obs, metav1.Now())); err != nil {
		errs = append(errs, err)
	}
	return ctrl.Result{}, errors.Join(errs...)
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
	err := r.getDeployment(ctx, client.ObjectKeyFromObject(desired), actual)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, desired, client.FieldOwner(ManagerName)); err != nil {
			r.event(m, corev1.EventTypeWarning, EventReconcileFailed, "Create", "Failed to create Deployment %s: %v", desired.Name, err)
			return nil, fmt.Errorf("creating deployment %s: %w", desired.Name, err)
		}
		log.Info("Created Deployment", "deployment", desired.Name, "replicas", m.Spec.Size)
		r.event(m, corev1.EventTypeNormal, EventDeploymentCreated, "Create", "Created Deployment %s with %d replicas", desired.Name, m.Spec.Size)
		return desired, nil
	case err != nil:
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

// getDeployment reads from the cache, which holds only Deployments labelled
// as the operator's. One whose label was removed is invisible there, so a miss
// is confirmed against the API server: the operator then finds its own
// Deployment, and restores the label, instead of failing to create it again.
func (r *MemcachedReconciler) getDeployment(ctx context.Context, key client.ObjectKey, d *appsv1.Deployment) error {
	err := r.Client.Get(ctx, key, d)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		return r.APIReader.Get(ctx, key, d)
	}
	return err
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
	if r.Recorder != nil {
		r.Recorder.Eventf(m, nil, eventType, reason, action, format, args...)
	}
}

// SetupWithManager watches Memcacheds, the Deployments they own, and their
// pods, whose names and readiness status.nodes reports.
func (r *MemcachedReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		// Our own status writes change no generation and need no reconcile.
		For(&cachev1.Memcached{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
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
// deletion, and updates of phase, readiness, labels or deletion.
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
