package bench

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// unrelatedGate keeps the unrelated Pods Pending and out of the scheduler's
// active queue: they exist in the API, which is all the memory measurement
// needs, without making the scheduler and kwok work for them.
const unrelatedGate = "bench.example.com/never"

// UnrelatedNamespace names the i-th namespace of unrelated objects.
func UnrelatedNamespace(i int) string { return fmt.Sprintf("unrelated-%02d", i) }

// CreateUnrelated creates count objects the operator does not own, spread
// over namespaces: one in ten a Deployment of zero replicas, the rest bare
// Pods held by a scheduling gate. They carry the memcached name and instance
// labels (someone else's memcached), but not the managed-by label, so only
// a cache that selects on managed-by keeps them out.
func CreateUnrelated(ctx context.Context, e *Env, count, namespaces int) error {
	for i := range namespaces {
		if err := e.CreateNamespace(ctx, UnrelatedNamespace(i)); err != nil {
			return err
		}
	}
	jobs := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				if err := createUnrelated(ctx, e, i, UnrelatedNamespace(i%namespaces)); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range count {
		select {
		case jobs <- i:
		case err := <-errs:
			close(jobs)
			wg.Wait()
			return err
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func createUnrelated(ctx context.Context, e *Env, i int, namespace string) error {
	name := fmt.Sprintf("unrelated-%05d", i)
	labels := map[string]string{testbed.NameLabel: "memcached", testbed.InstanceLabel: name}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "memcached",
				Image: "docker.io/library/memcached:1.6.38-alpine",
				Args:  []string{"-m", "64"},
				Ports: []corev1.ContainerPort{{Name: "memcached", ContainerPort: 11211}},
			}},
		},
	}
	var err error
	if i%10 == 0 {
		_, err = e.Admin.AppsV1().Deployments(namespace).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](0),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: template,
			},
		}, metav1.CreateOptions{})
	} else {
		pod := &corev1.Pod{ObjectMeta: template.ObjectMeta, Spec: template.Spec}
		pod.Name = name
		pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: unrelatedGate}}
		_, err = e.Admin.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating unrelated object %s/%s: %w", namespace, name, err)
	}
	return nil
}
