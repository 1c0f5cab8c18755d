package bundle

import (
	"maps"
	"slices"
	"strings"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// The CSV labels that tell OLM and OperatorHub the platforms an operator
// supports (https://olm.operatorframework.io/docs/advanced-tasks/ship-operator-supporting-multiarch/).
const (
	archLabelPrefix = "operatorframework.io/arch."
	osLabelPrefix   = "operatorframework.io/os."
	labelSupported  = "supported"
)

// checkPlatformLabels is the offline part of operator-framework/api's
// multiarch validator: it takes the platforms the operator image is built
// for (PLATFORMS) where the validator would inspect the image, and checks
// that the CSV's operatorframework.io/arch.* and os.* labels say exactly
// those (none means amd64 and linux, as OLM reads it). The validator itself
// cannot run here: it runs `docker|podman pull` and `manifest inspect` on
// every image of the CSV, which needs a container engine and the images'
// registries, and takes no platform list instead.
func checkPlatformLabels(labels map[string]string, platforms []string, file string) problem.List {
	var ps problem.List
	wantArch, wantOS := map[string]bool{}, map[string]bool{}
	for _, p := range platforms {
		os, arch, _ := strings.Cut(p, "/")
		arch, _, _ = strings.Cut(arch, "/")
		wantOS[os], wantArch[arch] = true, true
	}
	ps.Add(comparePlatformLabels(labels, archLabelPrefix, "amd64", wantArch, file)...)
	ps.Add(comparePlatformLabels(labels, osLabelPrefix, "linux", wantOS, file)...)
	return ps
}

// comparePlatformLabels compares the labels with one prefix with the
// values wanted; no label at all means def.
func comparePlatformLabels(labels map[string]string, prefix, def string, want map[string]bool, file string) problem.List {
	var ps problem.List
	const check = "multiarch"
	declared := map[string]bool{}
	for k, val := range labels {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if val != labelSupported {
			ps.Errorf(check, file, "metadata.labels."+k, "%q: OLM only reads %q", val, labelSupported)
			continue
		}
		declared[name] = true
	}
	if len(declared) == 0 {
		declared[def] = true
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !declared[name] {
			ps.Errorf(check, file, "metadata.labels."+prefix+name, "missing: the operator image is built for %s (PLATFORMS), but OLM and OperatorHub list the operator for the labelled platforms only; add %s%s: %s", name, prefix, name, labelSupported)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(declared)) {
		if !want[name] {
			ps.Errorf(check, file, "metadata.labels."+prefix+name, "the CSV says %s is supported, but the operator image is not built for it (PLATFORMS)", name)
		}
	}
	return ps
}
