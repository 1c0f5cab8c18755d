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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// Tracker watches the Memcacheds, Deployments and Pods of one namespace and
// tells, from its informers' caches, which Memcacheds have converged. It
// costs the API server one watch per kind, however often it is asked.
type Tracker struct {
	namespace   string
	criterion   Criterion
	memcacheds  cache.Store
	deployments cache.Store
	pods        cache.Indexer
	cancel      context.CancelFunc
}

// Criterion is what "converged" means beyond a Deployment ready at size.
type Criterion int

const (
	// Complete is this operator's full contract: its pods found by its
	// labels, and a status with the current observedGeneration,
	// readyReplicas, sorted nodes and the Available, Progressing and
	// Degraded conditions.
	Complete Criterion = iota
	// NodesNamed is what any Memcached controller derived from the
	// tutorial promises, so that two operators can be compared on the same
	// terms: status.nodes names exactly the live pods the Deployment
	// selects, in any order. Nothing else of the status is read, nor the
	// labels of the pods.
	NodesNamed
)

// String names the criterion in reports.
func (c Criterion) String() string {
	if c == NodesNamed {
		return "Deployment ready at size and status.nodes naming its pods"
	}
	return "Deployment ready at size and status complete"
}

// TrackerOptions say what a Tracker watches and how it judges.
type TrackerOptions struct {
	// Namespace to watch; empty watches every namespace, and the names of
	// a Want are then namespace/name.
	Namespace string
	Criterion Criterion
}

// NewTracker starts the informers of one namespace, with the Complete
// criterion, and waits until they have synced.
func NewTracker(ctx context.Context, admin kubernetes.Interface, dyn dynamic.Interface, namespace string) (*Tracker, error) {
	return StartTracker(ctx, admin, dyn, TrackerOptions{Namespace: namespace})
}

// StartTracker starts the informers and waits until they have synced.
func StartTracker(ctx context.Context, admin kubernetes.Interface, dyn dynamic.Interface, opts TrackerOptions) (*Tracker, error) {
	namespace := opts.Namespace
	ctx, cancel := context.WithCancel(ctx)
	typed := informers.NewSharedInformerFactoryWithOptions(admin, 0, informers.WithNamespace(namespace))
	deployments := typed.Apps().V1().Deployments().Informer()
	pods := typed.Core().V1().Pods().Informer()
	untyped := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, namespace, nil)
	memcacheds := untyped.ForResource(testbed.MemcachedGVR).Informer()
	// The cache holds Memcached values, read once per event rather than on
	// every Check.
	if err := memcacheds.SetTransform(func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			return testbed.MemcachedFromUnstructured(u)
		}
		return obj, nil
	}); err != nil {
		cancel()
		return nil, err
	}
	typed.Start(ctx.Done())
	untyped.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), deployments.HasSynced, pods.HasSynced, memcacheds.HasSynced) {
		cancel()
		return nil, fmt.Errorf("the tracker's informers for namespace %s did not sync", namespace)
	}
	return &Tracker{
		namespace:   namespace,
		criterion:   opts.Criterion,
		memcacheds:  memcacheds.GetStore(),
		deployments: deployments.GetStore(),
		pods:        pods.GetIndexer(),
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
	var podsOf map[string][]string
	if t.criterion == Complete {
		podsOf = t.labelledPods()
	}
	progress := Progress{Total: len(want), Pending: map[string]string{}, stages: map[string]stage{}}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		st, why := t.state(name, want[name], podsOf)
		progress.stages[name] = st
		if st != converged {
			progress.Pending[name] = why
		} else {
			progress.Converged = append(progress.Converged, name)
		}
	}
	return progress
}

// labelledPods are the live pods labelled as this operator's, by the key
// of their Memcached.
func (t *Tracker) labelledPods() map[string][]string {
	podsOf := map[string][]string{}
	for _, obj := range t.pods.List() {
		p := obj.(*corev1.Pod)
		if p.Labels[testbed.ManagedByLabel] != testbed.ManagerName || p.Labels[testbed.NameLabel] != "memcached" || !live(p) {
			continue
		}
		key := t.key(p.Namespace, p.Labels[testbed.InstanceLabel])
		podsOf[key] = append(podsOf[key], p.Name)
	}
	return podsOf
}

// selectedPods are the live pods the Deployment selects.
func (t *Tracker) selectedPods(d *appsv1.Deployment) []string {
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil
	}
	objs, _ := t.pods.ByIndex(cache.NamespaceIndex, d.Namespace)
	var names []string
	for _, obj := range objs {
		p := obj.(*corev1.Pod)
		if live(p) && selector.Matches(labels.Set(p.Labels)) {
			names = append(names, p.Name)
		}
	}
	return names
}

func live(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// key is how a Want names a Memcached: by name when the tracker watches one
// namespace, by namespace/name when it watches them all.
func (t *Tracker) key(namespace, name string) string {
	if t.namespace != "" {
		return name
	}
	return namespace + "/" + name
}

// storeKey is the informers' key of a Want's name.
func (t *Tracker) storeKey(name string) string {
	if t.namespace != "" {
		return t.namespace + "/" + name
	}
	return name
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

func (t *Tracker) state(name string, size int32, podsOf map[string][]string) (stage, string) {
	obj, exists, _ := t.memcacheds.GetByKey(t.storeKey(name))
	if !exists {
		return noDeployment, "no Memcached"
	}
	m := obj.(*testbed.Memcached)
	if m.Spec.Size != size {
		return noDeployment, fmt.Sprintf("spec.size %d, want %d", m.Spec.Size, size)
	}
	obj, exists, _ = t.deployments.GetByKey(t.storeKey(name))
	if !exists {
		return noDeployment, "no Deployment"
	}
	d := obj.(*appsv1.Deployment)
	if owner := metav1.GetControllerOf(d); owner == nil || owner.UID != m.UID {
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
	why := ""
	if t.criterion == NodesNamed {
		why = nodesIncomplete(m.Status.Nodes, t.selectedPods(d), size)
	} else {
		why = statusIncomplete(m, size, podsOf[name])
	}
	if why != "" {
		return deploymentReady, why
	}
	return converged, ""
}

// nodesIncomplete says how status.nodes differs from the pods, in any
// order; "" when they are the same size names. The size guards against a
// pod cache that lags behind the Deployment's status.
func nodesIncomplete(nodes, pods []string, size int32) string {
	got := slices.Sorted(slices.Values(nodes))
	slices.Sort(pods)
	if len(got) != int(size) || !slices.Equal(got, pods) {
		return fmt.Sprintf("status.nodes %v, pods %v", nodes, pods)
	}
	return ""
}

// statusIncomplete says what the Memcached's status lacks, "" when it is
// complete: observedGeneration current, readyReplicas at size, nodes naming
// exactly the live pods, Available true, Progressing and Degraded false.
func statusIncomplete(m *testbed.Memcached, size int32, pods []string) string {
	status := m.Status
	if status.ObservedGeneration != m.Generation {
		return fmt.Sprintf("status.observedGeneration %d, generation %d", status.ObservedGeneration, m.Generation)
	}
	if status.ReadyReplicas != size {
		return fmt.Sprintf("status.readyReplicas %d", status.ReadyReplicas)
	}
	slices.Sort(pods)
	if len(status.Nodes) != int(size) || !slices.Equal(status.Nodes, pods) {
		return fmt.Sprintf("status.nodes %v, pods %v", status.Nodes, pods)
	}
	for _, c := range []struct {
		condition string
		want      metav1.ConditionStatus
	}{{"Available", metav1.ConditionTrue}, {"Progressing", metav1.ConditionFalse}, {"Degraded", metav1.ConditionFalse}} {
		var got metav1.ConditionStatus
		if cond := meta.FindStatusCondition(status.Conditions, c.condition); cond != nil {
			got = cond.Status
		}
		if got != c.want {
			return fmt.Sprintf("%s is %q", c.condition, got)
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
