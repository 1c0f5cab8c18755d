package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"

	"github.com/example-inc/memcached-operator/tools/internal/localcluster"
	"github.com/example-inc/memcached-operator/tools/internal/operatorprocess"
	"github.com/example-inc/memcached-operator/tools/internal/render"
)

const (
	// OperatorNamespace and OperatorServiceAccount are what config/default
	// creates for the operator; the leader-election Lease lives there too.
	OperatorNamespace      = "memcached-operator-system"
	OperatorServiceAccount = "memcached-operator-controller-manager"

	// LeaseName is the manager's LeaderElectionID (operator/cmd/main.go).
	LeaseName = "memcached-operator.cache.example.com"

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
	// WorkDir receives the manager binary, the operators' logs and the
	// kubeconfigs of their identities. The cluster's own state directory is
	// a temporary one unless StateDir is set.
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
	Cluster *localcluster.Cluster
	// Admin is a system:masters client with high rate limits.
	Admin      kubernetes.Interface
	Dynamic    dynamic.Interface
	RESTConfig *rest.Config
	// Manager is the manager binary.
	Manager string
	// WorkDir as given.
	WorkDir string

	log        io.Writer
	mapper     meta.RESTMapper
	bindings   []*unstructured.Unstructured // the rendered bindings of the operator's ServiceAccount
	mu         sync.Mutex
	starts     int
	identities map[string]*Identity
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
	e := &Env{WorkDir: opts.WorkDir, log: opts.Log, identities: map[string]*Identity{}}

	// Build while the cluster starts: both take a while on two cores.
	buildDone := make(chan error, 1)
	e.Manager = opts.Manager
	if e.Manager == "" {
		e.Manager = filepath.Join(opts.WorkDir, "manager")
		go func() { buildDone <- operatorprocess.Build(ctx, opts.RepoRoot, e.Manager) }()
	} else {
		buildDone <- nil
	}

	began := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{
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

	e.RESTConfig = cluster.RESTConfig()
	e.RESTConfig.QPS, e.RESTConfig.Burst = adminQPS, adminBurst
	if e.Admin, err = kubernetes.NewForConfig(e.RESTConfig); err != nil {
		return nil, err
	}
	if e.Dynamic, err = dynamic.NewForConfig(e.RESTConfig); err != nil {
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

// Stop stops the cluster. Operators started with StartOperator must be
// stopped by the caller first.
func (e *Env) Stop() error { return e.Cluster.Stop() }

// Audit returns a reader of the cluster's audit log positioned at its start.
func (e *Env) Audit() *AuditReader { return NewAuditReader(e.Cluster.AuditLogPath()) }

func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// install applies config/default without the manager's workload.
func (e *Env) install(ctx context.Context, repoRoot string) error {
	objs, err := render.Objects(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(e.RESTConfig)
	if err != nil {
		return err
	}
	e.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	// CRDs and namespaces first, so that what follows has somewhere to go.
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return installOrder(a) - installOrder(b) })
	for _, obj := range objs {
		switch obj.GetKind() {
		case "Deployment", "Service":
			continue
		case "ClusterRoleBinding", "RoleBinding":
			if bindsServiceAccount(obj, OperatorNamespace, OperatorServiceAccount) {
				e.bindings = append(e.bindings, obj)
			}
		}
		if err := e.Apply(ctx, obj); err != nil {
			return err
		}
		if obj.GetKind() == "CustomResourceDefinition" {
			if err := e.waitEstablished(ctx, obj.GetName()); err != nil {
				return err
			}
		}
	}
	if len(e.bindings) == 0 {
		return fmt.Errorf("config/default binds no role to %s/%s", OperatorNamespace, OperatorServiceAccount)
	}
	return nil
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

// Apply server-side applies one object as the harness.
func (e *Env) Apply(ctx context.Context, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	mapping, err := e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("mapping %s: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = e.Dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = e.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: ptr.To(true)})
	if err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (e *Env) waitEstablished(ctx context.Context, name string) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd, err := e.Dynamic.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conditions {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

// Identity is a ServiceAccount with the operator's roles and a kubeconfig
// that authenticates as it, so that each operator process has a user name
// of its own in the audit log.
type Identity struct {
	// ServiceAccount in OperatorNamespace.
	ServiceAccount string
	// Username as the API server and its audit log know it.
	Username string
	// Kubeconfig holds a token of the ServiceAccount.
	Kubeconfig string
}

// Identity returns the identity of ServiceAccount name, creating it the
// first time: OperatorServiceAccount is the one config/default installs;
// any other gets copies of its role bindings.
func (e *Env) Identity(ctx context.Context, name string) (*Identity, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id, ok := e.identities[name]; ok {
		return id, nil
	}
	if name != OperatorServiceAccount {
		if err := e.createServiceAccount(ctx, name); err != nil {
			return nil, err
		}
	}
	token, err := e.Admin.CoreV1().ServiceAccounts(OperatorNamespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for %s: %w", name, err)
	}
	id := &Identity{
		ServiceAccount: name,
		Username:       "system:serviceaccount:" + OperatorNamespace + ":" + name,
		Kubeconfig:     filepath.Join(e.WorkDir, name+".kubeconfig"),
	}
	if err := localcluster.WriteTokenKubeconfig(id.Kubeconfig, e.Cluster.RESTConfig(), token.Status.Token, ""); err != nil {
		return nil, err
	}
	e.identities[name] = id
	return id, nil
}

func (e *Env) createServiceAccount(ctx context.Context, name string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: OperatorNamespace}}
	if _, err := e.Admin.CoreV1().ServiceAccounts(OperatorNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount %s: %w", name, err)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: OperatorNamespace}
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
	Identity *Identity
	// Name prefixes its log file; defaults to the identity's name.
	Name string
	// WatchNamespace is WATCH_NAMESPACE: empty for all namespaces.
	WatchNamespace string
	// Args are further manager flags.
	Args []string
	// Metrics serves the manager's Prometheus metrics over plain HTTP on a
	// loopback port (Operator.MetricsURL), for its Go heap figures.
	Metrics bool
	// WaitForWorkers makes StartOperator return only once the Memcached
	// controller's workers run. The readiness probe answers once the caches
	// have synced, a moment before that; Memcacheds created in between
	// arrive with the initial list, which controller-runtime's priority
	// queue serves after every fresh event. Leave it unset for a replica
	// that waits for leadership.
	WaitForWorkers bool
}

// Operator is a running manager process.
type Operator struct {
	*operatorprocess.Operator
	Identity *Identity
	LogFile  string
	// MetricsURL is the metrics endpoint, when Options.Metrics was set.
	MetricsURL string
}

// StartOperator runs the manager and waits until it is ready.
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
	logFile := filepath.Join(e.WorkDir, fmt.Sprintf("%s-%02d.log", name, e.starts))
	e.mu.Unlock()

	args := slices.Clone(opts.Args)
	var metricsURL string
	if opts.Metrics {
		port, err := operatorprocess.FreePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args = append(args, "--metrics-bind-address="+addr, "--metrics-secure=false")
		metricsURL = "http://" + addr + "/metrics"
	}
	op, err := operatorprocess.Start(ctx, operatorprocess.Options{
		Binary:         e.Manager,
		Kubeconfig:     opts.Identity.Kubeconfig,
		WatchNamespace: opts.WatchNamespace,
		Args:           args,
		LogFile:        logFile,
	})
	if err != nil {
		return nil, err
	}
	o := &Operator{Operator: op, Identity: opts.Identity, LogFile: logFile, MetricsURL: metricsURL}
	if opts.WaitForWorkers {
		if err := o.waitForWorkers(ctx, time.Minute); err != nil {
			_ = op.Stop()
			return nil, err
		}
	}
	return o, nil
}

// waitForWorkers waits for controller-runtime's "Starting workers" log line
// of the memcached controller.
func (o *Operator) waitForWorkers(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(o.LogFile)
		if err != nil {
			return err
		}
		for line := range strings.Lines(string(data)) {
			if strings.Contains(line, `"msg":"Starting workers"`) && strings.Contains(line, `"controller":"memcached"`) {
				return nil
			}
		}
		select {
		case <-o.Exited():
			return fmt.Errorf("the manager exited before its workers started; see %s", o.LogFile)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager's workers did not start within %s; see %s", timeout, o.LogFile)
		}
	}
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
