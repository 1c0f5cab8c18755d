// Package imageref is the project's one image-reference library, on
// go-containerregistry's name package: it parses references (by tag or by
// digest), splits one as written into repository, tag and digest, and
// reaches registries, where it holds the one digest resolver and the guard
// that keeps plain HTTP on loopback.
//
// Registries are reached with the credentials of the docker config file
// (authn.DefaultKeychain: $DOCKER_CONFIG/config.json or ~/.docker, and
// podman's auth.json); plain HTTP only to a loopback registry (localhost,
// 127.0.0.0/8, [::1]), never to anything else, also where
// go-containerregistry would fall back to it (RFC 1918 and *.local hosts).
//
// It must not build or push images (package images does) nor know about
// bundles or catalogs: every package that names an image uses it.
package imageref
