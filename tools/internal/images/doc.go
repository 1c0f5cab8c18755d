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
// again changes nothing. Release chains them as `make release` does, pinning
// the bundle's and the catalog's references by the pushed digests when asked.
//
// Registries are reached with the credentials of the docker config file
// (authn.DefaultKeychain: $DOCKER_CONFIG/config.json or ~/.docker, and
// podman's auth.json); plain HTTP only to a loopback registry (localhost,
// 127.0.0.0/8, [::1]), never to anything else, also where
// go-containerregistry would fall back to it (RFC 1918 and *.local hosts).
package images
