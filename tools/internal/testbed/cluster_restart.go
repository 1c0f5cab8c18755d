package testbed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// RestartComponent stops one component of a cluster started by this process
// (SIGTERM, SIGKILL after ClusterOptions.StopTimeout), waits until its ports
// are free, starts it again with the same arguments and waits until it is
// usable: etcd healthy, the apiserver ready; the other components only have
// to survive their start. Everything else keeps running, so fault tests can
// take the apiserver away from its clients and give it back. The
// component's log file is appended to, and so is the audit log.
//
// It must not run concurrently with Stop or with another RestartComponent.
func (c *Cluster) RestartComponent(ctx context.Context, component string) error {
	i := slices.IndexFunc(c.components, func(p *Process) bool { return p.Name() == component })
	if i < 0 {
		return fmt.Errorf("restarting %s: not a component of this cluster", component)
	}
	old := c.components[i]
	if old.Exited() == nil {
		return fmt.Errorf("restarting %s: the cluster was not started by this process", component)
	}
	if err := old.Stop(c.opts.StopTimeout); err != nil && !errors.Is(err, ErrKilled) {
		return fmt.Errorf("restarting %s: %w", component, err)
	}
	p, err := StartProcess(old.spec)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", component, err)
	}
	c.mu.Lock()
	c.components[i] = p
	c.mu.Unlock()

	startCtx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	switch component {
	case Etcd:
		return c.waitFor(startCtx, Etcd, "become healthy again", c.etcdHealthy)
	case KubeAPIServer:
		return c.waitFor(startCtx, KubeAPIServer, "become ready again", apiServerReady(c.kube))
	default:
		// Nothing to ask these for; a bad flag or a missing file makes
		// them exit within moments.
		select {
		case <-p.Exited():
			return p.ExitedError("after its restart")
		case <-time.After(time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
