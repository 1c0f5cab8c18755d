package localcluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"
)

// RestartComponent stops one component of a cluster started by this process
// (SIGTERM, SIGKILL after Options.StopTimeout), waits until its ports are
// free, starts it again with the same arguments and waits until it is usable:
// etcd healthy, the apiserver ready; the other components only have to
// survive their start. Everything else keeps running, so fault tests can take
// the apiserver away from its clients and give it back. The component's log
// file is appended to, and so is the audit log.
//
// It must not run concurrently with Stop or with another RestartComponent.
func (c *Cluster) RestartComponent(ctx context.Context, component string) error {
	i := slices.IndexFunc(c.procs, func(p *process) bool { return p.component == component })
	if i < 0 {
		return fmt.Errorf("restarting %s: not a component of this cluster", component)
	}
	old := c.procs[i]
	if old.done == nil {
		return fmt.Errorf("restarting %s: the cluster was not started by this process", component)
	}
	if err := stopProcess(old, c.opts.StopTimeout); err != nil {
		return fmt.Errorf("restarting %s: %w", component, err)
	}
	if err := waitPortsClosed(ctx, old.ports); err != nil {
		return fmt.Errorf("restarting %s: %w", component, err)
	}

	args, err := componentArgs(component, c.layout, c.endpoints, c.opts)
	if err != nil {
		return err
	}
	p, err := startProcess(c.layout, c.opts.BinDir, component, args, componentEnv(component, c.layout),
		componentPorts(component, c.endpoints.ports), c.opts.Detached)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", component, err)
	}
	c.procs[i] = p

	startCtx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	switch component {
	case Etcd:
		return c.waitFor(startCtx, Etcd, "become healthy again", c.etcdHealthy)
	case KubeAPIServer:
		clientset, err := kubernetes.NewForConfig(c.restConfig)
		if err != nil {
			return fmt.Errorf("creating client: %w", err)
		}
		return c.waitFor(startCtx, KubeAPIServer, "become ready again", apiServerReady(clientset))
	default:
		// Nothing to ask these for; a bad flag or a missing file makes
		// them exit within moments.
		select {
		case <-p.done:
			return p.exitedError()
		case <-time.After(time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitPortsClosed waits until nothing accepts connections on the ports: a
// process can be reaped a moment before the kernel lets another bind them.
func waitPortsClosed(ctx context.Context, ports []int) error {
	deadline := time.Now().Add(killGrace)
	for _, port := range ports {
		for listening(port) {
			if time.Now().After(deadline) {
				return fmt.Errorf("port %d still accepts connections %s after the process exited", port, killGrace)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pollInterval):
			}
		}
	}
	return nil
}
