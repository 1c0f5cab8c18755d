package envtest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
	"github.com/example-inc/memcached-operator/operator/internal/platform"
	"github.com/example-inc/memcached-operator/operator/internal/scope"
)

// ---------------------------------------------------------------------------
// Polling

// eventually calls f until it returns nil and fails the test with f's last
// error when waitTimeout passes first.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", waitTimeout, what, err)
		}
		time.Sleep(pollInterval)
	}
}

// consistently calls f for d and fails the test as soon as it returns an
// error. It is only for asserting that something does not happen, after the
// positive outcome it would have come with has been seen.
func consistently(t testing.TB, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(pollInterval)
	}
}

// ---------------------------------------------------------------------------
// Namespaces and objects

// newNamespace creates a namespace for one test, enforcing the restricted Pod
// Security Standard so that every pod a test creates from the operator's pod
// template is checked against it by the API server's PodSecurity admission.
// Its Memcacheds and the namespace are deleted when the test ends (envtest
// has no namespace controller: the namespace stays Terminating, and refuses
// new objects, for the rest of the run).
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "memcached-test-",
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		},
	}}
	if err := k8sClient.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := k8sClient.DeleteAllOf(ctx, &cachev1.Memcached{}, client.InNamespace(ns.Name)); err != nil {
			t.Errorf("deleting the Memcacheds of %s: %v", ns.Name, err)
		}
		if err := k8sClient.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			t.Errorf("deleting namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// newMemcached creates a Memcached and returns it as the API server stored it.
func newMemcached(t *testing.T, namespace, name string, size int32, image string) *cachev1.Memcached {
	t.Helper()
	m := &cachev1.Memcached{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       cachev1.MemcachedSpec{Size: size, Image: image},
	}
	if err := k8sClient.Create(t.Context(), m); err != nil {
		t.Fatalf("creating memcached %s/%s: %v", namespace, name, err)
	}
	return m
}

// updateMemcached applies mutate to the latest m and updates it, retrying on
// conflicts, and returns the stored result.
func updateMemcached(t *testing.T, key types.NamespacedName, mutate func(*cachev1.Memcached)) *cachev1.Memcached {
	t.Helper()
	m := &cachev1.Memcached{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(t.Context(), key, m); err != nil {
			return err
		}
		mutate(m)
		return k8sClient.Update(t.Context(), m)
	})
	if err != nil {
		t.Fatalf("updating memcached %s: %v", key, err)
	}
	return m
}

// updateDeployment applies mutate to the latest Deployment key and updates it
// (its status subresource when status is true), retrying on conflicts: the
// operator may write the same Deployment at the same time.
func updateDeployment(t *testing.T, key types.NamespacedName, status bool, mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(t.Context(), key, d); err != nil {
			return err
		}
		mutate(d)
		if status {
			return k8sClient.Status().Update(t.Context(), d)
		}
		return k8sClient.Update(t.Context(), d)
	})
	if err != nil {
		t.Fatalf("updating deployment %s (status %t): %v", key, status, err)
	}
	return d
}

// waitForDeployment polls the Deployment key until check accepts it and
// returns it. A missing Deployment is not accepted.
func waitForDeployment(t *testing.T, key types.NamespacedName, what string, check func(*appsv1.Deployment) error) *appsv1.Deployment {
	t.Helper()
	return waitForObject(t, key, func() *appsv1.Deployment { return &appsv1.Deployment{} }, what, check)
}

// waitForMemcached polls the Memcached key until check accepts it and
// returns it.
func waitForMemcached(t *testing.T, key types.NamespacedName, what string, check func(*cachev1.Memcached) error) *cachev1.Memcached {
	t.Helper()
	return waitForObject(t, key, func() *cachev1.Memcached { return &cachev1.Memcached{} }, what, check)
}

// wantCondition is what a test expects of one status condition.
type wantCondition struct {
	Type   string
	Status metav1.ConditionStatus
	Reason string
}

// checkConditions reports the first of want that m's status does not have,
// and any condition written for another generation than m's.
func checkConditions(m *cachev1.Memcached, want ...wantCondition) error {
	if m.Status.ObservedGeneration != m.Generation {
		return fmt.Errorf("status.observedGeneration %d, want metadata.generation %d", m.Status.ObservedGeneration, m.Generation)
	}
	for _, w := range want {
		c := meta.FindStatusCondition(m.Status.Conditions, w.Type)
		if c == nil {
			return fmt.Errorf("no %s condition in %v", w.Type, m.Status.Conditions)
		}
		if c.Status != w.Status || c.Reason != w.Reason {
			return fmt.Errorf("condition %s is %s/%s (%q), want %s/%s", w.Type, c.Status, c.Reason, c.Message, w.Status, w.Reason)
		}
		if c.ObservedGeneration != m.Generation {
			return fmt.Errorf("condition %s has observedGeneration %d, want %d", w.Type, c.ObservedGeneration, m.Generation)
		}
	}
	return nil
}

// newPod creates a pod as the Deployment's ReplicaSet would: named name,
// labelled and specified as d's pod template. It then sets its phase and
// readiness through the status subresource, as a kubelet would.
func newPod(t *testing.T, d *appsv1.Deployment, name string, phase corev1.PodPhase, ready bool) *corev1.Pod {
	t.Helper()
	return createPod(t, podFromTemplate(d, name), phase, ready)
}

// createPod creates pod, which also puts it through the namespace's
// restricted PodSecurity admission, and sets its phase and readiness.
func createPod(t *testing.T, pod *corev1.Pod, phase corev1.PodPhase, ready bool) *corev1.Pod {
	t.Helper()
	if err := k8sClient.Create(t.Context(), pod); err != nil {
		t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
	return setPodStatus(t, client.ObjectKeyFromObject(pod), phase, ready)
}

// podFromTemplate is a pod as d's ReplicaSet would create it.
func podFromTemplate(d *appsv1.Deployment, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: name, Labels: maps.Clone(d.Spec.Template.Labels)},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
}

// setPodStatus writes a pod's phase and Ready condition.
func setPodStatus(t *testing.T, key types.NamespacedName, phase corev1.PodPhase, ready bool) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(t.Context(), key, pod); err != nil {
			return err
		}
		readyStatus := corev1.ConditionFalse
		if ready {
			readyStatus = corev1.ConditionTrue
		}
		pod.Status.Phase = phase
		pod.Status.Conditions = []corev1.PodCondition{{
			Type:               corev1.PodReady,
			Status:             readyStatus,
			LastTransitionTime: metav1.Now(),
		}}
		return k8sClient.Status().Update(t.Context(), pod)
	})
	if err != nil {
		t.Fatalf("setting the status of pod %s: %v", key, err)
	}
	return pod
}

// readyStatus is the status the Deployment controller would write once
// replicas pods run the latest template of d and are available.
func readyStatus(d *appsv1.Deployment, replicas int32) appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           replicas,
		UpdatedReplicas:    replicas,
		ReadyReplicas:      replicas,
		AvailableReplicas:  replicas,
	}
}

// waitForEvent polls the events.k8s.io/v1 Events regarding obj until one has
// reason and a note containing noteContains, and returns it.
func waitForEvent(t *testing.T, obj client.Object, eventType, reason, noteContains string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, fmt.Sprintf("a %s event %s regarding %s containing %q", eventType, reason, obj.GetName(), noteContains), func() error {
		events, err := eventsRegarding(t.Context(), obj)
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range events {
			if e.Type == eventType && e.Reason == reason && strings.Contains(e.Note, noteContains) {
				found = e
				return nil
			}
			seen = append(seen, e.Reason+": "+e.Note)
		}
		return fmt.Errorf("events so far: %q", seen)
	})
	return found
}

// eventsRegarding lists the events.k8s.io/v1 Events whose regarding object
// is obj.
func eventsRegarding(ctx context.Context, obj client.Object) ([]eventsv1.Event, error) {
	list := &eventsv1.EventList{}
	if err := k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil, err
	}
	var events []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() {
			events = append(events, e)
		}
	}
	return events, nil
}

// checkControlledBy reports an error unless obj's only owner reference is a
// controller reference to m.
func checkControlledBy(obj metav1.Object, m *cachev1.Memcached) error {
	refs := obj.GetOwnerReferences()
	if len(refs) != 1 {
		return fmt.Errorf("owner references %v, want exactly one, to memcached %s", refs, m.Name)
	}
	want := metav1.OwnerReference{
		APIVersion:         cachev1.GroupVersion.String(),
		Kind:               "Memcached",
		Name:               m.Name,
		UID:                m.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
	if !reflect.DeepEqual(refs[0], want) {
		return fmt.Errorf("owner reference %+v, want %+v", refs[0], want)
	}
	return nil
}

// memcachedContainer returns d's memcached container, failing the test unless d runs
// exactly that one container.
func memcachedContainer(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "memcached" {
		t.Fatalf("deployment %s runs containers %v, want exactly one named memcached", d.Name, containerNames(cs))
	}
	return cs[0]
}

func containerNames(cs []corev1.Container) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// ---------------------------------------------------------------------------
// The operator

// runningOperator is one manager running the Memcached controller.
type runningOperator struct {
	// cache is the manager's cache: what the controller reads.
	cache cache.Cache
	// calls records every call the controller made through its client.
	calls *callLog
	// events records every Event the controller reported.
	events *eventLog
	// stop stops the manager and waits until it stopped. It is idempotent
	// and also runs when the test ends.
	stop func()
}

// startOperator starts a manager wired as cmd/main.go wires it, watching
// namespaces (all when empty) and shaping operands after operand. The
// controller's client records its calls in the returned callLog.
func startOperator(t *testing.T, namespaces []string, operand controller.OperandOptions) *runningOperator {
	t.Helper()
	return startOperatorWith(t, namespaces, operand, platform.MonitoringAPIs{})
}

// startOperatorWith is startOperator on a cluster that serves apis, as
// cmd/main.go discovers them at start.
func startOperatorWith(t *testing.T, namespaces []string, operand controller.OperandOptions, apis platform.MonitoringAPIs) *runningOperator {
	t.Helper()
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  scope.CacheOptions(namespaces, controller.ManagedSelector(), controller.CachedObjects(apis.ServiceMonitors, apis.PrometheusRules)),
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		// Every test registers a controller named memcached in its own
		// manager: the process-wide uniqueness check does not apply.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	calls, events := &callLog{}, &eventLog{}
	if err := (&controller.MemcachedReconciler{
		Client:                  calls.wrap(mgr.GetClient()),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                events.wrap(mgr.GetEventRecorder(controller.ManagerName)),
		Operand:                 operand,
		ServiceMonitors:         apis.ServiceMonitors,
		PrometheusRules:         apis.PrometheusRules,
		MaxConcurrentReconciles: 4,
	}).SetupWithManager(mgr); err != nil {
		t.Fatalf("setting up the controller: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager stopped with: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("manager did not stop within %s", waitTimeout)
		}
	})
	t.Cleanup(stop)
	return &runningOperator{cache: mgr.GetCache(), calls: calls, events: events, stop: stop}
}

// defaultOperand is what cmd/main.go builds on a cluster that is not
// OpenShift, with a recognisable default image.
func defaultOperand() controller.OperandOptions {
	return controller.OperandOptions{
		DefaultImage: "mirror.example.com/library/memcached:1.6.38",
		RunAsUser:    ptr.To(controller.MemcachedImageUID),
	}
}

// ---------------------------------------------------------------------------
// Recording the controller's API calls

// call is one call the controller made through its client.
type call struct {
	verb string // get, list, create, update, patch, delete, deleteallof, apply
	// subresource is empty for the object itself, "status" for Status().
	subresource string
	kind        string // the Go type's name: Memcached, Deployment, PodList
	key         types.NamespacedName
	// object is a copy of the object as the controller sent it, for writes
	// of typed objects.
	object client.Object
	// err is the call's outcome, once it returned.
	err error
	// at is when the call was made.
	at time.Time
}

func (c call) write() bool {
	return c.verb != "get" && c.verb != "list"
}

func (c call) String() string {
	s := c.verb + " " + c.kind
	if c.subresource != "" {
		s += "/" + c.subresource
	}
	if c.key.Name != "" {
		s += " " + c.key.String()
	}
	if c.err != nil {
		s += " (" + c.err.Error() + ")"
	}
	return s
}

// callLog records calls in the order they were made. It wraps a real
// client: nothing is faked.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

// do records a call, makes it with f and records its outcome.
func (l *callLog) do(verb, subresource string, obj any, key types.NamespacedName, f func() error) error {
	c := call{verb: verb, subresource: subresource, kind: kindOf(obj), key: key, at: time.Now()}
	if o, ok := obj.(client.Object); ok && c.write() {
		c.object = o.DeepCopyObject().(client.Object)
	}
	l.mu.Lock()
	i := len(l.calls)
	l.calls = append(l.calls, c)
	l.mu.Unlock()

	err := f()
	l.mu.Lock()
	l.calls[i].err = err
	l.mu.Unlock()
	return err
}

// snapshot returns the calls made so far.
func (l *callLog) snapshot() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// since returns the calls made after the first n.
func (l *callLog) since(n int) []call {
	return l.snapshot()[n:]
}

func (l *callLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

func kindOf(obj any) string {
	t := reflect.TypeOf(obj)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func keyOf(obj client.Object) types.NamespacedName {
	return client.ObjectKeyFromObject(obj)
}

// wrap returns c with every call recorded in l.
func (l *callLog) wrap(c client.Client) client.Client {
	none := types.NamespacedName{}
	return interceptor.NewClient(noWatch{c}, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			return l.do("get", "", obj, key, func() error { return c.Get(ctx, key, obj, opts...) })
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			return l.do("list", "", list, none, func() error { return c.List(ctx, list, opts...) })
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return l.do("create", "", obj, keyOf(obj), func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return l.do("update", "", obj, keyOf(obj), func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return l.do("patch", "", obj, keyOf(obj), func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj k8sruntime.ApplyConfiguration, opts ...client.ApplyOption) error {
			return l.do("apply", "", obj, none, func() error { return c.Apply(ctx, obj, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return l.do("delete", "", obj, keyOf(obj), func() error { return c.Delete(ctx, obj, opts...) })
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			return l.do("deleteallof", "", obj, none, func() error { return c.DeleteAllOf(ctx, obj, opts...) })
		},
		SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			return l.do("create", sub, obj, keyOf(obj), func() error { return c.SubResource(sub).Create(ctx, obj, subObj, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return l.do("update", sub, obj, keyOf(obj), func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return l.do("patch", sub, obj, keyOf(obj), func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj k8sruntime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			return l.do("apply", sub, obj, none, func() error { return c.SubResource(sub).Apply(ctx, obj, opts...) })
		},
	})
}

// eventLog records the Events the controller reports, by type and reason,
// and passes them on to the real recorder.
type eventLog struct {
	mu     sync.Mutex
	events []string // "Warning ReconcileFailed", ...
}

func (l *eventLog) wrap(r recorder.EventRecorder) recorder.EventRecorder {
	return &recordingRecorder{EventRecorder: r, log: l}
}

// count is how many Events of eventType have been reported so far.
func (l *eventLog) count(eventType string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if strings.HasPrefix(e, eventType+" ") {
			n++
		}
	}
	return n
}

type recordingRecorder struct {
	recorder.EventRecorder
	log *eventLog
}

func (r *recordingRecorder) Eventf(regarding, related k8sruntime.Object, eventType, reason, action, note string, args ...any) {
	r.log.mu.Lock()
	r.log.events = append(r.log.events, eventType+" "+reason)
	r.log.mu.Unlock()
	r.EventRecorder.Eventf(regarding, related, eventType, reason, action, note, args...)
}

// noWatch makes the manager's client a client.WithWatch for the interceptor;
// the controller never watches through its client.
type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch through the controller's client is not supported")
}

// ---------------------------------------------------------------------------
// Any kind of object

// waitForObject polls the object key (a fresh one from newObj each time)
// until check accepts it, and returns it. A missing object is not accepted.
func waitForObject[T client.Object](t *testing.T, key types.NamespacedName, newObj func() T, what string, check func(T) error) T {
	t.Helper()
	var found T
	eventually(t, fmt.Sprintf("%s %s: %s", kindOf(newObj()), key, what), func() error {
		got := newObj()
		if err := k8sClient.Get(t.Context(), key, got); err != nil {
			return err
		}
		if check != nil {
			if err := check(got); err != nil {
				return err
			}
		}
		found = got
		return nil
	})
	return found
}

// waitForGone polls until the object key of obj's kind does not exist.
func waitForGone(t *testing.T, key types.NamespacedName, obj client.Object, what string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s %s: %s", kindOf(obj), key, what), func() error {
		err := k8sClient.Get(t.Context(), key, obj)
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("still exists (uid %s)", obj.GetUID())
	})
}

// setPodServing writes a pod's status as a kubelet would once it got an IP:
// running, with the Ready condition as given.
func setPodServing(t *testing.T, key types.NamespacedName, ip string, ready bool) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(t.Context(), key, pod); err != nil {
			return err
		}
		readyStatus := corev1.ConditionFalse
		if ready {
			readyStatus = corev1.ConditionTrue
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.PodIP = ip
		pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		pod.Status.Conditions = []corev1.PodCondition{{
			Type:               corev1.PodReady,
			Status:             readyStatus,
			LastTransitionTime: metav1.Now(),
		}}
		return k8sClient.Status().Update(t.Context(), pod)
	})
	if err != nil {
		t.Fatalf("setting the status of pod %s: %v", key, err)
	}
	return pod
}
