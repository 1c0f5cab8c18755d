package testbed

import (
	"fmt"
	"os"
	"strings"
)

const (
	// tailMaxBytes is how much of the end of a log is read: logs of a long run
	// are large, and only their last lines are wanted.
	tailMaxBytes = 64 << 10
	// tailLineMax cuts each line to a readable length (apiserver and OLM lines
	// can be kilobytes long).
	tailLineMax = 400
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
	offset := max(info.Size()-tailMaxBytes, 0)
	buf := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return fmt.Sprintf("(log %s unreadable: %v)", path, err)
	}
	return lastLines(string(buf), n)
}

// lastLines returns the last n lines of text, each cut to a readable length; ""
// when text has none.
func lastLines(text string, n int) string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, line := range lines {
		if len(line) > tailLineMax {
			lines[i] = line[:tailLineMax] + "..."
		}
	}
	return strings.Join(lines, "\n")
}
