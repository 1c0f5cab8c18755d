// Package render builds the kustomizations under config/ with kustomize's Go
// API, as `kustomize build` would, without a kustomize binary and without
// editing config/ to set images. RenderFor renders for an older API server:
// the CRDs leave out the validation-rule fields it does not know
// (kubeversion.ForServer), as `make install` and `make demo` apply them.
package render
