// Package logtail reads the end of a process's log file, which is what the
// tools put into an error when a process they started misbehaves.
package logtail

import (
	"fmt"
	"os"
	"strings"
)

const (
	// maxBytes is how much of the end of a log is read: logs of a long run
	// are large, and only their last lines are wanted.
	maxBytes = 64 << 10
	// lineMax cuts each line to a readable length (apiserver and OLM lines
	// can be kilobytes long).
	lineMax = 400
)

// Tail returns the last n lines of the file at path, each cut to a readable
// length, or a note saying why there is none.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	offset := max(info.Size()-maxBytes, 0)
	buf := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return fmt.Sprintf("(log %s unreadable: %v)", path, err)
	}
	return Last(string(buf), n)
}

// Last returns the last n lines of text, each cut to a readable length; ""
// when text has none.
func Last(text string, n int) string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, line := range lines {
		if len(line) > lineMax {
			lines[i] = line[:lineMax] + "..."
		}
	}
	return strings.Join(lines, "\n")
}
