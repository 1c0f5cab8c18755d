// Package controller reconciles Memcached resources into a memcached
// Deployment and reports what runs back into the resource's status.
//
// Reconcile only orchestrates. What the Deployment should look like comes from
// pure builders (deployment.go) and what the status should say from pure
// functions of observed facts (status.go), so both are table-tested without
// an API server.
package controller
