package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// etcdHealthy asks etcd's /health endpoint, which answers once the member
// has a leader and can serve requests.
func (c *Cluster) etcdHealthy(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoints.etcdClientURL()+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	var health struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &health); err != nil {
		return fmt.Errorf("unexpected /health answer %q: %w", body, err)
	}
	if health.Health != "true" {
		return fmt.Errorf("etcd reports unhealthy: %s", health.Reason)
	}
	return nil
}

// apiServerReady asks /readyz as the admin: anonymous access to it relies on
// RBAC roles the apiserver has not necessarily bootstrapped yet.
func apiServerReady(clientset kubernetes.Interface) func(context.Context) error {
	return func(ctx context.Context) error {
		body, err := clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		if failed := failedReadyzChecks(body); len(failed) > 0 {
			return fmt.Errorf("/readyz reports failing checks: %s", strings.Join(failed, ", "))
		}
		return err
	}
}

// failedReadyzChecks returns the names of the checks a verbose /readyz body
// marks failed ("[-]name failed: reason withheld"), which reads far better in
// a timeout error than the whole body.
func failedReadyzChecks(body []byte) []string {
	var failed []string
	for line := range strings.Lines(string(body)) {
		name, ok := strings.CutPrefix(line, "[-]")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		failed = append(failed, strings.TrimSpace(name))
	}
	return failed
}

func namespaceExists(clientset kubernetes.Interface, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err
	}
}

func serviceAccountExists(clientset kubernetes.Interface, namespace, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := clientset.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		return err
	}
}

// NodeName returns the name of the i-th fake Node, counting from 0.
func NodeName(i int) string { return "kwok-node-" + strconv.Itoa(i) }

// KwokTaint is on every kwok node of a cluster with a real node, so that
// unmodified workloads (the operator, its memcached pods, OLM's pods) run
// on the real node; kwok workloads (benchmarks, fault tests) tolerate it.
var KwokTaint = corev1.Taint{Key: kwokNodeAnnotation, Value: kwokNodeAnnotationValue, Effect: corev1.TaintEffectNoSchedule}

// fakeNode is a Node for kwok to manage. Capacity is generous so tests and
// benchmarks are never limited by scheduling. Without a real node there
// are no taints, so any Pod lands on it.
func fakeNode(name string, tainted bool) *corev1.Node {
	var taints []corev1.Taint
	if tainted {
		taints = []corev1.Taint{KwokTaint}
	}
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("500"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				kwokNodeAnnotation: kwokNodeAnnotationValue,
				// Lets clients skip caching the Node object's absence.
				"node.alpha.kubernetes.io/ttl": "0",
			},
			// The os and arch labels satisfy the node affinity that
			// kubebuilder-style manager Deployments carry.
			Labels: map[string]string{
				"type":                 "kwok",
				corev1.LabelHostname:   name,
				corev1.LabelOSStable:   "linux",
				corev1.LabelArchStable: runtime.GOARCH,
			},
		},
		Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    resources,
			Allocatable: resources,
		},
	}
}

// createNodes registers the fake Nodes. The apiserver accepts status on
// create for Nodes, which is how kubelets register too.
func createNodes(ctx context.Context, clientset kubernetes.Interface, n int, tainted bool) error {
	for i := range n {
		_, err := clientset.CoreV1().Nodes().Create(ctx, fakeNode(NodeName(i), tainted), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s: %w", NodeName(i), err)
		}
	}
	return nil
}

// nodesReady succeeds once kwok reported every fake Node Ready.
func nodesReady(clientset kubernetes.Interface, n int) func(context.Context) error {
	return func(ctx context.Context) error {
		for i := range n {
			if err := nodeReady(clientset, NodeName(i))(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// nodeReady succeeds once the Node exists and is Ready.
func nodeReady(clientset kubernetes.Interface, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		node, err := clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !IsNodeReady(node) {
			return fmt.Errorf("node %s is not Ready yet", node.Name)
		}
		return nil
	}
}

// IsNodeReady reports whether the Node's Ready condition is True.
func IsNodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
