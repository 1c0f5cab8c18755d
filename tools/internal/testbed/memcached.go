package testbed

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The operator as config/ installs it. The tools module does not import the
// operator's module (each builds alone, and the tools read config/, not the
// operator's code), so what the testbed needs of it is declared here, once.
const (
	// OperatorNamespace and OperatorServiceAccount are what config/default
	// creates for the operator (and what OLM installs it into in the
	// scenarios); the leader-election Lease lives there too.
	OperatorNamespace      = "memcached-operator-system"
	OperatorServiceAccount = "memcached-operator-controller-manager"

	// LeaseName is the manager's LeaderElectionID (operator/cmd/main.go).
	LeaseName = "memcached-operator.cache.example.com"

	// MemcachedCRD names the operator's CustomResourceDefinition.
	MemcachedCRD = "memcacheds.cache.example.com"

	// Labels the operator puts on what it creates
	// (operator/internal/controller/labels.go).
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagerName    = "memcached-operator"
)

// MemcachedGVR is the operator's resource.
var MemcachedGVR = schema.GroupVersionResource{Group: "cache.example.com", Version: "v1", Resource: "memcacheds"}

var memcachedGVK = MemcachedGVR.GroupVersion().WithKind("Memcached")

// Memcached is the part of the operator's custom resource that the
// scenarios set and read. It is a view, not the API: fields it does not
// declare are dropped when an object is read into it, so it is never
// written back with an update (MemcachedClient patches instead).
type Memcached struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MemcachedSpec   `json:"spec"`
	Status            MemcachedStatus `json:"status,omitempty"`
}

// MemcachedSpec is spec: the size, and whether the cache is monitored.
type MemcachedSpec struct {
	Size       int32                `json:"size"`
	Monitoring *MemcachedMonitoring `json:"monitoring,omitempty"`
}

// MemcachedMonitoring is spec.monitoring.
type MemcachedMonitoring struct {
	Enabled bool `json:"enabled"`
}

// MemcachedStatus is status as the operator reports it.
type MemcachedStatus struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	ReadyReplicas      int32              `json:"readyReplicas,omitempty"`
	Nodes              []string           `json:"nodes,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

// NewMemcached returns a Memcached of the given size.
func NewMemcached(namespace, name string, size int32) *Memcached {
	return &Memcached{
		TypeMeta:   metav1.TypeMeta{APIVersion: memcachedGVK.GroupVersion().String(), Kind: memcachedGVK.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       MemcachedSpec{Size: size},
	}
}

// MemcachedFromUnstructured reads a Memcached as an informer or a dynamic
// client returns it.
func MemcachedFromUnstructured(u *unstructured.Unstructured) (*Memcached, error) {
	m := &Memcached{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, m); err != nil {
		return nil, fmt.Errorf("reading Memcached %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return m, nil
}

// MemcachedClient reads and writes the Memcacheds of one namespace through
// a controller-runtime client, as unstructured objects on the wire and
// Memcached values in Go.
type MemcachedClient struct {
	c         client.Client
	namespace string
}

// Memcacheds returns the client of namespace's Memcacheds.
func Memcacheds(c client.Client, namespace string) MemcachedClient {
	return MemcachedClient{c: c, namespace: namespace}
}

func (mc MemcachedClient) object(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(memcachedGVK)
	u.SetNamespace(mc.namespace)
	u.SetName(name)
	return u
}

// Create creates m in the client's namespace.
func (mc MemcachedClient) Create(ctx context.Context, m *Memcached) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(m)
	if err != nil {
		return fmt.Errorf("encoding Memcached %s: %w", m.Name, err)
	}
	delete(obj, "status")
	return mc.CreateObject(ctx, obj)
}

// CreateObject creates a Memcached given as a JSON object, such as an
// alm-examples entry, with every field it has, in the client's namespace.
func (mc MemcachedClient) CreateObject(ctx context.Context, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(memcachedGVK)
	u.SetNamespace(mc.namespace)
	if err := mc.c.Create(ctx, u); err != nil {
		return fmt.Errorf("creating Memcached %s/%s: %w", mc.namespace, u.GetName(), err)
	}
	return nil
}

// Get reads one Memcached.
func (mc MemcachedClient) Get(ctx context.Context, name string) (*Memcached, error) {
	u := mc.object(name)
	if err := mc.c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
		return nil, err
	}
	return MemcachedFromUnstructured(u)
}

// List reads every Memcached of the namespace.
func (mc MemcachedClient) List(ctx context.Context) ([]*Memcached, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(memcachedGVK.GroupVersion().WithKind("MemcachedList"))
	if err := mc.c.List(ctx, list, client.InNamespace(mc.namespace)); err != nil {
		return nil, fmt.Errorf("listing Memcacheds in %s: %w", mc.namespace, err)
	}
	out := make([]*Memcached, 0, len(list.Items))
	for i := range list.Items {
		m, err := MemcachedFromUnstructured(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Patch applies a JSON merge patch to one Memcached.
func (mc MemcachedClient) Patch(ctx context.Context, name string, patch []byte, opts ...client.PatchOption) error {
	return mc.c.Patch(ctx, mc.object(name), client.RawPatch(types.MergePatchType, patch), opts...)
}

// Resize sets spec.size of one Memcached.
func (mc MemcachedClient) Resize(ctx context.Context, name string, size int32) error {
	if err := mc.Patch(ctx, name, fmt.Appendf(nil, `{"spec":{"size":%d}}`, size)); err != nil {
		return fmt.Errorf("resizing memcached %s/%s to %d: %w", mc.namespace, name, size, err)
	}
	return nil
}
