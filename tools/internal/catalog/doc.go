// Package catalog maintains the operator's file-based catalog (FBC) with
// operator-registry's own code.
//
// Layout, relative to the repository root:
//
//	catalog/template.yaml            operator-registry's semver template (olm.semver): bundle images by archetype
//	catalog/deprecations.yaml        the package's olm.deprecations blob (hand-written, optional)
//	catalog/.indexignore             makes opm skip both (and staging directories)
//	catalog/memcached-operator/      the rendered FBC: catalog.yaml, deprecations.yaml
//	releases/index.yaml              the bundle image each release was published as
//	releases/<version>/              each released bundle directory (manifests/, metadata/, tests/)
//
// The published catalog references bundle images that cannot be pulled
// everywhere (not offline, not in CI), so the content of every released
// bundle is kept in releases/<version>/. Render runs operator-registry's
// semver template (alpha/template/semver) with the bundle renderer of `opm
// alpha render-template` (action.Render of a bundle image, migrated to
// olm.csv.metadata) over an image registry whose images are those
// directories: catalog.yaml is what `opm alpha render-template semver
// --migrate-level bundle-object-to-csv-metadata -o yaml catalog/template.yaml`
// prints for the same bundle images. EmbedBundles renders a catalog OLM
// installs without pulling images (no image, olm.bundle.object), for the
// local OLM tests; MaxVersion cuts it at a release.
//
// Release (`tools catalog release`, `make catalog`) copies bundle/ to
// releases/<version>/, adds its image to the index and to the template's
// archetypes, renders and validates; Render re-renders; both write
// atomically only after ValidateConfig found nothing: model validation
// (what `opm validate` runs), deprecations, bundle properties as OLM parses
// them, the upgrade-graph checks (package graph) and CRD upgrade safety
// along every edge (package crdsafety). Package catalogserver serves a
// catalog over gRPC like a CatalogSource's registry pod.
//
// It must not pull images or reach a registry, compute upgrade edges itself
// (the semver template does), or write a catalog that failed validation.
package catalog
