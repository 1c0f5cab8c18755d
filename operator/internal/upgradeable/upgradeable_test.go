package upgradeable

import (
	"testing"
	"time"

	apiv2 "github.com/operator-framework/api/pkg/operators/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

func memcached(name string, generation, observed int64, progressing metav1.ConditionStatus) cachev1.Memcached {
	m := cachev1.Memcached{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: generation}}
	m.Status.ObservedGeneration = observed
	if progressing != "" {
		m.Status.Conditions = []metav1.Condition{{Type: cachev1.ConditionProgressing, Status: progressing}}
	}
	return m
}

func TestDesired(t *testing.T) {
	deleting := memcached("gone", 2, 1, metav1.ConditionTrue)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	tests := []struct {
		name        string
		memcacheds  []cachev1.Memcached
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{"none", nil, metav1.ConditionTrue, ReasonNoRolloutInProgress, "no Memcached is rolling out"},
		{"all at rest", []cachev1.Memcached{memcached("a", 1, 1, metav1.ConditionFalse)}, metav1.ConditionTrue, ReasonNoRolloutInProgress, ""},
		{"one progressing", []cachev1.Memcached{
			memcached("b", 1, 1, metav1.ConditionTrue),
			memcached("a", 1, 1, metav1.ConditionFalse),
		}, metav1.ConditionFalse, ReasonRolloutInProgress, "rolling out: ns/b"},
		{"spec not yet observed", []cachev1.Memcached{memcached("c", 3, 2, metav1.ConditionFalse)}, metav1.ConditionFalse, ReasonRolloutInProgress, "rolling out: ns/c"},
		{"never reconciled", []cachev1.Memcached{memcached("d", 1, 0, "")}, metav1.ConditionFalse, ReasonRolloutInProgress, "rolling out: ns/d"},
		{"several, sorted", []cachev1.Memcached{
			memcached("z", 1, 1, metav1.ConditionTrue),
			memcached("y", 1, 1, metav1.ConditionTrue),
		}, metav1.ConditionFalse, ReasonRolloutInProgress, "rolling out: ns/y, ns/z"},
		{"being deleted does not block", []cachev1.Memcached{deleting}, metav1.ConditionTrue, ReasonNoRolloutInProgress, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Desired(tt.memcacheds)
			if c.Type != apiv2.Upgradeable || c.Status != tt.wantStatus || c.Reason != tt.wantReason {
				t.Errorf("Desired = %s %s/%s, want %s/%s", c.Type, c.Status, c.Reason, tt.wantStatus, tt.wantReason)
			}
			if tt.wantMessage != "" && c.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", c.Message, tt.wantMessage)
			}
		})
	}
}
