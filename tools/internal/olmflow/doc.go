// Package olmflow installs and upgrades memcached-operator through OLM on a
// local cluster, as a cluster admin would through OperatorHub: a
// CatalogSource serving the project's catalog, an OperatorGroup, an
// Automatic Subscription; then a newer catalog, and OLM upgrading the
// operator on its own. `make demo-olm` and the OLM end-to-end test share it.
//
// No container runs on the local cluster, so the operator's Deployment that
// OLM creates never runs the manager; the flow runs the manager binary itself
// as the ServiceAccount OLM created for the CSV, with a token from the
// TokenRequest API. That proves the CSV's RBAC is enough for the operator.
// Each version runs its own code: the newest is built from the working tree,
// the older one from the commit that recorded its release in releases/ (so a
// full git clone is needed).
package olmflow
