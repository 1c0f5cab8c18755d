// Package upgradeable tells OLM when upgrading the operator is unsafe. It
// keeps the Upgradeable condition of the operator's OperatorCondition False
// while any Memcached it watches is rolling out or resizing, so OLM holds an
// upgrade back until the rollout ends instead of replacing the operator in
// the middle of one, and True otherwise.
//
// The condition is written through operator-lib's conditions API. It only
// exists under OLM, which names the OperatorCondition in the operator's
// OPERATOR_CONDITION_NAME variable; without it the controller is not started.
package upgradeable
