package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// BuildOperator compiles the manager of the operator module in repoRoot into
// out.
func BuildOperator(ctx context.Context, repoRoot, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./operator/cmd")
	cmd.Dir = repoRoot
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager (go build ./operator/cmd in %s): %w\n%s", repoRoot, err, output)
	}
	return nil
}

// BuildReleasedOperator compiles the manager of an earlier release: the
// operator module as it was in the commit that recorded releases/<version>
// in repoRoot's git history. Upgrade tests run that binary before the
// upgrade, with the permissions its own CSV granted.
func BuildReleasedOperator(ctx context.Context, repoRoot, version, out string) error {
	src, err := os.MkdirTemp("", "operator-"+version+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	rev, err := extractReleasedOperator(ctx, repoRoot, version, src)
	if err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd")
	build.Dir = filepath.Join(src, "operator")
	build.Env = append(os.Environ(), "GOWORK=off")
	if output, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager of release %s (commit %s): %w\n%s", version, rev, err, output)
	}
	return nil
}

// releaseCommit is the commit that recorded releases/<version> in
// repoRoot's git history: the release's sources.
func releaseCommit(ctx context.Context, repoRoot, version string) (string, error) {
	path := "releases/" + version
	logCmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%H", "--", path)
	logCmd.Dir = repoRoot
	commit, err := logCmd.Output()
	if err != nil || len(strings.TrimSpace(string(commit))) == 0 {
		return "", fmt.Errorf("finding the commit that recorded %s in the git history of %s (a full clone is needed): %v", path, repoRoot, err)
	}
	return strings.TrimSpace(string(commit)), nil
}

// extractReleasedOperator writes the operator module of release version
// (releaseCommit) to dst/operator and returns the commit.
func extractReleasedOperator(ctx context.Context, repoRoot, version, dst string) (string, error) {
	rev, err := releaseCommit(ctx, repoRoot, version)
	if err != nil {
		return "", err
	}
	archive := exec.CommandContext(ctx, "sh", "-c", `git archive "$0" operator | tar -x -C "$1"`, rev, dst)
	archive.Dir = repoRoot
	if output, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Errorf("extracting the operator of release %s from commit %s: %w\n%s", version, rev, err, output)
	}
	return rev, nil
}

// OperatorOptions say how to run the manager, the way `make run` does.
type OperatorOptions struct {
	// Name names its process, pid file and log file; defaults to "operator".
	Name string
	// Binary is the manager binary.
	Binary string
	// Kubeconfig the manager connects with (an Identity's, or the admin's).
	Kubeconfig string
	// WatchNamespace is WATCH_NAMESPACE: empty for all namespaces.
	WatchNamespace string
	// Env are further NAME=value variables (proxy settings, RELATED_IMAGE_*).
	Env []string
	// Args are further flags.
	Args []string
	// LogFile receives the manager's output; defaults to the cluster's logs.
	LogFile string
	// Metrics serves the manager's Prometheus metrics over plain HTTP on a
	// loopback port (Operator.MetricsURL).
	Metrics bool
	// WaitForWorkers makes StartOperator return only once the Memcached
	// controller's workers run. The readiness probe answers once the caches
	// have synced, a moment before that; Memcacheds created in between
	// arrive with the initial list, which controller-runtime's priority
	// queue serves after every fresh event. Leave it unset for a replica
	// that waits for leadership.
	WaitForWorkers bool
	// ConventionalFlags says the binary takes only the flags of
	// controller-runtime's scaffold (a baseline to compare with, such as
	// the tutorial's controller): the metrics are served over plain HTTP
	// with --metrics-bind-address alone, without this repository's
	// --metrics-secure=false, which such a binary would refuse.
	ConventionalFlags bool
	// ReadyTimeout bounds the wait for the manager's readiness probe (and
	// for its workers); defaults to a minute.
	ReadyTimeout time.Duration
}

// Operator is a running manager.
type Operator struct {
	*Process
	// MetricsURL is the metrics endpoint, when OperatorOptions.Metrics was
	// set.
	MetricsURL string
}

// StartOperator runs the manager as a process of the cluster and waits
// until its readiness endpoint answers. Stop it with Stop (the cluster's
// Stop stops it too).
func (c *Cluster) StartOperator(ctx context.Context, opts OperatorOptions) (*Operator, error) {
	if opts.Name == "" {
		opts.Name = "operator"
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = time.Minute
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("manager binary: %w", err)
	}
	probePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--health-probe-bind-address=" + hostPort(probePort), "--metrics-bind-address=0"}
	var metricsURL string
	if opts.Metrics {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		// The later flag wins over the default above.
		args = append(args, "--metrics-bind-address="+hostPort(port))
		if !opts.ConventionalFlags {
			args = append(args, "--metrics-secure=false")
		}
		metricsURL = "http://" + hostPort(port) + "/metrics"
	}
	p, err := c.StartProcess(ProcessSpec{
		Name:    opts.Name,
		Path:    opts.Binary,
		Args:    append(args, opts.Args...),
		Env:     append([]string{"KUBECONFIG=" + opts.Kubeconfig, "WATCH_NAMESPACE=" + opts.WatchNamespace}, opts.Env...),
		LogFile: opts.LogFile,
		Tier:    TierClients,
	})
	if err != nil {
		return nil, err
	}
	o := &Operator{Process: p, MetricsURL: metricsURL}
	if err := o.waitReady(ctx, probePort, opts); err != nil {
		return nil, errors.Join(err, p.Stop(0))
	}
	return o, nil
}

// waitReady waits for the readiness probe and, when asked, for
// controller-runtime's "Starting workers" log line of the memcached
// controller.
func (o *Operator) waitReady(ctx context.Context, port int, opts OperatorOptions) error {
	url := "http://" + hostPort(port) + "/readyz"
	ready := func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if err := o.poll(ctx, "ready", opts.ReadyTimeout, ready); err != nil || !opts.WaitForWorkers {
		return err
	}
	return o.poll(ctx, "running its workers", opts.ReadyTimeout, func() bool {
		data, _ := os.ReadFile(o.LogFile())
		return slices.ContainsFunc(strings.Split(string(data), "\n"), startingWorkers)
	})
}

// memcachedController matches the memcached controller's key in a log line
// of zap's JSON encoder ("controller":"memcached") or of its console
// encoder, the scaffold's development default ("controller": "memcached").
var memcachedController = regexp.MustCompile(`"controller": ?"memcached"`)

// startingWorkers tells controller-runtime's "Starting workers" line of
// the memcached controller, in either encoding.
func startingWorkers(line string) bool {
	return strings.Contains(line, "Starting workers") && memcachedController.MatchString(line)
}

func (o *Operator) poll(ctx context.Context, what string, timeout time.Duration, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		select {
		case <-o.Exited():
			return o.ExitedError("before it was " + what)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return withLogTail(fmt.Errorf("the manager was not %s after %s", what, timeout), o.LogFile())
		}
	}
	return nil
}

// Stop stops the manager (SIGTERM, SIGKILL after 15s); an error says it
// needed SIGKILL or that its ports stayed open.
func (o *Operator) Stop() error { return o.Process.Stop(0) }
