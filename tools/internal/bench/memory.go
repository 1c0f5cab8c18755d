package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Memory is a process's memory as the kernel and, when its metrics are
// served, the Go runtime see it. All figures are bytes.
type Memory struct {
	// RSS is VmRSS: resident now.
	RSS uint64 `json:"rss"`
	// HWM is VmHWM: the peak resident size so far.
	HWM uint64 `json:"hwm"`
	// HeapInuse is go_memstats_heap_inuse_bytes, 0 when unknown: unlike
	// RSS it does not depend on when the runtime returns memory to the OS.
	HeapInuse uint64 `json:"heapInuse,omitempty"`
}

// ReadMemory reads VmRSS and VmHWM from /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	return readProcStatus(fmt.Sprintf("/proc/%d/status", pid))
}

func readProcStatus(path string) (Memory, error) {
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch key {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return m, fmt.Errorf("%s: unexpected %s line %q", path, key, sc.Text())
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		*dst = kb * 1024
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("%s has no VmRSS", path)
	}
	return m, nil
}

// ReadOperatorMemory reads the operator's RSS and, when it serves metrics,
// its Go heap in use.
func ReadOperatorMemory(ctx context.Context, op *Operator) (Memory, error) {
	m, err := ReadMemory(op.Pid())
	if err != nil || op.MetricsURL == "" {
		return m, err
	}
	values, err := ScrapeMetrics(ctx, op.MetricsURL, "go_memstats_heap_inuse_bytes")
	if err != nil {
		return m, err
	}
	m.HeapInuse = uint64(values["go_memstats_heap_inuse_bytes"])
	return m, nil
}

// ScrapeMetrics reads the named metrics from a Prometheus text endpoint,
// each summed over its label sets.
func ScrapeMetrics(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseMetrics(bufio.NewScanner(resp.Body), names)
}

func parseMetrics(sc *bufio.Scanner, names []string) (map[string]float64, error) {
	values := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name, value := line[:i], line[i+1:]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		if !slices.Contains(names, name) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		values[name] += v
	}
	return values, sc.Err()
}

// MiB formats bytes as mebibytes.
func MiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on
// every Linux architecture Go supports (the kernel exports that value to
// user space whatever its internal HZ).
const clockTicks = 100

// ReadCPU reads the CPU time a process has used so far, user and system,
// from /proc/<pid>/stat.
func ReadCPU(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(data))
}

// parseStatCPU reads utime and stime, the 14th and 15th fields; the second
// field, the command in parentheses, may hold spaces and parentheses, so
// fields are counted after its last ')'.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat %q: no command field", stat)
	}
	fields := strings.Fields(stat[i+1:]) // from the 3rd field, state
	if len(fields) < 13 {
		return 0, fmt.Errorf("stat %q: %d fields after the command", stat, len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return float64(ticks) / clockTicks, nil
}
