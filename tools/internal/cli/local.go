package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/demo"
	"github.com/example-inc/memcached-operator/tools/internal/localcluster"
	"github.com/example-inc/memcached-operator/tools/internal/operatorprocess"
)

const (
	defaultBinDir   = "bin/k8s"
	defaultStateDir = "bin/local"
)

// newLocalCommand groups the commands that manage the local control plane
// used by `make local-up`, `make local-down` and the e2e tests.
func newLocalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a local control plane (etcd, kube-apiserver, controllers, kwok nodes) on 127.0.0.1",
	}
	cmd.AddCommand(newLocalUpCommand(), newLocalDownCommand(), newLocalStatusCommand())
	return cmd
}

func newLocalUpCommand() *cobra.Command {
	opts := localcluster.Options{Detached: true}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster in the background and wait until its Nodes are Ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Ctrl-C aborts the start and stops what was started; detached
			// components would otherwise ignore it and stay behind.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			began := time.Now()
			c, err := localcluster.Start(ctx, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "local cluster up in %s: %s, %d node(s)\n",
				time.Since(began).Round(100*time.Millisecond), c.Server(), opts.Nodes)
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
	return cmd
}

func newLocalDownCommand() *cobra.Command {
	var (
		stateDir string
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop every process of the local cluster; succeeds when nothing runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			began := time.Now()
			// An operator left running by `make demo KEEP=1` goes first, so it
			// does not outlive its API server.
			if ok, err := operatorprocess.StopFromPidFile(demo.OperatorPidFile(stateDir), timeout); err != nil {
				return err
			} else if ok {
				fmt.Fprintln(cmd.OutOrStdout(), "operator stopped")
			}
			stopped, err := localcluster.Down(stateDir, timeout)
			// Nothing to stop is success, so `make local-down` is idempotent.
			if errors.Is(err, localcluster.ErrNothingRunning) {
				fmt.Fprintf(cmd.OutOrStdout(), "local cluster: %v\n", err)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "local cluster down in %s: stopped %s\n",
				time.Since(began).Round(100*time.Millisecond), componentList(stopped))
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
			state, err := localcluster.Status(stateDir)
			if errors.Is(err, localcluster.ErrNothingRunning) {
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

func printState(out io.Writer, state *localcluster.State) error {
	if state.Server != "" {
		fmt.Fprintf(out, "apiserver:  %s\nkubeconfig: %s\n", state.Server, state.Kubeconfig)
	}
	if state.AuditLog != "" {
		fmt.Fprintf(out, "audit log:  %s\n", state.AuditLog)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tSTATE\tPORTS\tLOG")
	for _, p := range state.Processes {
		status := "running"
		if !p.Running {
			status = "exited (stale pid file)"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", p.Component, p.PID, status, portList(p.Ports), p.LogFile)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !state.Running() {
		fmt.Fprintln(out, "nothing running; `tools local down` removes the stale pid files")
	}
	return nil
}

func componentList(procs []localcluster.Process) string {
	names := make([]string, 0, len(procs))
	for _, p := range procs {
		names = append(names, fmt.Sprintf("%s (pid %d)", p.Component, p.PID))
	}
	return strings.Join(names, ", ")
}

func portList(ports []int) string {
	if len(ports) == 0 {
		return "-"
	}
	s := make([]string, 0, len(ports))
	for _, p := range ports {
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ",")
}
