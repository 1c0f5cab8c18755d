package walkthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Defaults of the tutorial.
const (
	DefaultNamespace = "memcached-operator-system"
	DefaultSample    = "config/samples/cache_v1_memcached.yaml"
	sampleName       = "memcached-sample"
	instanceLabel    = "app.kubernetes.io/instance"
)

var memcachedGVR = schema.GroupVersionResource{Group: "cache.example.com", Version: "v1", Resource: "memcacheds"}

// Config says where to run the walk-through.
type Config struct {
	// Kubeconfig of the cluster.
	Kubeconfig string
	// Kubectl is the kubectl binary that runs the tutorial's commands.
	Kubectl string
	// Sample is the Memcached manifest applied and deleted, relative to Dir.
	Sample string
	// Dir is where the kubectl commands run.
	Dir string
	// Namespace the walk-through runs in; created when missing.
	Namespace string
	// Out receives the commands and their output.
	Out io.Writer
	// StepTimeout bounds each wait.
	StepTimeout time.Duration
}

func (c *Config) defaults() {
	if c.Sample == "" {
		c.Sample = DefaultSample
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Kubectl == "" {
		c.Kubectl = "kubectl"
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = 2 * time.Minute
	}
}

type runner struct {
	cfg     Config
	kube    kubernetes.Interface
	dynamic dynamic.Interface
}

// Run performs the walk-through and returns the first step that failed.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	r := &runner{cfg: cfg}
	if r.kube, err = kubernetes.NewForConfig(restConfig); err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if r.dynamic, err = dynamic.NewForConfig(restConfig); err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) error {
	ns := r.cfg.Namespace
	if err := r.ensureNamespace(ctx); err != nil {
		return err
	}

	r.say("Create the sample Memcached (size 3)")
	if err := r.kubectl("apply", "-f", r.cfg.Sample, "-n", ns); err != nil {
		return err
	}
	if err := r.waitForSize(ctx, 3); err != nil {
		return err
	}
	r.say("The operator created a Deployment of the right size")
	if err := r.kubectl("get", "deployments", "-n", ns); err != nil {
		return err
	}
	r.say("Its pods, and the CR's status listing their names")
	if err := r.kubectl("get", "pods", "-n", ns); err != nil {
		return err
	}
	if err := r.kubectl("get", "memcached/"+sampleName, "-o", "yaml", "-n", ns); err != nil {
		return err
	}

	r.say("Resize to 5")
	if err := r.kubectl("patch", "memcached", sampleName, "-p", `{"spec":{"size": 5}}`, "--type=merge", "-n", ns); err != nil {
		return err
	}
	if err := r.waitForSize(ctx, 5); err != nil {
		return err
	}
	if err := r.kubectl("get", "deployments", "-n", ns); err != nil {
		return err
	}
	if err := r.kubectl("get", "memcached", "-n", ns); err != nil {
		return err
	}

	r.say("Delete the CR: everything it owned goes with it")
	if err := r.kubectl("delete", "-f", r.cfg.Sample, "-n", ns); err != nil {
		return err
	}
	if err := r.waitForGone(ctx); err != nil {
		return err
	}
	return r.kubectl("get", "memcached,deployments,pods", "-n", ns)
}

func (r *runner) ensureNamespace(ctx context.Context) error {
	_, err := r.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.cfg.Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", r.cfg.Namespace, err)
	}
	return nil
}

// waitForSize waits until the Deployment has size ready replicas and the
// Memcached's status.nodes names exactly the running pods.
func (r *runner) waitForSize(ctx context.Context, size int32) error {
	var last string
	err := r.poll(ctx, func(ctx context.Context) (bool, error) {
		d, err := r.kube.AppsV1().Deployments(r.cfg.Namespace).Get(ctx, sampleName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			last = "Deployment " + sampleName + " does not exist"
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if d.Status.ReadyReplicas != size || d.Status.UpdatedReplicas != size || d.Status.Replicas != size {
			last = fmt.Sprintf("Deployment %s is %d/%d ready (%d updated, %d total)", sampleName, d.Status.ReadyReplicas, size, d.Status.UpdatedReplicas, d.Status.Replicas)
			return false, nil
		}
		pods, err := r.runningPods(ctx)
		if err != nil {
			return false, err
		}
		nodes, err := r.statusNodes(ctx)
		if err != nil {
			return false, err
		}
		if len(pods) != int(size) || !slices.Equal(nodes, pods) {
			last = fmt.Sprintf("status.nodes = %v, running pods = %v", nodes, pods)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be %d/%d with %d pod names in status.nodes: %s: %w", sampleName, size, size, size, last, err)
	}
	fmt.Fprintf(r.cfg.Out, "# Deployment %s is %d/%d and status.nodes lists the %d pods\n", sampleName, size, size, size)
	return nil
}

// waitForGone waits until the Memcached, its Deployment and its pods are gone.
func (r *runner) waitForGone(ctx context.Context) error {
	var last string
	err := r.poll(ctx, func(ctx context.Context) (bool, error) {
		_, err := r.dynamic.Resource(memcachedGVR).Namespace(r.cfg.Namespace).Get(ctx, sampleName, metav1.GetOptions{})
		if err == nil {
			last = "the Memcached still exists"
			return false, nil
		} else if !apierrors.IsNotFound(err) {
			return false, err
		}
		_, err = r.kube.AppsV1().Deployments(r.cfg.Namespace).Get(ctx, sampleName, metav1.GetOptions{})
		if err == nil {
			last = "Deployment " + sampleName + " still exists"
			return false, nil
		} else if !apierrors.IsNotFound(err) {
			return false, err
		}
		pods, err := r.kube.CoreV1().Pods(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: instanceLabel + "=" + sampleName})
		if err != nil {
			return false, err
		}
		if n := len(pods.Items); n > 0 {
			last = fmt.Sprintf("%d pods remain", n)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s and everything it owned to be deleted: %s: %w", sampleName, last, err)
	}
	fmt.Fprintf(r.cfg.Out, "# %s, its Deployment and its pods are gone\n", sampleName)
	return nil
}

func (r *runner) runningPods(ctx context.Context) ([]string, error) {
	pods, err := r.kube.CoreV1().Pods(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: instanceLabel + "=" + sampleName})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func (r *runner) statusNodes(ctx context.Context) ([]string, error) {
	m, err := r.dynamic.Resource(memcachedGVR).Namespace(r.cfg.Namespace).Get(ctx, sampleName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting memcached %s: %w", sampleName, err)
	}
	nodes, _, err := unstructured.NestedStringSlice(m.Object, "status", "nodes")
	return nodes, err
}

func (r *runner) poll(ctx context.Context, done wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, r.cfg.StepTimeout, true, done)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s", r.cfg.StepTimeout)
	}
	return err
}

func (r *runner) say(step string) {
	fmt.Fprintf(r.cfg.Out, "\n## %s\n", step)
}

// kubectl runs one of the tutorial's commands and prints it with its output.
func (r *runner) kubectl(args ...string) error {
	fmt.Fprintf(r.cfg.Out, "$ kubectl %s\n", quote(args))
	cmd := exec.Command(r.cfg.Kubectl, append([]string{"--kubeconfig", r.cfg.Kubeconfig}, args...)...)
	cmd.Dir = r.cfg.Dir
	cmd.Stdout, cmd.Stderr = r.cfg.Out, r.cfg.Out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %s: %w", quote(args), err)
	}
	return nil
}

func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, ` "{}`) {
			a = "'" + a + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
