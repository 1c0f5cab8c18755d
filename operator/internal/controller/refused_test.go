package controller

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// invalidDeployment is the API server's 422 for a Deployment named cache
// with the given field errors.
func invalidDeployment(errs ...*field.Error) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "cache", errs)
}

var podSpec = field.NewPath("spec", "template", "spec")

func TestRefused(t *testing.T) {
	badOperator := field.NotSupported(podSpec.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
		"nodeSelectorTerms").Index(0).Child("matchExpressions").Index(0).Child("operator"), "Foo", []string{"In", "NotIn"})
	limitBelowRequest := field.Invalid(podSpec.Child("containers").Index(0).Child("resources", "requests"),
		resource.MustParse("2Gi"), "must be less than or equal to memory limit of 1Gi")
	for _, tt := range []struct {
		name        string
		f           failure
		wantOK      bool
		wantReason  string
		wantMessage []string
	}{
		{
			name:       "an affinity operator",
			f:          failure{verb: "create", kind: "Deployment", name: "cache", err: invalidDeployment(badOperator)},
			wantOK:     true,
			wantReason: cachev1.ReasonInvalidAffinity,
			wantMessage: []string{
				"the API server refused Deployment cache: ",
				"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: \"Foo\"",
			},
		},
		{
			name:        "a limit below the request, wrapped",
			f:           failure{verb: "update", kind: "Deployment", name: "cache", err: fmt.Errorf("patching: %w", invalidDeployment(limitBelowRequest))},
			wantOK:      true,
			wantReason:  cachev1.ReasonInvalidResources,
			wantMessage: []string{"spec.resources.requests: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi"},
		},
		{
			name: "each cause, the first mapped one naming the reason",
			f: failure{verb: "create", kind: "Deployment", name: "cache", err: invalidDeployment(
				field.Invalid(podSpec.Child("containers").Index(1).Child("image"), "", "required"),
				field.Invalid(podSpec.Child("tolerations").Index(2).Child("effect"), "Sometimes", "bad"),
				limitBelowRequest)},
			wantOK:     true,
			wantReason: cachev1.ReasonInvalidTolerations,
			wantMessage: []string{
				"Deployment field spec.template.spec.containers[1].image: Invalid value",
				"; spec.tolerations[2].effect: Invalid value",
				"; spec.resources.requests: Invalid value",
			},
		},
		{
			name:        "nothing of the spec: the operator built it wrong",
			f:           failure{verb: "create", kind: "Service", name: "cache", err: apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "cache", field.ErrorList{field.Invalid(field.NewPath("spec", "affinity"), "x", "bad")})},
			wantOK:      true,
			wantReason:  cachev1.ReasonReconcileFailed,
			wantMessage: []string{"Service field spec.affinity: Invalid value"},
		},
		{
			name: "a prefix that is not the field",
			f: failure{verb: "create", kind: "Deployment", name: "cache", err: invalidDeployment(
				field.Invalid(field.NewPath("spec", "template", "spec", "affinityTerms"), "x", "bad"))},
			wantOK:      true,
			wantReason:  cachev1.ReasonReconcileFailed,
			wantMessage: []string{"Deployment field spec.template.spec.affinityTerms"},
		},
		{name: "forbidden", f: failure{verb: "create", kind: "Deployment", name: "cache", err: apierrors.NewForbidden(schema.GroupResource{Resource: "deployments"}, "cache", errors.New("quota"))}},
		{name: "invalid without causes", f: failure{verb: "create", kind: "Deployment", name: "cache", err: apierrors.NewInvalid(schema.GroupKind{Kind: "Deployment"}, "cache", nil)}},
		{name: "not an API error", f: failure{verb: "create", kind: "Deployment", name: "cache", err: errors.New("connection refused")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reason, message, ok := refused(tt.f)
			if ok != tt.wantOK || reason != tt.wantReason {
				t.Fatalf("refused = %q, %t, want %q, %t (%s)", reason, ok, tt.wantReason, tt.wantOK, message)
			}
			for _, want := range tt.wantMessage {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}
		})
	}
}

// A refused Deployment makes the Memcached Degraded with the field's
// reason, even when other problems come with it.
func TestDegradedNamesRefusedField(t *testing.T) {
	obs := someProblems()
	obs.failures = append(obs.failures, failure{verb: "update", kind: "Deployment", name: "memcached-sample",
		err: invalidDeployment(field.Invalid(podSpec.Child("nodeSelector"), "a b", "name part must consist of alphanumeric characters"))})
	c := degradedCondition(memcached(3, ""), obs)
	if c.Reason != cachev1.ReasonInvalidNodeSelector || !strings.Contains(c.Message, "spec.nodeSelector: Invalid value") ||
		!strings.Contains(c.Message, "getting Service memcached-sample: timeout") {
		t.Errorf("Degraded = %s: %s", c.Reason, c.Message)
	}
}
