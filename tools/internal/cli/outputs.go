package cli

import (
	"errors"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
)

// output is a path a command writes or replaces, and the flag that named it.
type output struct {
	flag, path string
	// replaced is set for a directory the command replaces or empties: it
	// must be missing, empty or one the tools created.
	replaced bool
}

// checkOutputs refuses, before anything runs and every problem at once,
// an output inside a releases directory (only `catalog release` writes
// there) and a replaced directory the tools did not create.
func checkOutputs(outs ...output) error {
	var errs []error
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		errs = append(errs, catalog.CheckOutsideReleases(o.flag, o.path))
		if o.replaced {
			errs = append(errs, atomicdir.CheckReplaceable(o.flag, o.path))
		}
	}
	return errors.Join(errs...)
}
