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

// Reasons of a Degraded condition when the API server refused, as invalid,
// the Deployment the operator built from a spec the CRD's schema admitted
// (the schema cannot check a pod template as the API server's validation
// of pods does). Each names the spec field; the message gives the path
// within it and the API server's words.
const (
	ReasonInvalidAffinity                  = "InvalidAffinity"
	ReasonInvalidTolerations               = "InvalidTolerations"
	ReasonInvalidNodeSelector              = "InvalidNodeSelector"
	ReasonInvalidTopologySpreadConstraints = "InvalidTopologySpreadConstraints"
	ReasonInvalidResources                 = "InvalidResources"
)

// ReasonInvalidExtraArgs: extraArgs holds options outside the allow-list
// (controller.ExtraArgAllowed), which the operator leaves out of memcached's
// command line. The CRD's rule refuses only the flags the operator manages,
// as 0.3.1's did (a changed rule would stop OLM v1 from upgrading), so the
// operator is what enforces the allow-list, on every Kubernetes version.
const ReasonInvalidExtraArgs = "InvalidExtraArgs"
