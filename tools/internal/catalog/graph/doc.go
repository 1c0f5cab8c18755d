// Package graph checks the upgrade graph of a file-based catalog the way
// OperatorHub's CI does, beyond what `opm validate` checks: the package's
// defaultChannel names one of its channels; no dangling bundle, no loop;
// exactly one channel head per channel, and every entry reaches it (so a
// cluster on any release of the channel can upgrade to the head); every
// replaces target of the channel is an entry of it; every skipRange parses,
// is bounded and agrees with replaces. A replaces or skips naming a bundle
// that is not in the catalog is a pruned release, which opm and OLM accept.
//
// It computes no edges (operator-registry's semver template does, see
// package catalog) and reads no files.
package graph
