package olmflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// pushImages pushes the shipped images to the node's registry under their
// upstream names and picks the catalog image among them.
func (f *flow) pushImages(ctx context.Context) error {
	began := time.Now()
	for _, img := range f.cfg.RealNode.Images {
		switch {
		case strings.HasSuffix(img.Ref, "-catalog:v"+f.oldVersion):
			f.oldCatalogImage = img.Ref
		case strings.HasSuffix(img.Ref, "-catalog:v"+f.newVersion):
			f.catalogImage = img.Ref
		}
	}
	if f.oldCatalogImage == "" || f.catalogImage == "" {
		return fmt.Errorf("the %d images given lack the catalog image of v%s or of v%s (testbed.NodeImages declares both)", len(f.cfg.RealNode.Images), f.oldVersion, f.newVersion)
	}
	if err := f.cluster.Registry().PushNodeImages(ctx, f.cfg.RealNode.Images); err != nil {
		return err
	}
	f.note(fmt.Sprintf("pushed %d images to the node's registry in %s", len(f.cfg.RealNode.Images), time.Since(began).Round(time.Millisecond)))
	return nil
}

// waitOperatorPod waits until the Deployment OLM created for version's CSV
// runs exactly one pod, Ready on the real node, of the image the CSV names.
func (f *flow) waitOperatorPod(ctx context.Context, version string) error {
	f.say(fmt.Sprintf("The operator of v%s runs as the pod of the Deployment OLM created for its CSV", version))
	d, err := f.operatorDeployment(ctx, version)
	if err != nil {
		return err
	}
	image := d.Spec.Template.Spec.Containers[0].Image
	last := "no pod yet"
	var ready *corev1.Pod
	err = f.poll(ctx, "the operator pod of v"+version, &last, func(ctx context.Context) (bool, error) {
		pods := &corev1.PodList{}
		if err := f.c.List(ctx, pods, client.InNamespace(installNamespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
			return false, err
		}
		var states []string
		ready = nil
		for i := range pods.Items {
			p := &pods.Items[i]
			states = append(states, podState(p))
			if p.Spec.Containers[0].Image == image && p.Spec.NodeName == testbed.RealNodeName && podReady(p) && p.DeletionTimestamp == nil {
				ready = p
			}
		}
		last = strings.Join(states, "; ")
		return ready != nil && len(pods.Items) == 1, nil
	})
	if err == nil {
		f.note(fmt.Sprintf("pod %s of %s Ready on %s", ready.Name, image, ready.Spec.NodeName))
	}
	return err
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState is a pod on one line: what an operator author looks at first.
func podState(p *corev1.Pod) string {
	s := fmt.Sprintf("%s %s on %q ready=%t", p.Name, p.Status.Phase, p.Spec.NodeName, podReady(p))
	if p.DeletionTimestamp != nil {
		s += " terminating"
	}
	for _, c := range p.Status.ContainerStatuses {
		s += " " + c.Image
		if w := c.State.Waiting; w != nil {
			s += " waiting " + w.Reason + ": " + w.Message
		}
		if c.RestartCount > 0 {
			s += fmt.Sprintf(" restarts %d", c.RestartCount)
		}
	}
	return s
}
