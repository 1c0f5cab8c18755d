// Package bundleformat owns the registry+v1 bundle format as this project
// writes and reads it: the layout (manifests/, metadata/,
// tests/scorecard/), metadata/annotations.yaml, the labels of the bundle
// image and bundle.Dockerfile, the one Dockerfile reader and the one check
// that a Dockerfile describes a bundle, and the checks of
// metadata/properties.yaml values as OLM parses them. The label constants
// and media type are operator-registry's (pkg/lib/bundle).
//
// It must not render config/, build a CSV or validate manifests (package
// bundle does), nor build images (package images): it is the format both
// share, and catalog validation reuses its property checks.
package bundleformat
