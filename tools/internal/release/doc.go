// Package release orchestrates `make release`: it builds the operator
// image, generates and validates the bundle for it (pinned by the built
// digest on request) and builds the bundle image; checks, before anything
// is pushed, that the version can be published (the catalog release as a
// dry run, and no tag naming another image); then pushes the operator and
// bundle images, releases the bundle into the catalog and builds and pushes
// the catalog image, each step through the package that owns it (images,
// bundle, catalog).
//
// It must not build image layers, render bundles or catalogs, or check
// them itself: it only chains the owners' calls and carries references and
// digests from one step to the next. It must never push before the checks,
// nor move a published tag.
package release
