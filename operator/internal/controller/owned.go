package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// ownedKind is how the reconciler handles one kind of object a Memcached
// owns. Every kind takes the same path (ensure, remove); only what is
// compared, merged and said in Events differs.
type ownedKind[T client.Object] struct {
	// name is the kind, in messages and Event reasons (<name>Created ...).
	name string
	// empty is an empty object of the kind, to read one into.
	empty func() T
	// upToDate tells whether actual already has what desired sets.
	upToDate func(desired, actual T) bool
	// merge is actual with what desired sets: what actual is patched to.
	merge func(desired, actual T) T
	// created and updated are the Events of a create and of an update; nil
	// means "Created <kind> <name>" and "Updated <kind> <name>".
	created func(desired T) []note
	updated func(desired, actual T) []note
}

// deploymentKind names the kind whose absence or foreign owner the
// Available condition reports.
const deploymentKind = "Deployment"

// The kinds a Memcached owns.
var (
	deployments = ownedKind[*appsv1.Deployment]{
		name:     deploymentKind,
		empty:    func() *appsv1.Deployment { return &appsv1.Deployment{} },
		upToDate: DeploymentUpToDate,
		merge:    mergeDeployment,
		created:  deploymentCreated,
		updated:  deploymentUpdated,
	}
	services = ownedKind[*corev1.Service]{
		name:     "Service",
		empty:    func() *corev1.Service { return &corev1.Service{} },
		upToDate: ServiceUpToDate,
		merge:    mergeService,
	}
	podDisruptionBudgets = ownedKind[*policyv1.PodDisruptionBudget]{
		name:     "PodDisruptionBudget",
		empty:    func() *policyv1.PodDisruptionBudget { return &policyv1.PodDisruptionBudget{} },
		upToDate: PodDisruptionBudgetUpToDate,
		merge:    mergePodDisruptionBudget,
	}
	serviceMonitors = ownedKind[*unstructured.Unstructured]{
		name:     ServiceMonitorGVK.Kind,
		empty:    newServiceMonitor,
		upToDate: ServiceMonitorUpToDate,
		merge:    mergeLabelsAndSpec,
	}
	prometheusRules = ownedKind[*unstructured.Unstructured]{
		name:     PrometheusRuleGVK.Kind,
		empty:    newPrometheusRule,
		upToDate: PrometheusRuleUpToDate,
		merge:    mergeLabelsAndSpec,
	}
)

// ensure creates desired, owned by m, when it does not exist, and patches it
// to merge(desired, actual) when upToDate finds it differs: in a steady state
// it only reads (from the cache). An object of that name that m does not
// control is recorded as not owned and left alone. It records in obs what it
// did and what failed, and returns the object as it now is, ok false when m
// has none.
func (k ownedKind[T]) ensure(ctx context.Context, r *MemcachedReconciler, m *cachev1.Memcached, desired T, obs *observed) (current T, ok bool) {
	log := ctrl.LoggerFrom(ctx)
	if err := controllerutil.SetControllerReference(m, desired, r.Scheme); err != nil {
		obs.fail("own", k.name, desired.GetName(), nil, err)
		return current, false
	}
	actual := k.empty()
	err := r.read(ctx, k.name, client.ObjectKeyFromObject(desired), actual)
	if apierrors.IsNotFound(err) {
		found, err := r.createOrFind(ctx, desired, actual)
		switch {
		case err != nil:
			obs.fail("create", k.name, desired.GetName(), nil, err)
			return current, false
		case !found:
			r.remember(k.name, client.ObjectKeyFromObject(desired))
			log.Info("Created "+k.name, "name", desired.GetName())
			obs.done = append(obs.done, k.createdNotes(desired)...)
			return desired, true
		}
	} else if err != nil {
		obs.fail("get", k.name, desired.GetName(), nil, err)
		return current, false
	}

	if !metav1.IsControlledBy(actual, m) {
		obs.notOwned = append(obs.notOwned, objectRef{kind: k.name, object: actual})
		return current, false
	}
	if k.upToDate(desired, actual) {
		return actual, true
	}
	// A merge patch carries no resourceVersion, so the status writes of
	// other controllers (the Deployment controller's after every spec
	// change, the disruption controller's) cannot make it conflict.
	merged := k.merge(desired, actual)
	if err := r.Client.Patch(ctx, merged, client.MergeFrom(actual), client.FieldOwner(ManagerName)); err != nil {
		if apierrors.IsNotFound(err) {
			return current, false // deleted meanwhile: its deletion event brings us back
		}
		obs.fail("update", k.name, actual.GetName(), actual, err)
		return actual, true
	}
	log.Info("Updated "+k.name, "name", actual.GetName())
	obs.done = append(obs.done, k.updatedNotes(desired, actual)...)
	return merged, true
}

// remove deletes m's object of this kind called name when it exists and m
// controls it. One that m does not control is not m's to delete.
func (k ownedKind[T]) remove(ctx context.Context, r *MemcachedReconciler, m *cachev1.Memcached, name string, obs *observed) {
	obj := k.empty()
	obj.SetNamespace(m.Namespace)
	obj.SetName(name)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		return
	case err != nil:
		obs.fail("get", k.name, name, nil, err)
		return
	case !metav1.IsControlledBy(obj, m):
		return
	}
	uid := obj.GetUID()
	if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		obs.fail("delete", k.name, name, obj, err)
		return
	}
	ctrl.LoggerFrom(ctx).Info("Deleted "+k.name, "name", name)
	obs.done = append(obs.done, note{related: obj, eventType: corev1.EventTypeNormal, reason: k.name + "Deleted",
		action: "Delete", message: fmt.Sprintf("Deleted %s %s", k.name, name)})
}

func (k ownedKind[T]) createdNotes(desired T) []note {
	if k.created != nil {
		return k.created(desired)
	}
	return []note{{related: desired, eventType: corev1.EventTypeNormal, reason: k.name + "Created",
		action: "Create", message: fmt.Sprintf("Created %s %s", k.name, desired.GetName())}}
}

func (k ownedKind[T]) updatedNotes(desired, actual T) []note {
	if k.updated != nil {
		return k.updated(desired, actual)
	}
	return []note{{related: actual, eventType: corev1.EventTypeNormal, reason: k.name + "Updated",
		action: "Update", message: fmt.Sprintf("Updated %s %s", k.name, actual.GetName())}}
}

// deploymentCreated says how many replicas the new Deployment runs.
func deploymentCreated(desired *appsv1.Deployment) []note {
	return []note{{related: desired, eventType: corev1.EventTypeNormal, reason: EventDeploymentCreated, action: "Create",
		message: fmt.Sprintf("Created Deployment %s with %d replicas", desired.Name, ptrValue(desired.Spec.Replicas))}}
}

// deploymentUpdated tells a scale from a change of the pod template, which
// restarts every pod: an update can be either or both.
func deploymentUpdated(desired, actual *appsv1.Deployment) []note {
	var notes []note
	from, to := ptrValue(actual.Spec.Replicas), ptrValue(desired.Spec.Replicas)
	if from != to {
		notes = append(notes, note{related: actual, eventType: corev1.EventTypeNormal, reason: EventDeploymentScaled, action: "Scale",
			message: fmt.Sprintf("Scaled Deployment %s from %d to %d replicas", actual.Name, from, to)})
	}
	if !DeploymentUpToDate(desired, withReplicas(actual, to)) {
		notes = append(notes, note{related: actual, eventType: corev1.EventTypeNormal, reason: EventDeploymentUpdated, action: "Update",
			message: fmt.Sprintf("Updated the pod template of Deployment %s", actual.Name)})
	}
	return notes
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
