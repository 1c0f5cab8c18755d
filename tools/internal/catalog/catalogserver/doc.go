// Package catalogserver serves a file-based catalog over gRPC the way a
// CatalogSource's registry pod (`opm serve`) does: operator-registry's
// cache built from the catalog directory behind its registry server, with
// the gRPC health service and server reflection. OLM's catalog operator
// talks to it through a CatalogSource with spec.address set to the address.
//
// It must not listen beyond the address it is given (loopback by default),
// nor render or validate the catalog: it serves what the directory holds.
package catalogserver
