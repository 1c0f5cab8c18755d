package controller

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// specOrigins are the fields of the Deployment the operator builds that come
// whole from a Memcached's spec, with the condition reason that names that
// field. They are the fields the CRD's schema cannot check fully: the API
// server's validation of a pod template (an affinity operator, a limit below
// its request, a toleration's effect, a label key) runs only when the
// Deployment is written.
var specOrigins = []struct{ deployment, memcached, reason string }{
	{"spec.template.spec.affinity", "spec.affinity", cachev1.ReasonInvalidAffinity},
	{"spec.template.spec.tolerations", "spec.tolerations", cachev1.ReasonInvalidTolerations},
	{"spec.template.spec.nodeSelector", "spec.nodeSelector", cachev1.ReasonInvalidNodeSelector},
	{"spec.template.spec.topologySpreadConstraints", "spec.topologySpreadConstraints", cachev1.ReasonInvalidTopologySpreadConstraints},
	// The memcached container is the first; the exporter's resources are
	// the operator's own.
	{"spec.template.spec.containers[0].resources", "spec.resources", cachev1.ReasonInvalidResources},
}

// refused tells whether f is a write the API server refused as invalid (422)
// and, if so, describes it in the Memcached's terms: each refused field as
// the spec field it comes from where there is one (else as the field of the
// refused object), and reason naming the first such spec field
// (ReconcileFailed when none does: then the operator built a bad object).
func refused(f failure) (reason, message string, ok bool) {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(f.err) || !errors.As(f.err, &status) {
		return "", "", false
	}
	details := status.Status().Details
	if details == nil || len(details.Causes) == 0 {
		return "", "", false
	}
	reason = cachev1.ReasonReconcileFailed
	causes := make([]string, 0, len(details.Causes))
	for _, c := range details.Causes {
		field, fieldReason, ok := specField(f.kind, c.Field)
		if !ok {
			field = f.kind + " field " + c.Field
		} else if reason == cachev1.ReasonReconcileFailed {
			reason = fieldReason
		}
		causes = append(causes, field+": "+c.Message)
	}
	return reason, fmt.Sprintf("the API server refused %s %s: %s", f.kind, f.name, strings.Join(causes, "; ")), true
}

// specField is the Memcached spec field that the field path of an object of
// kind comes from, and the condition reason naming it.
func specField(kind, path string) (field, reason string, ok bool) {
	if kind != deploymentKind {
		return "", "", false
	}
	for _, o := range specOrigins {
		rest, found := strings.CutPrefix(path, o.deployment)
		if found && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return o.memcached + rest, o.reason, true
		}
	}
	return "", "", false
}
