//go:build !unix

package atomicdir

import "errors"

var errUnsupported = errors.New("atomic output needs a Unix system (inode numbers, flock)")

func inode(string) (uint64, error) { return 0, errUnsupported }

func lockDirs([]string) (func(), error) { return nil, errUnsupported }
