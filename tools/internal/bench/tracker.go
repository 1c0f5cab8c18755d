package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Tracker watches the Memcacheds, Deployments and Pods of one namespace and
// tells, from its informers' caches, which Memcacheds have converged. It
// costs the API server one watch per kind, however often it is asked.
type Tracker struct {
	namespace   string
	memcacheds  cache.Store
	deployments cache.Store
	pods        cache.Store
	cancel      context.CancelFunc
}

// NewTracker starts the informers and waits until they have synced.
func NewTracker(ctx context.Context, admin kubernetes.Interface, dyn dynamic.Interface, namespace string) (*Tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	typed := informers.NewSharedInformerFactoryWithOptions(admin, 0, informers.WithNamespace(namespace))
	deployments := typed.Apps().V1().Deployments().Informer()
	pods := typed.Core().V1().Pods().Informer()
	untyped := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, namespace, nil)
	memcacheds := untyped.ForResource(MemcachedGVR).Informer()
	typed.Start(ctx.Done())
	untyped.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), deployments.HasSynced, pods.HasSynced, memcacheds.HasSynced) {
		cancel()
		return nil, fmt.Errorf("the tracker's informers for namespace %s did not sync", namespace)
	}
	return &Tracker{
		namespace:   namespace,
		memcacheds:  memcacheds.GetStore(),
		deployments: deployments.GetStore(),
		pods:        pods.GetStore(),
		cancel:      cancel,
	}, nil
}

// Stop stops the informers.
func (t *Tracker) Stop() { t.cancel() }

// Progress is how far a set of Memcacheds got.
type Progress struct {
	Total     int
	Converged []string
	// Pending says, for each Memcached not converged yet, what is missing.
	Pending map[string]string

	stages map[string]stage
}

// Done reports whether every Memcached converged.
func (p Progress) Done() bool { return len(p.Pending) == 0 }

// String summarises the progress with a few examples of what is missing.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d converged", len(p.Converged), p.Total)
	names := make([]string, 0, len(p.Pending))
	for name := range p.Pending {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		if i == 5 {
			fmt.Fprintf(&b, "; ... %d more", len(names)-5)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", name, p.Pending[name])
	}
	return b.String()
}

// Check tells which Memcacheds of want have converged: the Memcached at its
// size, its Deployment (named like it and controlled by it) rolled out with
// every replica ready, and its status complete: observedGeneration current,
// readyReplicas at size, nodes naming exactly the live pods, Available true,
// Progressing and Degraded false.
func (t *Tracker) Check(want Want) Progress {
	podsOf := map[string][]string{}
	for _, obj := range t.pods.List() {
		p := obj.(*corev1.Pod)
		if p.Labels[ManagedByLabel] != ManagerName || p.Labels[NameLabel] != "memcached" || p.DeletionTimestamp != nil ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		podsOf[p.Labels[InstanceLabel]] = append(podsOf[p.Labels[InstanceLabel]], p.Name)
	}
	progress := Progress{Total: len(want), Pending: map[string]string{}, stages: map[string]stage{}}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		st, why := t.state(name, want[name], podsOf[name])
		progress.stages[name] = st
		if st != converged {
			progress.Pending[name] = why
		} else {
			progress.Converged = append(progress.Converged, name)
		}
	}
	return progress
}

// stage is how far one Memcached got: the operator created its Deployment,
// the Deployment controller, the scheduler and kwok made it ready, the
// operator wrote the final status.
type stage int

const (
	noDeployment stage = iota
	deployed
	deploymentReady
	converged
)

func (t *Tracker) state(name string, size int32, pods []string) (stage, string) {
	obj, exists, _ := t.memcacheds.GetByKey(t.namespace + "/" + name)
	if !exists {
		return noDeployment, "no Memcached"
	}
	m := obj.(*unstructured.Unstructured)
	if specSize, _, _ := unstructured.NestedInt64(m.Object, "spec", "size"); specSize != int64(size) {
		return noDeployment, fmt.Sprintf("spec.size %d, want %d", specSize, size)
	}
	obj, exists, _ = t.deployments.GetByKey(t.namespace + "/" + name)
	if !exists {
		return noDeployment, "no Deployment"
	}
	d := obj.(*appsv1.Deployment)
	if owner := metav1.GetControllerOf(d); owner == nil || owner.UID != m.GetUID() {
		return noDeployment, "Deployment not controlled by the Memcached"
	}
	switch {
	case d.Spec.Replicas == nil || *d.Spec.Replicas != size:
		return deployed, fmt.Sprintf("Deployment spec.replicas %v", deref(d.Spec.Replicas))
	case d.Status.ObservedGeneration < d.Generation:
		return deployed, "Deployment not observed"
	case d.Status.Replicas != size || d.Status.UpdatedReplicas != size || d.Status.ReadyReplicas != size || d.Status.AvailableReplicas != size:
		return deployed, fmt.Sprintf("Deployment %d replicas, %d updated, %d ready", d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas)
	}
	status, _, _ := unstructured.NestedMap(m.Object, "status")
	if gen, _, _ := unstructured.NestedInt64(status, "observedGeneration"); gen != m.GetGeneration() {
		return deploymentReady, fmt.Sprintf("status.observedGeneration %d, generation %d", gen, m.GetGeneration())
	}
	if ready, _, _ := unstructured.NestedInt64(status, "readyReplicas"); ready != int64(size) {
		return deploymentReady, fmt.Sprintf("status.readyReplicas %d", ready)
	}
	nodes, _, _ := unstructured.NestedStringSlice(status, "nodes")
	slices.Sort(pods)
	if len(nodes) != int(size) || !slices.Equal(nodes, pods) {
		return deploymentReady, fmt.Sprintf("status.nodes %v, pods %v", nodes, pods)
	}
	for _, c := range []struct{ condition, want string }{{"Available", "True"}, {"Progressing", "False"}, {"Degraded", "False"}} {
		if got := conditionStatus(status, c.condition); got != c.want {
			return deploymentReady, fmt.Sprintf("%s is %q", c.condition, got)
		}
	}
	return converged, ""
}

func conditionStatus(status map[string]any, conditionType string) string {
	conditions, _, _ := unstructured.NestedSlice(status, "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == conditionType {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// Convergence is what WaitConverged saw. Times are from the start given,
// observed every 100ms.
type Convergence struct {
	// Elapsed is until every Memcached was converged at once.
	Elapsed time.Duration
	// First is, for each Memcached, when it was first seen converged.
	First map[string]time.Duration
	// Deployed is when its Deployment was first seen: the operator's first
	// reconcile is done.
	Deployed map[string]time.Duration
	// Ready is when its Deployment was first seen ready at size: from there
	// on, only the operator's status write was missing.
	Ready map[string]time.Duration
}

// Percentile of the first-converged times, p in [0, 100].
func (c Convergence) Percentile(p float64) time.Duration {
	return percentile(slices.Collect(maps.Values(c.First)), p)
}

// AllDeployed is when the last Memcached got its Deployment.
func (c Convergence) AllDeployed() time.Duration {
	return percentile(slices.Collect(maps.Values(c.Deployed)), 100)
}

// StatusLag is the p-th percentile, over the Memcacheds, of the time from
// their Deployment being ready at size to their status being complete: the
// operator's own share of the end of a rollout.
func (c Convergence) StatusLag(p float64) time.Duration {
	var lags []time.Duration
	for name, first := range c.First {
		if ready, ok := c.Ready[name]; ok {
			lags = append(lags, first-ready)
		}
	}
	return percentile(lags, p)
}

func percentile(all []time.Duration, p float64) time.Duration {
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[int(p/100*float64(len(all)-1))]
}

// WaitConverged polls the caches every 100ms until every Memcached of want
// has converged, and reports progress every ten seconds to report (which may
// be nil). It gives up after timeout with the last progress in its error.
func (t *Tracker) WaitConverged(ctx context.Context, want Want, start time.Time, timeout time.Duration, report func(Progress)) (Convergence, error) {
	conv := Convergence{First: map[string]time.Duration{}, Deployed: map[string]time.Duration{}, Ready: map[string]time.Duration{}}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	lastReport := time.Now()
	for {
		now := time.Now()
		p := t.Check(want)
		for name, st := range p.stages {
			for _, m := range []struct {
				times map[string]time.Duration
				stage stage
			}{{conv.Deployed, deployed}, {conv.Ready, deploymentReady}, {conv.First, converged}} {
				if _, seen := m.times[name]; !seen && st >= m.stage {
					m.times[name] = now.Sub(start)
				}
			}
		}
		if p.Done() {
			conv.Elapsed = now.Sub(start)
			return conv, nil
		}
		if report != nil && time.Since(lastReport) >= 10*time.Second {
			report(p)
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return conv, fmt.Errorf("waiting for convergence: %w (%s)", ctx.Err(), p)
		case <-deadline:
			return conv, fmt.Errorf("not converged within %s: %s", timeout, p)
		case <-tick.C:
		}
	}
}

func deref(p *int32) any {
	if p == nil {
		return "nil"
	}
	return *p
}
