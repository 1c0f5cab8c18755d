// Command tools is the release and development tooling of memcached-operator:
// it renders config/, builds and validates the OLM bundle and the file-based
// catalog, builds images, and runs a local control plane.
package main

import (
	"os"

	"github.com/example-inc/memcached-operator/tools/internal/cli"
)

func main() {
	if err := cli.NewRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
