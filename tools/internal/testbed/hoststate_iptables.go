package testbed

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// iptablesTables is one `iptables-save` output: per table, its chains with
// their policies ("-" for user chains) and its rules as iptables-save prints
// them ("-A CHAIN ...").
type iptablesTables map[string]iptablesTable

type iptablesTable struct {
	Policies map[string]string
	Rules    []string
}

// parseIptablesSave reads `iptables-save` (or ip6tables-save) output.
// Counters are ignored: only what a restore can put back matters.
func parseIptablesSave(out string) iptablesTables {
	tables := iptablesTables{}
	var cur string
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		case strings.HasPrefix(line, "*"):
			cur = line[1:]
			tables[cur] = iptablesTable{Policies: map[string]string{}}
		case cur == "":
		case strings.HasPrefix(line, ":"):
			fields := strings.Fields(line[1:])
			if len(fields) >= 2 {
				tables[cur].Policies[fields[0]] = fields[1]
			}
		case strings.HasPrefix(line, "-A "):
			t := tables[cur]
			t.Rules = append(t.Rules, line)
			tables[cur] = t
		}
	}
	return tables
}

// iptablesRestoreScript returns the `iptables-restore --noflush` input that
// takes the rules in now back to before: rules added since are deleted
// (each as many times as it was added), chains created since are flushed and
// deleted, built-in policies changed since are set back. Rules and chains
// that were there before are never touched, so a host's own firewall
// survives. It returns "" when there is nothing to undo.
func iptablesRestoreScript(before, now iptablesTables) string {
	var b strings.Builder
	for _, table := range slices.Sorted(maps.Keys(now)) {
		old, cur := before[table], now[table]
		var lines []string
		remaining := map[string]int{}
		for _, r := range old.Rules {
			remaining[r]++
		}
		for _, r := range cur.Rules {
			if remaining[r] > 0 {
				remaining[r]--
				continue
			}
			lines = append(lines, "-D "+strings.TrimPrefix(r, "-A "))
		}
		var added []string
		for _, chain := range slices.Sorted(maps.Keys(cur.Policies)) {
			oldPolicy, existed := old.Policies[chain]
			switch policy := cur.Policies[chain]; {
			case !existed && policy == "-":
				added = append(added, chain)
			case existed && policy != "-" && oldPolicy != policy:
				lines = append(lines, fmt.Sprintf("-P %s %s", chain, oldPolicy))
			}
		}
		// Flush every new chain before deleting any: they may jump to
		// each other.
		for _, chain := range added {
			lines = append(lines, "-F "+chain)
		}
		for _, chain := range added {
			lines = append(lines, "-X "+chain)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n%s\nCOMMIT\n", table, strings.Join(lines, "\n"))
	}
	return b.String()
}
