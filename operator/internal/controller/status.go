package controller

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// computeStatus is the status m should have given what was observed. It keeps
// the transition times of conditions whose status did not change, so an
// unchanged world yields a status equal to the current one and no write.
func computeStatus(m *cachev1.Memcached, obs observed, now metav1.Time) cachev1.MemcachedStatus {
	status := *m.Status.DeepCopy()
	status.ObservedGeneration = m.Generation
	status.Nodes = podNames(obs.pods)
	status.Endpoints = podEndpoints(obs.pods)
	status.ReadyReplicas = 0
	if obs.deployment != nil {
		status.ReadyReplicas = obs.deployment.Status.ReadyReplicas
	}
	for _, c := range []metav1.Condition{
		availableCondition(m, obs),
		progressingCondition(m, obs),
		degradedCondition(m, obs),
	} {
		c.ObservedGeneration = m.Generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&status.Conditions, c)
	}
	return status
}

// podNames are the sorted names of the pods that serve or are about to:
// terminating and finished pods are left out, so the list settles on exactly
// spec.size names once a scale or rollout is done.
func podNames(pods []corev1.Pod) []string {
	var names []string
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// podEndpoints are the sorted memcached addresses (ip:11211, [ip]:11211 for
// IPv6) of the pods that serve: ready, with an IP, and not terminating.
func podEndpoints(pods []corev1.Pod) []string {
	var endpoints []string
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning || !podReady(p) {
			continue
		}
		endpoints = append(endpoints, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(MemcachedPort)))
	}
	slices.Sort(endpoints)
	return endpoints
}

func availableCondition(m *cachev1.Memcached, obs observed) metav1.Condition {
	c := metav1.Condition{Type: cachev1.ConditionAvailable}
	want := m.Spec.Size
	switch {
	case obs.deploymentNotOwned():
		c.Status, c.Reason = metav1.ConditionFalse, cachev1.ReasonDeploymentNotOwned
		c.Message = fmt.Sprintf("Deployment %s exists and is not controlled by this Memcached", m.Name)
	case obs.deployment == nil:
		c.Status, c.Reason = metav1.ConditionFalse, cachev1.ReasonDeploymentMissing
		c.Message = fmt.Sprintf("Deployment %s does not exist", m.Name)
	case want == 0:
		c.Status, c.Reason = metav1.ConditionTrue, cachev1.ReasonScaledToZero
		c.Message = "size is 0: no memcached pod runs"
	case obs.deployment.Status.AvailableReplicas >= want && obs.deployment.Status.ReadyReplicas >= want:
		c.Status, c.Reason = metav1.ConditionTrue, cachev1.ReasonAllReplicasReady
		c.Message = fmt.Sprintf("%d of %d pods ready", want, want)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, cachev1.ReasonReplicasNotReady
		c.Message = fmt.Sprintf("%d of %d pods ready", obs.deployment.Status.ReadyReplicas, want)
	}
	return c
}

func progressingCondition(m *cachev1.Memcached, obs observed) metav1.Condition {
	c := metav1.Condition{Type: cachev1.ConditionProgressing}
	d := obs.deployment
	switch {
	case d == nil:
		c.Status, c.Reason = metav1.ConditionTrue, cachev1.ReasonRollingOut
		c.Message = "creating the Deployment"
	case deploymentStalled(d):
		c.Status, c.Reason = metav1.ConditionFalse, cachev1.ReasonProgressDeadlineExceeded
		c.Message = fmt.Sprintf("Deployment %s exceeded its progress deadline", d.Name)
	case rolloutComplete(d, m.Spec.Size):
		c.Status, c.Reason = metav1.ConditionFalse, cachev1.ReasonRolloutComplete
		c.Message = fmt.Sprintf("%d pods run the latest template", m.Spec.Size)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, cachev1.ReasonRollingOut
		c.Message = fmt.Sprintf("%d of %d pods updated, %d available", d.Status.UpdatedReplicas, m.Spec.Size, d.Status.AvailableReplicas)
	}
	return c
}

func degradedCondition(m *cachev1.Memcached, obs observed) metav1.Condition {
	c := metav1.Condition{Type: cachev1.ConditionDegraded}
	switch {
	case len(obs.failures) > 0 || len(obs.notOwned) > 0 || refusedExtraArgs(m.Spec.ExtraArgs) != "":
		c.Status = metav1.ConditionTrue
		c.Reason, c.Message = problems(m, obs)
	case obs.deployment != nil && deploymentStalled(obs.deployment):
		c.Status, c.Reason = metav1.ConditionTrue, cachev1.ReasonProgressDeadlineExceeded
		c.Message = fmt.Sprintf("Deployment %s exceeded its progress deadline", obs.deployment.Name)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, cachev1.ReasonAsExpected
		c.Message = "the operator is able to reconcile this Memcached"
	}
	return c
}

// problems are the reason and message of a Degraded condition from what a
// reconcile could not do. The reason names the first Memcached field whose
// value the API server refused, if any (a spec the schema admits can still
// make an invalid pod, such as a limit below its request), and is
// ReconcileFailed otherwise; the message lists every problem.
func problems(m *cachev1.Memcached, obs observed) (reason, message string) {
	reason = cachev1.ReasonReconcileFailed
	var messages []string
	for _, f := range obs.failures {
		fieldReason, refusal, ok := refused(f)
		if !ok {
			messages = append(messages, f.Error())
			continue
		}
		if reason == cachev1.ReasonReconcileFailed {
			reason = fieldReason
		}
		messages = append(messages, refusal)
	}
	for _, ref := range obs.notOwned {
		messages = append(messages, notOwnedMessage(ref, m.Name))
	}
	if refused := refusedExtraArgs(m.Spec.ExtraArgs); refused != "" {
		if reason == cachev1.ReasonReconcileFailed {
			reason = cachev1.ReasonInvalidExtraArgs
		}
		messages = append(messages, refused)
	}
	return reason, strings.Join(messages, "; ")
}

// degradedChanged tells whether the Degraded condition differs between two
// statuses in anything but its transition time.
func degradedChanged(before, after cachev1.MemcachedStatus) bool {
	b := meta.FindStatusCondition(before.Conditions, cachev1.ConditionDegraded)
	a := meta.FindStatusCondition(after.Conditions, cachev1.ConditionDegraded)
	if a == nil || b == nil {
		return a != b
	}
	return a.Status != b.Status || a.Reason != b.Reason || a.Message != b.Message
}

// rolloutComplete is kubectl rollout status's test: the Deployment controller
// saw the latest spec and every pod runs the latest template and is available.
func rolloutComplete(d *appsv1.Deployment, size int32) bool {
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == size &&
		d.Status.Replicas == size &&
		d.Status.AvailableReplicas == size
}

func deploymentStalled(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return true
		}
	}
	return false
}
