package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
)

// ErrMonitoringAPIsChanged ends a MonitoringWatch: the cluster now serves
// other monitoring APIs than when the operator started.
var ErrMonitoringAPIsChanged = errors.New("the monitoring APIs the cluster serves changed")

// MonitoringWatch is a manager Runnable that asks discovery every Interval
// which monitoring APIs the cluster serves and returns
// ErrMonitoringAPIsChanged when the answer differs from Started. What the
// manager caches and watches is fixed when it starts, so a Prometheus
// Operator installed after the operator would otherwise go unused until
// someone restarted it; returning the error stops the manager, and the
// process exits for its Deployment to restart it.
type MonitoringWatch struct {
	Discovery discovery.ServerResourcesInterface
	Started   MonitoringAPIs
	Interval  time.Duration
}

// Start polls until ctx ends or the APIs change. A failed discovery is
// logged and retried at the next tick: the API server being away for a
// while is no reason to restart.
func (w *MonitoringWatch) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("monitoring-apis")
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now, err := DiscoverMonitoring(w.Discovery)
		if err != nil {
			log.Error(err, "Unable to discover the monitoring APIs; trying again later")
			continue
		}
		if now != w.Started {
			return fmt.Errorf("%w: %+v at start, %+v now", ErrMonitoringAPIsChanged, w.Started, now)
		}
	}
}

// NeedLeaderElection is false: every replica caches what the cluster
// serves, so every replica restarts.
func (w *MonitoringWatch) NeedLeaderElection() bool { return false }
