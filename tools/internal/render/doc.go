// Package render builds the kustomizations under config/ with kustomize's Go
// API, as `kustomize build` would, without a kustomize binary and without
// editing config/ to set images.
package render
