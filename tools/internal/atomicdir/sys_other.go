//go:build !linux

package atomicdir

// renameExchange: no atomic exchange here; CommitAll swaps with two renames
// behind its journal.
func renameExchange(a, b string) error { return errNoExchange }
