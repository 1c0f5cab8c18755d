package upgradeable

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	"github.com/operator-framework/operator-lib/conditions"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

const (
	// ConditionNameEnv is set by OLM to the name of the operator's OperatorCondition.
	ConditionNameEnv = "OPERATOR_CONDITION_NAME"
	// NamespaceEnv overrides the namespace of the OperatorCondition, which
	// in a pod is read from its service account; needed out of cluster.
	NamespaceEnv = "OPERATOR_NAMESPACE"

	// ReasonRolloutInProgress: some Memcached is rolling out or resizing.
	ReasonRolloutInProgress = "RolloutInProgress"
	// ReasonNoRolloutInProgress: every Memcached is at rest.
	ReasonNoRolloutInProgress = "NoRolloutInProgress"
)

// Desired is the Upgradeable condition given the Memcacheds the operator
// manages: False while any of them rolls out, naming them (sorted).
func Desired(memcacheds []cachev1.Memcached) metav1.Condition {
	var busy []string
	for i := range memcacheds {
		m := &memcacheds[i]
		if m.DeletionTimestamp == nil && rollingOut(m) {
			busy = append(busy, m.Namespace+"/"+m.Name)
		}
	}
	if len(busy) == 0 {
		return metav1.Condition{
			Type:    apiv2.Upgradeable,
			Status:  metav1.ConditionTrue,
			Reason:  ReasonNoRolloutInProgress,
			Message: "no Memcached is rolling out",
		}
	}
	slices.Sort(busy)
	return metav1.Condition{
		Type:    apiv2.Upgradeable,
		Status:  metav1.ConditionFalse,
		Reason:  ReasonRolloutInProgress,
		Message: fmt.Sprintf("rolling out: %s", strings.Join(busy, ", ")),
	}
}

// rollingOut: the operator has not yet seen the latest spec, or the status it
// wrote says the Deployment is progressing.
func rollingOut(m *cachev1.Memcached) bool {
	if m.Status.ObservedGeneration < m.Generation {
		return true
	}
	return meta.IsStatusConditionTrue(m.Status.Conditions, cachev1.ConditionProgressing)
}

// Reconciler keeps the Upgradeable condition in line with Desired.
type Reconciler struct {
	Client    client.Client
	Condition conditions.Condition
}

// the single key every Memcached event maps to: the condition is one fact
// about all of them.
var singleton = types.NamespacedName{Name: "upgradeable"}

// Reconcile recomputes the condition and writes it only when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	list := &cachev1.MemcachedList{}
	if err := r.Client.List(ctx, list); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing memcacheds: %w", err)
	}
	want := Desired(list.Items)
	current, err := r.Condition.Get(ctx)
	if err == nil && current.Status == want.Status && current.Reason == want.Reason && current.Message == want.Message {
		return ctrl.Result{}, nil
	}
	// An error from Get is a missing condition: the first write.
	if err := r.Condition.Set(ctx, want.Status, conditions.WithReason(want.Reason), conditions.WithMessage(want.Message)); err != nil {
		return ctrl.Result{}, fmt.Errorf("setting the %s operator condition: %w", apiv2.Upgradeable, err)
	}
	ctrl.LoggerFrom(ctx).Info("Set operator condition", "type", apiv2.Upgradeable, "status", want.Status, "reason", want.Reason)
	return ctrl.Result{}, nil
}

// SetupWithManager watches every Memcached, status changes included.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("upgradeable").
		Watches(&cachev1.Memcached{}, handler.EnqueueRequestsFromMapFunc(
			func(context.Context, client.Object) []ctrl.Request {
				return []ctrl.Request{{NamespacedName: singleton}}
			})).
		Complete(r)
}

// FromEnvironment returns the operator's Upgradeable condition when OLM runs
// the operator, and nil when it does not (no OPERATOR_CONDITION_NAME). In a
// pod, operator-lib finds the OperatorCondition's namespace from the service
// account; out of cluster OPERATOR_NAMESPACE names it.
func FromEnvironment(c client.Client) (conditions.Condition, error) {
	name := os.Getenv(ConditionNameEnv)
	if name == "" {
		return nil, nil
	}
	if ns := os.Getenv(NamespaceEnv); ns != "" {
		return &operatorCondition{client: c, key: types.NamespacedName{Namespace: ns, Name: name}, condType: apiv2.Upgradeable}, nil
	}
	cond, err := conditions.InClusterFactory{Client: c}.NewCondition(apiv2.ConditionType(apiv2.Upgradeable))
	if err != nil {
		return nil, fmt.Errorf("finding the operator condition (set %s out of cluster): %w", NamespaceEnv, err)
	}
	return cond, nil
}

// operatorCondition is operator-lib's condition for an OperatorCondition
// whose namespace is given rather than read from a service account.
type operatorCondition struct {
	client   client.Client
	key      types.NamespacedName
	condType string
}

var _ conditions.Condition = &operatorCondition{}

func (c *operatorCondition) Get(ctx context.Context) (*metav1.Condition, error) {
	oc := &apiv2.OperatorCondition{}
	if err := c.client.Get(ctx, c.key, oc); err != nil {
		return nil, err
	}
	found := meta.FindStatusCondition(oc.Spec.Conditions, c.condType)
	if found == nil {
		return nil, fmt.Errorf("condition %s not found in operatorcondition %s", c.condType, c.key)
	}
	return found, nil
}

func (c *operatorCondition) Set(ctx context.Context, status metav1.ConditionStatus, opts ...conditions.Option) error {
	oc := &apiv2.OperatorCondition{}
	if err := c.client.Get(ctx, c.key, oc); err != nil {
		return err
	}
	cond := metav1.Condition{Type: c.condType, Status: status}
	for _, opt := range opts {
		opt(&cond)
	}
	meta.SetStatusCondition(&oc.Spec.Conditions, cond)
	return c.client.Update(ctx, oc)
}
