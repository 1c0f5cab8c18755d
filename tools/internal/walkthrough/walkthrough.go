package walkthrough

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// Defaults of the tutorial.
const (
	DefaultSample = "config/samples/cache_v1_memcached.yaml"
	sampleName    = "memcached-sample"
)

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
	// Namespace the walk-through runs in; created when missing. Defaults to
	// the operator's namespace, as in the tutorial.
	Namespace string
	// Out receives the commands and their output.
	Out io.Writer
	// StepTimeout bounds each wait.
	StepTimeout time.Duration
	// SetGet, where pods really run (a real node), adds a last step before
	// the delete: memcached in one of the pods stores a value and returns
	// it through a port-forward. kwok's pods run nothing to ask.
	SetGet bool
}

func (c *Config) defaults() {
	if c.Sample == "" {
		c.Sample = DefaultSample
	}
	if c.Namespace == "" {
		c.Namespace = testbed.OperatorNamespace
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
	cfg        Config
	restConfig *rest.Config
	client     client.Client
	memcacheds testbed.MemcachedClient
	kubectl    Kubectl
}

// Run performs the walk-through and returns the first step that failed.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	c, err := testbed.NewClient(restConfig)
	if err != nil {
		return err
	}
	r := &runner{
		cfg: cfg, restConfig: restConfig, client: c, memcacheds: testbed.Memcacheds(c, cfg.Namespace),
		kubectl: Kubectl{Path: cfg.Kubectl, Kubeconfig: cfg.Kubeconfig, Dir: cfg.Dir, Out: cfg.Out},
	}
	return r.run(ctx)
}

func (r *runner) run(ctx context.Context) error {
	ns := r.cfg.Namespace
	if err := testbed.EnsureNamespaces(ctx, r.client, ns); err != nil {
		return err
	}

	r.say("Create the sample Memcached (size 3)")
	if err := r.kubectl.Run(nil, "apply", "-f", r.cfg.Sample, "-n", ns); err != nil {
		return err
	}
	if err := r.waitForSize(ctx, 3); err != nil {
		return err
	}
	r.say("The operator created a Deployment of the right size")
	if err := r.kubectl.Run(nil, "get", "deployments", "-n", ns); err != nil {
		return err
	}
	r.say("Its pods, and the CR's status listing their names")
	if err := r.kubectl.Run(nil, "get", "pods", "-n", ns); err != nil {
		return err
	}
	if err := r.kubectl.Run(nil, "get", "memcached/"+sampleName, "-o", "yaml", "-n", ns); err != nil {
		return err
	}

	r.say("Resize to 5")
	if err := r.kubectl.Run(nil, "patch", "memcached", sampleName, "-p", `{"spec":{"size": 5}}`, "--type=merge", "-n", ns); err != nil {
		return err
	}
	if err := r.waitForSize(ctx, 5); err != nil {
		return err
	}
	if err := r.kubectl.Run(nil, "get", "deployments", "-n", ns); err != nil {
		return err
	}
	if err := r.kubectl.Run(nil, "get", "memcached", "-n", ns); err != nil {
		return err
	}
	if r.cfg.SetGet {
		if err := r.setGet(ctx); err != nil {
			return err
		}
	}

	r.say("Delete the CR: everything it owned goes with it")
	if err := r.kubectl.Run(nil, "delete", "-f", r.cfg.Sample, "-n", ns); err != nil {
		return err
	}
	if err := r.waitForGone(ctx); err != nil {
		return err
	}
	return r.kubectl.Run(nil, "get", "memcached,deployments,pods", "-n", ns)
}

// waitForSize waits until the Deployment has size ready replicas and the
// Memcached's status.nodes names exactly the running pods.
func (r *runner) waitForSize(ctx context.Context, size int32) error {
	var last string
	err := r.poll(ctx, func(ctx context.Context) (bool, error) {
		d := &appsv1.Deployment{}
		err := r.client.Get(ctx, client.ObjectKey{Namespace: r.cfg.Namespace, Name: sampleName}, d)
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
		m, err := r.memcacheds.Get(ctx, sampleName)
		if err != nil {
			return false, fmt.Errorf("getting memcached %s: %w", sampleName, err)
		}
		nodes := m.Status.Nodes
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
		_, err := r.memcacheds.Get(ctx, sampleName)
		if err == nil {
			last = "the Memcached still exists"
			return false, nil
		} else if !apierrors.IsNotFound(err) {
			return false, err
		}
		err = r.client.Get(ctx, client.ObjectKey{Namespace: r.cfg.Namespace, Name: sampleName}, &appsv1.Deployment{})
		if err == nil {
			last = "Deployment " + sampleName + " still exists"
			return false, nil
		} else if !apierrors.IsNotFound(err) {
			return false, err
		}
		pods, err := r.pods(ctx)
		if err != nil {
			return false, err
		}
		if n := len(pods); n > 0 {
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

// pods lists the sample's pods, by the instance label the operator sets.
func (r *runner) pods(ctx context.Context) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	err := r.client.List(ctx, pods, client.InNamespace(r.cfg.Namespace), client.MatchingLabels{testbed.InstanceLabel: sampleName})
	return pods.Items, err
}

func (r *runner) runningPods(ctx context.Context) ([]string, error) {
	pods, err := r.pods(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names, nil
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

// Kubectl runs the commands a user of the tutorial types against one
// cluster, printing each as typed with its output.
type Kubectl struct {
	// Path is the kubectl binary.
	Path string
	// Kubeconfig of the cluster.
	Kubeconfig string
	// Dir is where the commands run.
	Dir string
	// Out receives the commands and their output.
	Out io.Writer
}

// Run runs kubectl with args, and input on its standard input when not nil.
func (k Kubectl) Run(input []byte, args ...string) error {
	fmt.Fprintf(k.Out, "$ kubectl %s\n", quote(args))
	cmd := exec.Command(k.Path, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
	cmd.Dir = k.Dir
	if input != nil {
		cmd.Stdin = bytes.NewReader(input)
	}
	cmd.Stdout, cmd.Stderr = k.Out, k.Out
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
