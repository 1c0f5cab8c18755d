package atomicdir

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameExchange swaps a and b atomically with renameat2(RENAME_EXCHANGE)
// (Linux 3.15 and later, on the common file systems); errNoExchange where
// the kernel or the file system cannot.
func renameExchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		return errNoExchange
	}
	if err != nil {
		return &os.LinkError{Op: "renameat2 RENAME_EXCHANGE", Old: a, New: b, Err: err}
	}
	return nil
}
