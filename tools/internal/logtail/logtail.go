// Package logtail reads the end of a process's log file, which is what the
// tools put into an error when a process they started misbehaves.
package logtail

import (
	"os"
	"strings"
)

// Tail returns the last n lines of the file at path, or a note saying why
// there is none.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
