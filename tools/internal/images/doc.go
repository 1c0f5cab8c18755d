// Package images builds the operator's three images and pushes them to any
// registry without a container engine, with go-containerregistry:
//
//   - the operator image (OperatorImage): the manager built statically with
//     `go build` for each platform, alone in one layer of a FROM-scratch
//     image (user 65532:65532, entrypoint /manager), in an OCI image index,
//     as ko builds images;
//   - the bundle image (BundleImage): the bundle directory laid out as
//     bundle.Dockerfile lays it out (/manifests, /metadata,
//     /tests/scorecard), labelled with metadata/annotations.yaml;
//   - the catalog image (CatalogImage): what catalog.Dockerfile builds on
//     the opm image: opm and grpc_health_probe, the catalog at /configs and
//     opm's serve cache at /tmp/cache, per platform, in an OCI image index.
//
// Every layer is deterministic (sorted entries, times at the Unix epoch,
// numeric owners), so the same inputs give the same digests and pushing
// again changes nothing. Registries are reached through imageref (its
// credentials and its loopback-only plain-HTTP guard); an OCI image layout
// directory is the alternative to a registry.
//
// The primitives are exported for other FROM-scratch images (the testbed's
// stand-ins): Tree (files, directories, symbolic links), NewImage, OpmLayer,
// and Cached, which keeps an image as an OCI layout with the stamp of its
// inputs and builds it again only when the stamp changes.
//
// It is a leaf: it must not generate bundles, release catalogs or
// orchestrate a release (package release does), and imports no bundle,
// catalog or release package. The bundle format (layout, labels, the
// Dockerfile check) is bundleformat's.
package images
