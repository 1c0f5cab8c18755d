package olmflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	operatorsv2 "github.com/operator-framework/api/pkg/operators/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// holdReason names the flow's OperatorCondition override, so that the
// failure reports tell it from the operator's own Upgradeable condition.
const holdReason = "HeldUntilTheMemcachedRuns"

// pushImages pushes the shipped images to the node's registry under their
// upstream names and picks the catalog image among them.
func (f *flow) pushImages(ctx context.Context) error {
	began := time.Now()
	for _, img := range f.cfg.RealNode.Images {
		if strings.Contains(img.Ref, "-catalog:") {
			f.catalogImage = img.Ref
		}
	}
	if f.catalogImage == "" {
		return fmt.Errorf("no catalog image among the %d images given", len(f.cfg.RealNode.Images))
	}
	if err := f.cluster.Registry().PushNodeImages(ctx, f.cfg.RealNode.Images); err != nil {
		return err
	}
	f.note(fmt.Sprintf("pushed %d images to the node's registry in %s", len(f.cfg.RealNode.Images), time.Since(began).Round(time.Millisecond)))
	return nil
}

// holdUpgrade sets an Upgradeable=False override on the OperatorCondition
// of version's CSV as soon as OLM creates it: OLM keeps the next CSV
// Pending (OperatorConditionNotUpgradeable) while it stays.
func (f *flow) holdUpgrade(ctx context.Context, version string) error {
	name := csvName(version)
	last := "no OperatorCondition yet"
	err := f.poll(ctx, "the OperatorCondition of "+name, &last, func(ctx context.Context) (bool, error) {
		oc := &operatorsv2.OperatorCondition{}
		if found, err := f.get(ctx, name, oc); !found {
			return false, err
		}
		before := oc.DeepCopy()
		oc.Spec.Overrides = []metav1.Condition{{
			Type: operatorsv2.Upgradeable, Status: metav1.ConditionFalse, Reason: holdReason,
			Message: "held by the flow until a Memcached runs", LastTransitionTime: metav1.Now(),
		}}
		if err := f.c.Patch(ctx, oc, client.MergeFrom(before)); err != nil {
			return false, fmt.Errorf("overriding Upgradeable on OperatorCondition %s: %w", name, err)
		}
		return true, nil
	})
	if err == nil {
		f.note("OperatorCondition " + name + ": override Upgradeable=False (" + holdReason + ")")
	}
	return err
}

// checkHeld fails if OLM went past the held CSV before the hold took.
func (f *flow) checkHeld(ctx context.Context) error {
	if _, err := f.heldCSV(ctx, csvName(f.oldVersion)); err != nil {
		return fmt.Errorf("the hold on %s did not hold: %w", csvName(f.oldVersion), err)
	}
	return nil
}

// liftHold removes the override: OLM goes on along the channel.
func (f *flow) liftHold(ctx context.Context) error {
	name := csvName(f.oldVersion)
	f.say("Lift the hold on " + name + ": OLM may upgrade along the channel to v" + f.newVersion)
	if err := f.checkHeld(ctx); err != nil {
		return err
	}
	oc := &operatorsv2.OperatorCondition{ObjectMeta: installed(name)}
	if err := f.c.Patch(ctx, oc, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"overrides":null}}`))); err != nil {
		return fmt.Errorf("removing the override of OperatorCondition %s: %w", name, err)
	}
	f.note("OperatorCondition " + name + ": override removed")
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
