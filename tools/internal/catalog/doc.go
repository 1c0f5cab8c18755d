// Package catalog maintains the operator's file-based catalog (FBC).
//
// Layout, relative to the repository root:
//
//	catalog/template.yaml          human-edited: released versions, bundle images, channels
//	catalog/.indexignore           makes opm skip the template (and staging directories)
//	catalog/memcached-operator/    the rendered FBC: olm.package, olm.channel, olm.bundle
//	releases/<version>/            each released bundle directory (manifests/, metadata/, tests/)
//
// The published catalog references bundle images that cannot be pulled
// everywhere (not offline, not in CI), so the content of every released
// bundle is kept in releases/<version>/: rendering reads the bundle content
// from there and only the image reference from the template, which keeps
// the catalog reproducible anywhere.
//
// Release (`tools catalog release`, `make catalog`) copies bundle/ to
// releases/<version>/ and adds the version to the template; Render (`tools
// catalog render`) renders the template; both validate (ValidateConfig) and
// write atomically. Bundles are rendered as `opm render` renders them:
// olm.package, olm.gvk (and olm.gvk.required, ...) properties, olm.csv.metadata
// and the image for the published catalog; no image and every manifest as
// olm.bundle.object for a catalog OLM installs from without pulling images
// (RenderOptions.EmbedBundles). Channel entries are computed by
// graph.Entries: each release replaces the previous one of its channel and
// skips its z-stream with a bounded skipRange.
//
// Validation collects every problem: operator-registry's model validation
// (what `opm validate` runs), the upgrade-graph checks of package graph, and
// CRD upgrade safety (package crdsafety). Package catalogserver serves a
// catalog over gRPC like a CatalogSource's registry pod.
package catalog
