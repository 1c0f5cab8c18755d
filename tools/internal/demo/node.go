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
	// whose layouts/ caches the built images.
	ImagesDir string
	// OpmImageDir receives the opm and grpc_health_probe that `make
	// testbed-image-binaries` builds for the catalog images (bin/opm-image);
	// used when Images is nil.
	OpmImageDir string
	// Images are the references of the images the scenario pulls
	// (testbed.NodeImagesOptions.Only); nil means every node image, whose
	// programs hack/testbed-image-binaries.sh builds first.
	Images []string
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

// RealNode is a real node a demo's pods run on, and the images pushed to
// its registry.
type RealNode struct {
	Options *testbed.RealNodeOptions
	Images  []testbed.NodeImage
}

// PrepareNode returns the real node where this host can run one (Linux,
// root, the Debian packages, which testbed.CheckRealNodeHost installs),
// after building what it lacks, with one line per build step on out and
// the scripts' whole output in workDir/build.log. Where it cannot, it says
// why in one line and returns nil: the demo runs on kwok's nodes.
func PrepareNode(ctx context.Context, n NodeConfig, repoRoot, workDir string, out io.Writer) (*RealNode, error) {
	if why := cannotRunNode(ctx, out); why != "" {
		fmt.Fprintf(out, "# kwok nodes only, no real node: %s\n", why)
		return nil, nil
	}
	imgs, err := buildNode(ctx, n, repoRoot, workDir, out)
	if err != nil {
		return nil, err
	}
	return &RealNode{
		Options: &testbed.RealNodeOptions{BinDir: n.BinDir, ToolsBinary: n.ToolsBinary, WaitForLock: n.WaitForLock, Progress: out},
		Images:  imgs,
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

// buildNode builds what the node runs and returns the images it pulls: the
// node's programs (hack/node-binaries.sh), Debian's memcached (hack/
// debs.sh), the images' programs when every image is wanted (hack/
// testbed-image-binaries.sh), and the images. A first run says up front
// what the node's programs cost.
func buildNode(ctx context.Context, n NodeConfig, repoRoot, workDir string, out io.Writer) ([]testbed.NodeImage, error) {
	logFile := filepath.Join(workDir, "build.log")
	step(out, "Build the real node and the images it pulls (each step skipped when up to date)")
	if !allExist(n.BinDir, nodeBinaries) {
		fmt.Fprintf(out, "# first run with a real node: kubelet, kube-proxy, containerd and CoreDNS are built from the Go module proxy, %s; output in %s\n", coldNodeEstimate, logFile)
	}
	hack := filepath.Join(repoRoot, "hack")
	scripts := [][]string{{"node-binaries.sh", n.BinDir}, {"debs.sh", n.DebsDir}}
	if n.Images == nil {
		scripts = append(scripts, []string{"testbed-image-binaries.sh", n.ImagesDir, n.OpmImageDir})
	}
	for _, script := range scripts {
		if err := runScript(ctx, out, logFile, filepath.Join(hack, script[0]), script[1:]...); err != nil {
			return nil, err
		}
	}
	imgs, err := testbed.NodeImages(ctx, testbed.NodeImagesOptions{
		RepoRoot: repoRoot, BinDir: n.ImagesDir, DebsDir: n.DebsDir, Only: n.Images,
		Log: func(format string, args ...any) { fmt.Fprintf(out, "[images] "+format+"\n", args...) },
	})
	if err != nil {
		return nil, fmt.Errorf("the node's images: %w", err)
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
