package atomicdir

import "errors"

// errNoExchange says that two paths cannot be exchanged atomically here.
var errNoExchange = errors.New("atomic exchange not supported")

// exchangeOff makes exchange report errNoExchange, so that tests cover the
// two-rename swap on a kernel that has the exchange.
var exchangeOff bool

// exchange swaps a and b atomically, or reports errNoExchange.
func exchange(a, b string) error {
	if exchangeOff {
		return errNoExchange
	}
	return renameExchange(a, b)
}
