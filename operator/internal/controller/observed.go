package controller

import (
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// observed is what one reconcile of a Memcached found and did, as
// cluster-api's scope is: each phase records its facts here, the status is
// computed from nothing else, and the Events are reported from it once every
// phase ran.
type observed struct {
	// deployment is the Memcached's Deployment as it now is: nil when it does
	// not exist, could not be read, or is not the Memcached's.
	deployment *appsv1.Deployment
	// pods are the pods labelled as this Memcached's.
	pods []corev1.Pod
	// notOwned are objects with a name of the Memcached's that it does not
	// control: the operator leaves them alone.
	notOwned []objectRef
	// failures are this reconcile's API requests that failed.
	failures []failure
	// done are the Normal Events of what this reconcile created, changed
	// or deleted.
	done []note
}

// failure is an API request of a reconcile that failed.
type failure struct {
	// verb is what was asked: create, update, delete, get, list, or own
	// (setting the owner reference, before any request).
	verb string
	// kind and name name the object asked about.
	kind, name string
	// related is the object as it was before the request (nil when none
	// was read), for the Event that reports the failure.
	related client.Object
	err     error
}

// objectRef is an object of a known kind.
type objectRef struct {
	kind   string
	object client.Object
}

// note is one Event to report regarding the Memcached.
type note struct {
	// related is the object the Event is about besides the Memcached: the
	// Events of the two Services then stay apart instead of being counted
	// as one series.
	related   client.Object
	eventType string
	reason    string
	action    string
	message   string
}

// verbsIng are the -ing forms of failure verbs, for error messages.
var verbsIng = map[string]string{
	"own": "setting the owner of", "create": "creating", "update": "updating", "delete": "deleting", "get": "getting", "list": "listing",
}

// add records what another phase's observed holds.
func (o *observed) add(other observed) {
	if other.deployment != nil {
		o.deployment = other.deployment
	}
	if other.pods != nil {
		o.pods = other.pods
	}
	o.notOwned = append(o.notOwned, other.notOwned...)
	o.failures = append(o.failures, other.failures...)
	o.done = append(o.done, other.done...)
}

// fail records a failed request.
func (o *observed) fail(verb, kind, name string, related client.Object, err error) {
	o.failures = append(o.failures, failure{verb: verb, kind: kind, name: name, related: related, err: err})
}

func (f failure) Error() string {
	return fmt.Sprintf("%s %s %s: %v", verbsIng[f.verb], f.kind, f.name, f.err)
}

func (f failure) Unwrap() error { return f.err }

// notOwnedMessage is how a not-owned object is reported, in the status and
// the error a reconcile returns.
func notOwnedMessage(ref objectRef, memcachedName string) string {
	return fmt.Sprintf("%s %s exists and is not controlled by memcached %s", ref.kind, ref.object.GetName(), memcachedName)
}

// deploymentNotOwned tells whether the Memcached's Deployment is someone
// else's.
func (o *observed) deploymentNotOwned() bool {
	return slices.ContainsFunc(o.notOwned, func(ref objectRef) bool { return ref.kind == deploymentKind })
}

// err is what Reconcile returns, nil when nothing failed: controller-runtime
// then requeues the Memcached with its rate limiter's growing delay. An
// object in the way counts, so that the Memcached is retried until that
// object goes; its deletion sends no event to this Memcached.
func (o *observed) err(memcachedName string) error {
	errs := make([]error, 0, len(o.failures)+len(o.notOwned))
	for _, f := range o.failures {
		errs = append(errs, f)
	}
	for _, ref := range o.notOwned {
		errs = append(errs, errors.New(notOwnedMessage(ref, memcachedName)))
	}
	return errors.Join(errs...)
}

// warnings are the Warning Events of what this reconcile could not do: a
// write that failed, an object in the way.
func (o *observed) warnings() []note {
	var notes []note
	for _, f := range o.failures {
		action, ok := map[string]string{"create": "Create", "update": "Update", "delete": "Delete"}[f.verb]
		if !ok {
			continue // a failed read changes nothing worth an Event
		}
		notes = append(notes, note{related: f.related, eventType: corev1.EventTypeWarning, reason: EventReconcileFailed,
			action: action, message: fmt.Sprintf("Failed to %s %s %s: %v", f.verb, f.kind, f.name, f.err)})
	}
	for _, ref := range o.notOwned {
		notes = append(notes, note{related: ref.object, eventType: corev1.EventTypeWarning, reason: ref.kind + "NotOwned",
			action: "Update", message: fmt.Sprintf("%s %s exists and is not controlled by this Memcached", ref.kind, ref.object.GetName())})
	}
	return notes
}
