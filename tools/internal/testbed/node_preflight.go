package testbed

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// cniBinDir is where Debian's containernetworking-plugins installs the
// plugins.
const cniBinDir = "/usr/lib/cni"

// Node binaries, built by `make node-binaries`.
const (
	Kubelet        = "kubelet"
	KubeProxy      = "kube-proxy"
	Containerd     = "containerd"
	containerdShim = "containerd-shim-runc-v2"
	CoreDNS        = "coredns"
	// RegistryProcess is the loopback registry's process name.
	RegistryProcess = "registry"
)

var nodeBinaries = []string{Kubelet, KubeProxy, Containerd, containerdShim, CoreDNS}

// hostRequirement is a Debian package the node needs, and the commands (in
// PATH) and files it provides.
type hostRequirement struct {
	pkg      string
	commands []string
	files    []string
}

var hostRequirements = []hostRequirement{
	{pkg: "runc", commands: []string{"runc"}},
	{pkg: "containernetworking-plugins", files: []string{cniBinDir + "/bridge", cniBinDir + "/host-local", cniBinDir + "/loopback"}},
	{pkg: "nftables", commands: []string{"nft"}},
	{pkg: "iptables", commands: []string{"iptables", "iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore"}},
	{pkg: "iproute2", commands: []string{"ip"}},
	{pkg: "mount", commands: []string{"mount", "umount"}},
	{pkg: "util-linux", commands: []string{"unshare"}},
}

// hostFacts is what preflight looks at, so that tests can present another
// host.
type hostFacts struct {
	goos     string
	euid     int
	lookPath func(string) (string, error)
	exists   func(string) bool
}

func thisHost() hostFacts {
	return hostFacts{
		goos:     runtime.GOOS,
		euid:     os.Geteuid(),
		lookPath: exec.LookPath,
		exists: func(p string) bool {
			_, err := os.Stat(p)
			return err == nil
		},
	}
}

// checkHost fails, in one line, on what no install can fix here: another
// OS, not root. It returns the Debian packages whose commands or files are
// missing.
func checkHost(f hostFacts) (missing []string, missingWhat []string, err error) {
	if f.goos != "linux" {
		return nil, nil, fmt.Errorf("real node: needs Linux (this is %s); `make local-up` without REAL_NODE runs kwok nodes only", f.goos)
	}
	if f.euid != 0 {
		return nil, nil, fmt.Errorf("real node: needs root (running as uid %d): run it as root, e.g. `sudo make local-up REAL_NODE=1`", f.euid)
	}
	for _, req := range hostRequirements {
		var gone []string
		for _, c := range req.commands {
			if _, err := f.lookPath(c); err != nil {
				gone = append(gone, c)
			}
		}
		for _, file := range req.files {
			if !f.exists(file) {
				gone = append(gone, file)
			}
		}
		if len(gone) > 0 {
			missing = append(missing, req.pkg)
			missingWhat = append(missingWhat, gone...)
		}
	}
	return missing, missingWhat, nil
}

// preflight checks, within seconds and before anything is changed, that a
// real node can start: the host (CheckRealNodeHost), then the node
// binaries. Every error is one line saying what is missing and what to run.
func preflight(ctx context.Context, o RealNodeOptions) error {
	if err := CheckRealNodeHost(ctx, o.Progress); err != nil {
		return err
	}
	for _, name := range nodeBinaries {
		if _, err := os.Stat(filepath.Join(o.BinDir, name)); err != nil {
			return fmt.Errorf("real node: %s not found in %s: run `make node-binaries`", name, o.BinDir)
		}
	}
	if _, err := os.Stat(o.ToolsBinary); err != nil {
		return fmt.Errorf("real node: the tools binary %s (it serves the loopback registry) does not exist: run `make tools`", o.ToolsBinary)
	}
	return nil
}

// CheckRealNodeHost checks what no build target provides: Linux, root, and
// the Debian packages (runc, the CNI plugins, nftables, iptables, ...),
// which it installs with apt-get when they are missing. It fails in one
// line naming what is missing and the command that fixes it. progress
// (may be nil) is told when packages are being installed.
func CheckRealNodeHost(ctx context.Context, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	f := thisHost()
	missing, what, err := checkHost(f)
	if err != nil || len(missing) == 0 {
		return err
	}
	install := "apt-get install -y --no-install-recommends " + strings.Join(missing, " ")
	if _, err := f.lookPath("apt-get"); err != nil {
		return fmt.Errorf("real node: %s not found (Debian packages %s) and apt-get is not in PATH to install them: run `%s` as root",
			strings.Join(what, ", "), strings.Join(missing, ", "), install)
	}
	if err := aptInstall(ctx, progress, missing); err != nil {
		return fmt.Errorf("real node: installing %s failed (%v): run `%s` as root", strings.Join(missing, ", "), err, install)
	}
	if still, what, _ := checkHost(f); len(still) > 0 {
		return fmt.Errorf("real node: %s still not found in PATH after installing %s", strings.Join(what, ", "), strings.Join(still, ", "))
	}
	return nil
}

// aptInstall installs the packages, refreshing the package lists first only
// when the install cannot find them (a fresh machine has none).
func aptInstall(ctx context.Context, progress io.Writer, pkgs []string) error {
	fmt.Fprintf(progress, "real node: installing Debian packages %s (apt-get)\n", strings.Join(pkgs, " "))
	// Test packages starting nodes at once install at once: the second
	// waits for dpkg's lock instead of failing on it.
	install := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends"}, pkgs...)
	if err := apt(ctx, install...); err == nil {
		return nil
	}
	if err := apt(ctx, "-o", "DPkg::Lock::Timeout=300", "update"); err != nil {
		return err
	}
	return apt(ctx, install...)
}

// apt runs apt-get without a terminal's questions; its error is the last
// line apt printed, which names the cause.
func apt(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(lines[len(lines)-1]))
}
