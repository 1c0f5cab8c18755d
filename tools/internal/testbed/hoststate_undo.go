package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// undo puts the host back as the ledger found it, after every node process
// was stopped: what remains in the node's cgroups (shims, containers) is
// killed, everything mounted below stateDir is unmounted, the bridge is
// deleted, iptables rules and chains and nftables tables that appeared are
// removed, sysctls are set back, directories and cgroups that did not exist
// are removed. Each step runs even when an earlier one failed; the errors
// are reported together, and the ledger stays for another try.
func (l *hostLedger) undo(stateDir string) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	cgroups := append([]string{nodeCgroup}, l.Cgroups...)
	add(killCgroupTrees(l.CgroupRoots, cgroups))
	add(unmountUnder(append([]string{stateDir}, l.Missing...)...))
	if !slices.Contains(l.Links, nodeBridge) {
		add(deleteBridge())
	}
	add(l.restoreFirewall())
	add(l.restoreSysctls())
	for _, p := range l.Missing {
		add(removeAllUnmounted(p))
	}
	add(removeCgroupTrees(l.CgroupRoots, cgroups))
	add(l.checkLinks())
	return errors.Join(errs...)
}

// restoreFirewall deletes the iptables rules and chains added since the
// ledger was taken (through iptables-restore, which parses the rules as
// iptables-save printed them), then the nftables tables that did not exist
// and are the node's (nodeNftTable): kube-proxy's, and the ones iptables-nft
// created for rules of the kubelet's.
func (l *hostLedger) restoreFirewall() error {
	var errs []error
	for _, save := range slices.Sorted(maps.Keys(l.IptablesSave)) {
		now, err := runOutput(save)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		script := iptablesRestoreScript(parseIptablesSave(l.IptablesSave[save]), parseIptablesSave(now))
		if script == "" {
			continue
		}
		restore := strings.Replace(save, "-save", "-restore", 1)
		cmd := exec.Command(restore, "--noflush")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s --noflush: %w: %s (input:\n%s)", restore, err, strings.TrimSpace(string(out)), script))
		}
	}
	tables, err := nftTables()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, t := range tables {
		fields := strings.Fields(t) // table FAMILY NAME
		if slices.Contains(l.NftTables, t) || len(fields) != 3 || !nodeNftTable(fields[1], fields[2]) {
			continue
		}
		if _, err := runOutput("nft", "delete", "table", fields[1], fields[2]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// iptablesNftTables are the tables iptables-nft creates for iptables'
// tables.
var iptablesNftTables = []string{"filter", "nat", "mangle", "raw", "security"}

// nodeNftTable reports whether a table that appeared during the run is the
// node's to delete: kube-proxy's, or one iptables-nft created for rules
// that restoreFirewall just deleted and that is now empty, or the fence. A
// table of any other program is left alone.
func nodeNftTable(family, name string) bool {
	if family == "inet" && name == fenceTable {
		return true
	}
	if family != "ip" && family != "ip6" {
		return false
	}
	if name == "kube-proxy" {
		return true
	}
	if !slices.Contains(iptablesNftTables, name) {
		return false
	}
	out, err := runOutput("nft", "-j", "list", "table", family, name)
	if err != nil {
		return false
	}
	var listing struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if json.Unmarshal([]byte(out), &listing) != nil {
		return false
	}
	for _, obj := range listing.Nftables {
		if _, ok := obj["rule"]; ok {
			return false
		}
	}
	return true
}

// restoreSysctls writes back every recorded sysctl whose value changed.
func (l *hostLedger) restoreSysctls() error {
	var errs []error
	now := readSysctls()
	for _, rel := range slices.Sorted(maps.Keys(l.Sysctls)) {
		cur, ok := now[rel]
		if !ok || sameSysctl(cur, l.Sysctls[rel]) {
			continue
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", rel), []byte(l.Sysctls[rel]), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s to %q (now %q): %w", rel, l.Sysctls[rel], cur, err))
		}
	}
	return errors.Join(errs...)
}

// sameSysctl compares values that the kernel prints with tabs but accepts
// with any blanks.
func sameSysctl(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

// checkLinks reports network interfaces that appeared and remain. A pod's
// veth goes when its network namespace does, which the kernel finishes a
// moment after the last unmount.
func (l *hostLedger) checkLinks() error {
	deadline := time.Now().Add(killGrace)
	for {
		now, err := linkNames()
		if err != nil {
			return err
		}
		extra := slices.DeleteFunc(now, func(n string) bool { return slices.Contains(l.Links, n) })
		if len(extra) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("network interfaces left behind: %s", strings.Join(extra, ", "))
		}
		time.Sleep(pollInterval)
	}
}
