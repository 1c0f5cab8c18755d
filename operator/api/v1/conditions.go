package v1

// Condition types reported in Memcached status.conditions.
const (
	// ConditionAvailable is True when every requested memcached pod is ready
	// (or size is zero and nothing runs).
	ConditionAvailable = "Available"
	// ConditionProgressing is True while the Deployment rolls out or scales.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the operator cannot bring the cluster to
	// its desired state: an API error, or a rollout that made no progress.
	ConditionDegraded = "Degraded"
)

// Reasons of the conditions above.
const (
	// ReasonAllReplicasReady: every requested pod is ready.
	ReasonAllReplicasReady = "AllReplicasReady"
	// ReasonScaledToZero: size is zero, so no pod runs and none is expected.
	ReasonScaledToZero = "ScaledToZero"
	// ReasonReplicasNotReady: fewer pods are ready than size asks for.
	ReasonReplicasNotReady = "ReplicasNotReady"
	// ReasonDeploymentMissing: the Deployment does not exist (yet).
	ReasonDeploymentMissing = "DeploymentMissing"
	// ReasonDeploymentNotOwned: a Deployment with the Memcached's name exists
	// and belongs to someone else; the operator leaves it alone.
	ReasonDeploymentNotOwned = "DeploymentNotOwned"
	// ReasonRollingOut: the Deployment has not yet observed or completed the
	// latest change.
	ReasonRollingOut = "RollingOut"
	// ReasonRolloutComplete: the Deployment runs the latest pod template at size.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonProgressDeadlineExceeded: the Deployment reports it stopped making progress.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonReconcileFailed: the operator failed to create or update what it owns.
	ReasonReconcileFailed = "ReconcileFailed"
	// ReasonAsExpected: nothing is wrong.
	ReasonAsExpected = "AsExpected"
)
