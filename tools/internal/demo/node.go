package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// NodeConfig says where a real node's inputs are built and cached.
type NodeConfig struct {
	// BinDir holds what `make node-binaries` builds (bin/node).
	BinDir string
	// DebsDir holds what `make debs` fetches (bin/debs): memcached's image
	// is made of Debian's package.
	DebsDir string
	// ImagesDir is the testbed images' directory (bin/testbed-images),
	// whose layouts/ caches memcached's image.
	ImagesDir string
	// ToolsBinary is the `tools` binary: it serves the node's registry.
	ToolsBinary string
	// WaitForLock queues behind a real node another run holds (tests do);
	// otherwise the demo runs on kwok's nodes, saying so.
	WaitForLock bool
}

// nodeBinaries are what hack/node-binaries.sh leaves in its output.
var nodeBinaries = []string{".versions", "kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "coredns"}

// coldNodeEstimate is docs/build-times.md's figure for `make
// node-binaries` with nothing built (704 s on 2 cores under load).
const coldNodeEstimate = "about 12 minutes on 2 cores (docs/build-times.md: 704 s)"

// realNode is the real node the walk-through's pods run on, and the
// image it pulls; nil where the demo runs on kwok's nodes.
type realNode struct {
	opts   *testbed.RealNodeOptions
	images []testbed.NodeImage
}

// chooseNode returns the real node where this host can run one (Linux,
// root, the Debian packages, which testbed.CheckRealNodeHost installs),
// after building what it lacks. Where it cannot, it says why in one line
// and returns nil: the demo runs on kwok's nodes.
func chooseNode(ctx context.Context, cfg Config) (*realNode, error) {
	if cfg.Node == nil {
		return nil, nil
	}
	if why := cannotRunNode(ctx, cfg.Out); why != "" {
		fmt.Fprintf(cfg.Out, "# kwok nodes only, no real node: %s\n", why)
		return nil, nil
	}
	imgs, err := buildNode(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &realNode{
		opts: &testbed.RealNodeOptions{
			BinDir: cfg.Node.BinDir, ToolsBinary: cfg.Node.ToolsBinary, WaitForLock: cfg.Node.WaitForLock, Progress: cfg.Out,
		},
		images: imgs,
	}, nil
}

// cannotRunNode says why this host cannot run a real node, or "".
func cannotRunNode(ctx context.Context, out io.Writer) string {
	switch {
	case runtime.GOOS != "linux":
		return fmt.Sprintf("it needs Linux (this is %s)", runtime.GOOS)
	case os.Geteuid() != 0:
		return fmt.Sprintf("it needs root (running as uid %d); `sudo make demo` runs memcached for real", os.Geteuid())
	}
	if err := testbed.CheckRealNodeHost(ctx, out); err != nil {
		return err.Error()
	}
	return ""
}

// buildNode builds what the node runs and returns memcached's image: the
// node's programs (hack/node-binaries.sh), Debian's memcached (hack/
// debs.sh), and the image made of it. A first run says up front what it
// will cost; every run shows one line per build step and keeps the
// scripts' whole output in WorkDir/build.log.
func buildNode(ctx context.Context, cfg Config) ([]testbed.NodeImage, error) {
	n := cfg.Node
	logFile := filepath.Join(cfg.WorkDir, "build.log")
	step(cfg.Out, "Build the real node and memcached's image (each step skipped when up to date)")
	if !allExist(n.BinDir, nodeBinaries) {
		fmt.Fprintf(cfg.Out, "# first run with a real node: kubelet, kube-proxy, containerd and CoreDNS are built from the Go module proxy, %s; output in %s\n", coldNodeEstimate, logFile)
	}
	hack := filepath.Join(cfg.RepoRoot, "hack")
	for _, script := range [][]string{{"node-binaries.sh", n.BinDir}, {"debs.sh", n.DebsDir}} {
		if err := runScript(ctx, cfg.Out, logFile, filepath.Join(hack, script[0]), script[1:]...); err != nil {
			return nil, err
		}
	}
	imgs, err := testbed.NodeImages(ctx, testbed.NodeImagesOptions{
		RepoRoot: cfg.RepoRoot, BinDir: n.ImagesDir, DebsDir: n.DebsDir,
		Only: []string{testbed.MemcachedImage},
		Log:  func(format string, args ...any) { fmt.Fprintf(cfg.Out, "[images] "+format+"\n", args...) },
	})
	if err != nil {
		return nil, fmt.Errorf("memcached's image: %w", err)
	}
	return imgs, nil
}

func allExist(dir string, names []string) bool {
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// runScript runs one of hack/'s build scripts with its whole output
// appended to logFile, and shows on out only its step lines ("[name]
// ..."); when it fails, the error carries the log's last lines.
func runScript(ctx context.Context, out io.Writer, logFile, script string, args ...string) error {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n$ bash %s %s\n", script, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		tail = copySteps(pr, log, out)
	}()
	err = cmd.Run()
	_ = pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("%s failed (%w); its last lines (all in %s):\n%s", filepath.Base(script), err, logFile, strings.Join(tail, "\n"))
	}
	return nil
}

// copySteps copies every line to log and the step lines to out; it
// returns the last lines that are not `go: downloading` notices.
func copySteps(r io.Reader, log, out io.Writer) []string {
	const keep = 20
	var tail []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		if strings.HasPrefix(line, "[") {
			fmt.Fprintln(out, line)
		}
		if !strings.HasPrefix(line, "go: downloading") {
			tail = append(tail, line)
			if len(tail) > keep {
				tail = tail[1:]
			}
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		tail = append(tail, "(reading the output: "+err.Error()+")")
		_, _ = io.Copy(io.Discard, r) // the script must not block on a full pipe
	}
	return tail
}
