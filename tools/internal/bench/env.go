package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/render"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

const (
	// fieldManager owns what the harness applies.
	fieldManager = "memcached-bench"

	// adminQPS lifts the harness's own client limits: creating hundreds of
	// Memcacheds or thousands of Pods at once must not be throttled on the
	// client side.
	adminQPS   = 1000
	adminBurst = 2000
)

// EnvOptions say where things are and how big the cluster is.
type EnvOptions struct {
	// RepoRoot holds config/ and the operator module.
	RepoRoot string
	// BinDir holds the control-plane binaries (make k8s-binaries).
	BinDir string
	// WorkDir receives the manager binary and the operators' logs. The
	// cluster's own state directory is a temporary one unless StateDir is
	// set.
	WorkDir string
	// StateDir, when set, keeps the cluster's logs and audit log there.
	StateDir string
	// Nodes is the number of fake Nodes; each takes 500 Pods.
	Nodes int
	// Manager, when set, is an already built manager binary.
	Manager string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Env is a running local cluster with the operator's CRD and RBAC installed
// and its manager built: everything an operator process needs but itself.
type Env struct {
	Cluster *testbed.Cluster
	// Admin, Client and Dynamic are system:masters clients with high rate
	// limits: Admin for built-in kinds, Client for Memcacheds (Memcacheds)
	// and applies, Dynamic for informers.
	Admin      kubernetes.Interface
	Client     client.Client
	Dynamic    dynamic.Interface
	RESTConfig *rest.Config
	// Manager is the manager binary.
	Manager string
	// WorkDir as given.
	WorkDir string

	log        io.Writer
	bindings   []*unstructured.Unstructured // the rendered bindings of the operator's ServiceAccount
	mu         sync.Mutex
	starts     int
	identities map[string]*testbed.Identity
}

// StartEnv starts the cluster (audit log on), builds the manager unless
// given, and applies config/default but for the manager's Deployment and
// Service: the CRD, the operator's namespace, ServiceAccount and roles.
// On error nothing is left running.
func StartEnv(ctx context.Context, opts EnvOptions) (env *Env, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, err
	}
	e := &Env{WorkDir: opts.WorkDir, log: opts.Log, identities: map[string]*testbed.Identity{}}

	// Build while the cluster starts: both take a while on two cores.
	buildDone := make(chan error, 1)
	e.Manager = opts.Manager
	if e.Manager == "" {
		e.Manager = filepath.Join(opts.WorkDir, "manager")
		go func() { buildDone <- testbed.BuildOperator(ctx, opts.RepoRoot, e.Manager) }()
	} else {
		buildDone <- nil
	}

	began := time.Now()
	cluster, err := testbed.StartCluster(ctx, testbed.ClusterOptions{
		BinDir:   opts.BinDir,
		StateDir: opts.StateDir,
		Nodes:    opts.Nodes,
		AuditLog: true,
	})
	if err != nil {
		<-buildDone
		return nil, fmt.Errorf("starting the local cluster: %w", err)
	}
	e.Cluster = cluster
	defer func() {
		if err != nil {
			err = errors.Join(err, cluster.Stop())
		}
	}()
	e.logf("cluster with %d node(s) ready in %s (state %s)", opts.Nodes, time.Since(began).Round(100*time.Millisecond), cluster.StateDir())
	if err := e.connect(); err != nil {
		<-buildDone
		return nil, err
	}
	if err := e.install(ctx, opts.RepoRoot); err != nil {
		<-buildDone
		return nil, err
	}
	if err := <-buildDone; err != nil {
		return nil, err
	}
	e.logf("CRD and RBAC installed, manager built in %s", time.Since(began).Round(100*time.Millisecond))
	return e, nil
}

// connect creates the harness's clients.
func (e *Env) connect() (err error) {
	e.RESTConfig = e.Cluster.RESTConfig()
	e.RESTConfig.QPS, e.RESTConfig.Burst = adminQPS, adminBurst
	if e.Admin, err = kubernetes.NewForConfig(e.RESTConfig); err != nil {
		return err
	}
	if e.Dynamic, err = dynamic.NewForConfig(e.RESTConfig); err != nil {
		return err
	}
	e.Client, err = testbed.NewClient(e.RESTConfig)
	return err
}

// Memcacheds is the client of namespace's Memcacheds.
func (e *Env) Memcacheds(namespace string) testbed.MemcachedClient {
	return testbed.Memcacheds(e.Client, namespace)
}

// Stop stops the cluster, and with it every operator still running.
func (e *Env) Stop() error { return e.Cluster.Stop() }

// Audit returns a reader of the cluster's audit log positioned at its start.
func (e *Env) Audit() *AuditReader { return NewAuditReader(e.Cluster.AuditLogPath()) }

func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// install applies config/default without the manager's workload, CRDs and
// namespaces first so that what follows has somewhere to go.
func (e *Env) install(ctx context.Context, repoRoot string) error {
	objs, err := render.Objects(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		return err
	}
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Deployment" || o.GetKind() == "Service"
	})
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return installOrder(a) - installOrder(b) })
	for _, obj := range objs {
		if (obj.GetKind() == "ClusterRoleBinding" || obj.GetKind() == "RoleBinding") &&
			bindsServiceAccount(obj, testbed.OperatorNamespace, testbed.OperatorServiceAccount) {
			e.bindings = append(e.bindings, obj)
		}
	}
	if len(e.bindings) == 0 {
		return fmt.Errorf("config/default binds no role to %s/%s", testbed.OperatorNamespace, testbed.OperatorServiceAccount)
	}
	return testbed.Apply(ctx, e.Client, fieldManager, objs...)
}
func installOrder(o *unstructured.Unstructured) int {
	switch o.GetKind() {
	case "CustomResourceDefinition":
		return 0
	case "Namespace":
		return 1
	default:
		return 2
	}
}

func bindsServiceAccount(binding *unstructured.Unstructured, namespace, name string) bool {
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	for _, s := range subjects {
		m, ok := s.(map[string]any)
		if ok && m["kind"] == "ServiceAccount" && m["name"] == name && m["namespace"] == namespace {
			return true
		}
	}
	return false
}

// Identity returns the identity of ServiceAccount name of the operator's
// namespace, creating it the first time: OperatorServiceAccount is the one
// config/default installs; any other gets copies of its role bindings, so
// that each operator process can have a user name of its own in the audit
// log.
func (e *Env) Identity(ctx context.Context, name string) (*testbed.Identity, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id, ok := e.identities[name]; ok {
		return id, nil
	}
	if name != testbed.OperatorServiceAccount {
		if err := e.createServiceAccount(ctx, name); err != nil {
			return nil, err
		}
	}
	id, err := e.Cluster.Identity(ctx, testbed.OperatorNamespace, name)
	if err != nil {
		return nil, err
	}
	e.identities[name] = id
	return id, nil
}

func (e *Env) createServiceAccount(ctx context.Context, name string) error {
	ns := testbed.OperatorNamespace
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if _, err := e.Admin.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount %s: %w", name, err)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	for _, b := range e.bindings {
		roleRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName}
		roleRef.Kind, _, _ = unstructured.NestedString(b.Object, "roleRef", "kind")
		roleRef.Name, _, _ = unstructured.NestedString(b.Object, "roleRef", "name")
		meta := metav1.ObjectMeta{Name: b.GetName() + "-" + name, Namespace: b.GetNamespace()}
		var err error
		if b.GetKind() == "ClusterRoleBinding" {
			_, err = e.Admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: meta, RoleRef: roleRef, Subjects: []rbacv1.Subject{subject},
			}, metav1.CreateOptions{})
		} else {
			_, err = e.Admin.RbacV1().RoleBindings(b.GetNamespace()).Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: meta, RoleRef: roleRef, Subjects: []rbacv1.Subject{subject},
			}, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("binding %s to %s: %w", name, roleRef.Name, err)
		}
	}
	return nil
}

// OperatorOptions say how to run one manager process.
type OperatorOptions struct {
	// Identity it authenticates as; required.
	Identity *testbed.Identity
	// Name prefixes its log file; defaults to the identity's name.
	Name string
	// WatchNamespace is WATCH_NAMESPACE: empty for all namespaces.
	WatchNamespace string
	// Args are further manager flags.
	Args []string
	// Metrics serves the manager's Prometheus metrics over plain HTTP on a
	// loopback port (Operator.MetricsURL), for its Go heap figures.
	Metrics bool
	// WaitForWorkers is testbed.OperatorOptions.WaitForWorkers: leave it
	// unset for a replica that waits for leadership.
	WaitForWorkers bool
	// Conventional is testbed.OperatorOptions.ConventionalFlags: for a
	// manager other than this repository's.
	Conventional bool
}

// Operator is a running manager process and who it runs as.
type Operator struct {
	*testbed.Operator
	Identity *testbed.Identity
}

// StartOperator runs the manager and waits until it is ready. Each start
// gets a log file of its own in the work directory.
func (e *Env) StartOperator(ctx context.Context, opts OperatorOptions) (*Operator, error) {
	if opts.Identity == nil {
		return nil, errors.New("an operator needs an identity")
	}
	name := opts.Name
	if name == "" {
		name = opts.Identity.ServiceAccount
	}
	e.mu.Lock()
	e.starts++
	name = fmt.Sprintf("%s-%02d", name, e.starts)
	e.mu.Unlock()
	op, err := e.Cluster.StartOperator(ctx, testbed.OperatorOptions{
		Name:              name,
		Binary:            e.Manager,
		Kubeconfig:        opts.Identity.Kubeconfig,
		WatchNamespace:    opts.WatchNamespace,
		Args:              opts.Args,
		LogFile:           filepath.Join(e.WorkDir, name+".log"),
		Metrics:           opts.Metrics,
		WaitForWorkers:    opts.WaitForWorkers,
		ConventionalFlags: opts.Conventional,
	})
	if err != nil {
		return nil, err
	}
	return &Operator{Operator: op, Identity: opts.Identity}, nil
}

// CreateNamespace creates a namespace for a test or a run.
func (e *Env) CreateNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// DeleteNamespaces deletes namespaces and, with wait set, waits until they
// are gone (the namespace controller and the garbage collector empty them).
func (e *Env) DeleteNamespaces(ctx context.Context, wait bool, timeout time.Duration, names ...string) error {
	for _, name := range names {
		err := e.Admin.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting namespace %s: %w", name, err)
		}
	}
	if !wait {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for _, name := range names {
		for {
			_, err := e.Admin.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s still exists %s after its deletion", name, timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}
