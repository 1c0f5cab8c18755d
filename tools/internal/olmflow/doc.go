// Package olmflow installs and upgrades memcached-operator through OLM on a
// local cluster, as a cluster admin would through OperatorHub: a
// CatalogSource serving the project's catalog, an OperatorGroup, an
// Automatic Subscription; then a newer catalog, and OLM upgrading the
// operator on its own. `make demo-olm` and the OLM end-to-end test share it.
// It is a scenario on the testbed (cluster, OLM v0, identities, the
// operator process, typed OLM clients from operator-framework/api).
//
// On kwok nodes no container runs, so the operator's Deployment that
// OLM creates never runs the manager; the flow runs the manager binary itself
// as the ServiceAccount OLM created for the CSV, with a token from the
// TokenRequest API. That proves the CSV's RBAC is enough for the operator.
// Each version runs its own code: the newest is built from the working tree,
// the older one from the commit that recorded its release in releases/ (so a
// full git clone is needed).
//
// With Config.RealNode the same flow runs with nothing played: the
// cluster has a real node, the CatalogSource serves the shipped catalog
// image, and the operator runs as the pod of the Deployment OLM created,
// from the shipped operator images (see RealNode).
//
// It must not start processes or clusters itself (the testbed does), install
// anything OLM would install (the CRD, RBAC and Deployment come from the
// InstallPlan), or leave anything running when Run returns.
package olmflow
