// Package olm runs the Operator Lifecycle Manager itself — its olm and
// catalog operators, built from source by `make olm-binaries` — against a
// local cluster, so installs and upgrades through CatalogSources and
// Subscriptions are tested against the real resolver, InstallPlans and CSV
// controller rather than an imitation.
//
// No container runs on the local cluster, which shapes two choices: catalogs
// are served over gRPC from a process on loopback (a CatalogSource of
// spec.address), and their bundles embed their manifests (olm.bundle.object,
// no image), which OLM then installs without an unpack Job.
package olm
