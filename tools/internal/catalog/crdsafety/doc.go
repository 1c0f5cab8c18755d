// Package crdsafety checks that upgrading from one release of an operator to
// a later one cannot break the custom resources that already exist, from the
// CRDs and alm-examples embedded in each release's bundle, for every pair of
// consecutive releases and every upgrade edge of the catalog:
//
//   - sigs.k8s.io/crdify, configured exactly as OLM v1's CRD upgrade-safety
//     preflight configures it (PreflightConfig): type, enum, minimum/maximum,
//     pattern, required, default, scope, removed fields, removed stored
//     versions, and any change it cannot classify ("unhandled"). What it
//     refuses, OLM v1 refuses, so the catalog must not offer it. The old CRD is
//     given as a cluster holds it: API server defaults, and status.storedVersions
//     holding every storage version of the releases up to it. Unserving a
//     version (served: false, kept in spec.versions) is allowed: it is OLM's
//     documented first step to retire one;
//   - a CRD of the older release must still be in the newer one;
//   - every alm-examples custom resource of every older release must still
//     validate against the newer CRD after the API server's pruning and
//     defaulting, with k8s.io/apiextensions-apiserver's own validator and CEL
//     rules (crdify compares schemas, not data).
//
// Every problem is reported, with the newer bundle, the CRD, its version and
// the field path; each crdify refusal once per target release, naming every
// release it refuses the upgrade from.
//
// It must not read a cluster or the file system: the caller gives the
// manifests; nor decide which edges exist (package graph does).
package crdsafety
