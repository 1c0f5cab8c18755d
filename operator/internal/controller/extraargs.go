package controller

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// allowedExtraArg is the extraArgs allow-list, for one argument that starts
// with '-': an option that tunes the cache, read as memcached's getopt reads
// it (short options grouped, long ones with =value). The operator is what
// enforces it: the CRD's rule must stay the one 0.3.1 released, which
// refuses only the flags the operator sets from the spec when named
// directly, because OLM v1's CRD upgrade-safety preflight refuses any change
// to a CEL rule (docs/crd-upgrade-safety.md); and an API server with CEL
// validation off (1.25 to 1.28 allow it) applies no rule at all.
// TestExtraArgsAgainstMemcached checks the list on every form of every
// option the real memcached has.
var allowedExtraArg = regexp.MustCompile(`^(-[MCFXWL]*([ofnRbBD].*)?|--|` +
	`--(disable-evictions|disable-cas|disable-flush-all|disable-dumping|disable-watch|enable-largepages)|` +
	`--(extended|slab-growth-factor|slab-min-size|max-reqs-per-event|listen-backlog|protocol)(=.*)?)$`)

// ExtraArgAllowed tells whether the allow-list accepts arg in extraArgs.
func ExtraArgAllowed(arg string) bool {
	return !strings.HasPrefix(arg, "-") || allowedExtraArg.MatchString(arg)
}

// allowedExtraArgs is args without those the allow-list refuses. Leaving
// one out leaves its value, if apart, as an argument that memcached ignores:
// getopt stops at no argument that does not start with '-'.
func allowedExtraArgs(args []string) []string {
	return slices.DeleteFunc(slices.Clone(args), func(a string) bool { return !ExtraArgAllowed(a) })
}

// refusedExtraArgs describes the arguments of extraArgs that the allow-list
// refuses, empty when there is none.
func refusedExtraArgs(args []string) string {
	var refused []string
	for i, a := range args {
		if !ExtraArgAllowed(a) {
			refused = append(refused, fmt.Sprintf("spec.extraArgs[%d] %q", i, a))
		}
	}
	if len(refused) == 0 {
		return ""
	}
	return strings.Join(refused, ", ") + " left out of memcached's command line: only options that tune the cache are allowed, see the CRD's description of extraArgs"
}
