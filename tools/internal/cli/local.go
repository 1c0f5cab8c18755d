package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

const (
	defaultBinDir     = "bin/k8s"
	defaultNodeBinDir = "bin/node"
	defaultStateDir   = "bin/local"
)

// newLocalCommand groups the commands that manage the local control plane
// used by `make local-up`, `make local-down` and the e2e tests.
func newLocalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a local control plane (etcd, kube-apiserver, controllers, kwok nodes) on 127.0.0.1",
	}
	cmd.AddCommand(newLocalUpCommand(), newLocalDownCommand(), newLocalStatusCommand(), newLocalPreflightCommand())
	return cmd
}

func newLocalUpCommand() *cobra.Command {
	opts := testbed.ClusterOptions{Detached: true}
	var (
		realNode bool
		node     testbed.RealNodeOptions
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster in the background and wait until its Nodes are Ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Ctrl-C aborts the start and stops what was started; detached
			// components would otherwise ignore it and stay behind.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := checkOutputs(output{flag: "--state-dir", path: opts.StateDir}); err != nil {
				return err
			}
			if realNode {
				self, err := os.Executable()
				if err != nil {
					return fmt.Errorf("finding the tools binary to serve the registry: %w", err)
				}
				node.ToolsBinary, node.Progress = self, cmd.ErrOrStderr()
				opts.RealNode = &node
			}
			began := time.Now()
			c, err := testbed.StartCluster(ctx, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "local cluster up in %s: %s, %d kwok node(s)\n",
				time.Since(began).Round(100*time.Millisecond), c.Server(), opts.Nodes)
			if realNode {
				t := c.NodeTimings()
				fmt.Fprintf(out, "real node %s Ready %s after the kubelet started (node started in %s); registry %s\n",
					testbed.RealNodeName, t.KubeletToReady.Round(100*time.Millisecond), t.Total.Round(100*time.Millisecond), c.Registry().Host())
			}
			if audit := c.AuditLogPath(); audit != "" {
				fmt.Fprintf(out, "audit log: %s\n", audit)
			}
			fmt.Fprintf(out, "export KUBECONFIG=%s\n", c.Kubeconfig())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.BinDir, "bin-dir", defaultBinDir, "directory with the binaries built by make k8s-binaries")
	f.StringVar(&opts.StateDir, "state-dir", defaultStateDir, "directory for certificates, kubeconfig, etcd data, pid files and logs")
	f.IntVar(&opts.Nodes, "nodes", 1, "number of fake Nodes")
	f.BoolVar(&opts.AuditLog, "audit-log", false, "record every API request at level Metadata in STATE_DIR/logs/audit.log")
	f.IntVar(&opts.Ports.APIServer, "apiserver-port", 0, "loopback port of the apiserver (0 picks a free one)")
	f.DurationVar(&opts.StartTimeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
	f.BoolVar(&realNode, "real-node", false, "add a real node (kubelet, containerd, kube-proxy, CoreDNS, a loopback registry); needs Linux and root, changes the host until local down")
	f.StringVar(&node.BinDir, "node-bin-dir", defaultNodeBinDir, "directory with the binaries built by make node-binaries")
	f.BoolVar(&node.WaitForLock, "wait-for-lock", false, "with --real-node, wait for a real node of another state directory to stop instead of failing")
	return cmd
}

func newLocalPreflightCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "preflight",
		Short: "Check that a real node can run here (Linux, root, Debian packages, installed with apt-get when missing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return testbed.CheckRealNodeHost(cmd.Context(), cmd.ErrOrStderr())
		},
	}
}

func newLocalDownCommand() *cobra.Command {
	var (
		stateDir string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop every process of the local cluster, an operator a demo left running included; succeeds when nothing runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			began := time.Now()
			// An operator left running by `make demo KEEP=1` is a process of
			// the cluster: it stops with the controllers, before the API
			// server.
			stopped, err := testbed.ClusterDown(stateDir, timeout)
			// Nothing to stop is success, so `make local-down` is idempotent.
			if errors.Is(err, testbed.ErrNothingRunning) {
				fmt.Fprintf(cmd.OutOrStdout(), "local cluster: %v\n", err)
				return nil
			}
			if err != nil {
				return err
			}
			if len(stopped) == 0 {
				// ClusterDown found a dead real node's ledger and undid it.
				fmt.Fprintf(cmd.OutOrStdout(), "local cluster down in %s: nothing was running; the real node's host changes were put back\n",
					time.Since(began).Round(100*time.Millisecond))
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "local cluster down in %s: stopped %s\n",
				time.Since(began).Round(100*time.Millisecond), processList(stopped))
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir, "state directory given to tools local up")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "how long each process may take to exit after SIGTERM before SIGKILL")
	return cmd
}

func newLocalStatusCommand() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which processes of the local cluster run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, err := testbed.ClusterStatus(stateDir)
			if errors.Is(err, testbed.ErrNothingRunning) {
				fmt.Fprintf(cmd.OutOrStdout(), "local cluster: %v\n", err)
				return nil
			}
			if err != nil {
				return err
			}
			return printState(cmd.OutOrStdout(), state)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir, "state directory given to tools local up")
	return cmd
}

func printState(out io.Writer, state *testbed.ClusterState) error {
	if state.Server != "" {
		fmt.Fprintf(out, "apiserver:  %s\nkubeconfig: %s\n", state.Server, state.Kubeconfig)
	}
	if state.AuditLog != "" {
		fmt.Fprintf(out, "audit log:  %s\n", state.AuditLog)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROCESS\tPID\tSTATE\tPORTS\tLOG")
	for _, p := range state.Processes {
		status := "running"
		if !p.Running {
			status = "exited (stale pid file)"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", p.Name, p.PID, status, portList(p.Host, p.Ports), p.LogFile)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !state.Running() {
		fmt.Fprintln(out, "nothing running; `tools local down` removes the stale pid files")
	}
	return nil
}

func processList(procs []testbed.ProcessInfo) string {
	names := make([]string, 0, len(procs))
	for _, p := range procs {
		names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
	}
	return strings.Join(names, ", ")
}

// portList shows loopback ports as numbers, others (the real node's
// bridge address) with their address.
func portList(host string, ports []int) string {
	if len(ports) == 0 {
		return "-"
	}
	s := make([]string, 0, len(ports))
	for _, p := range ports {
		if host != "" {
			s = append(s, net.JoinHostPort(host, strconv.Itoa(p)))
			continue
		}
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ",")
}
