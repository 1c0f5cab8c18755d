package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// owned is what CheckOwnership needs of any object.
type owned struct {
	kind   string
	meta   metav1.Object
	labels map[string]string
}

// CheckOwnership lists a namespace afresh and returns every violation of the
// operator's ownership rules: each Memcached has exactly one Deployment,
// named like it and controlled by it; every Deployment, Service and
// PodDisruptionBudget the operator manages (by label or by owner) is
// controlled by a living Memcached, matched by UID rather than by name, and
// named after it; every ReplicaSet of the operator's has a living
// Deployment. An empty result means no duplicates and no orphans.
func CheckOwnership(ctx context.Context, admin kubernetes.Interface, memcachedClient testbed.MemcachedClient, namespace string) ([]string, error) {
	memcacheds, err := memcachedClient.List(ctx)
	if err != nil {
		return nil, err
	}
	deployments, err := admin.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	services, err := admin.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pdbs, err := admin.PolicyV1().PodDisruptionBudgets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	replicaSets, err := admin.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}

	var objs []owned
	for i := range deployments.Items {
		objs = append(objs, owned{"Deployment", &deployments.Items[i], deployments.Items[i].Labels})
	}
	for i := range services.Items {
		objs = append(objs, owned{"Service", &services.Items[i], services.Items[i].Labels})
	}
	for i := range pdbs.Items {
		objs = append(objs, owned{"PodDisruptionBudget", &pdbs.Items[i], pdbs.Items[i].Labels})
	}
	problems, deploymentsOf := checkOwners(memcacheds, objs)
	deploymentUIDs := map[types.UID]bool{}
	for _, d := range deployments.Items {
		deploymentUIDs[d.UID] = true
	}
	for _, rs := range replicaSets.Items {
		owner := metav1.GetControllerOf(&rs)
		if rs.Labels[testbed.ManagedByLabel] == testbed.ManagerName && (owner == nil || !deploymentUIDs[owner.UID]) {
			problems = append(problems, fmt.Sprintf("ReplicaSet %s is an orphan: no living Deployment controls it", rs.Name))
		}
	}
	for _, m := range memcacheds {
		if m.DeletionTimestamp != nil {
			continue
		}
		switch got := deploymentsOf[m.Name]; len(got) {
		case 1:
		case 0:
			problems = append(problems, fmt.Sprintf("Memcached %s has no Deployment", m.Name))
		default:
			problems = append(problems, fmt.Sprintf("Memcached %s controls %d Deployments: %v", m.Name, len(got), got))
		}
	}
	sort.Strings(problems)
	return problems, nil
}

// checkOwners checks the operator's objects against the Memcacheds that
// should control them, and returns the problems and, per Memcached name, the
// Deployments it controls.
func checkOwners(memcacheds []*testbed.Memcached, objs []owned) (problems []string, deploymentsOf map[string][]string) {
	memcachedUIDs := map[types.UID]string{}
	for _, m := range memcacheds {
		memcachedUIDs[m.UID] = m.Name
	}
	deploymentsOf = map[string][]string{} // Memcached name -> its Deployments
	for _, o := range objs {
		name := o.meta.GetName()
		owner := metav1.GetControllerOfNoCopy(o.meta)
		managed := o.labels[testbed.ManagedByLabel] == testbed.ManagerName
		switch {
		case owner == nil && managed:
			problems = append(problems, fmt.Sprintf("%s %s is labelled as the operator's but has no controller", o.kind, name))
		case owner == nil:
			// Not the operator's.
		case owner.Kind != "Memcached":
			if managed {
				problems = append(problems, fmt.Sprintf("%s %s is labelled as the operator's but controlled by %s %s", o.kind, name, owner.Kind, owner.Name))
			}
		case memcachedUIDs[owner.UID] == "":
			problems = append(problems, fmt.Sprintf("%s %s is an orphan: its owner Memcached %s (uid %s) does not exist", o.kind, name, owner.Name, owner.UID))
		default:
			m := memcachedUIDs[owner.UID]
			if !strings.HasPrefix(name, m) {
				problems = append(problems, fmt.Sprintf("%s %s is controlled by Memcached %s but not named after it", o.kind, name, m))
			}
			if !managed {
				problems = append(problems, fmt.Sprintf("%s %s lost the %s label", o.kind, name, testbed.ManagedByLabel))
			}
			if o.kind == "Deployment" {
				deploymentsOf[m] = append(deploymentsOf[m], name)
				if name != m {
					problems = append(problems, fmt.Sprintf("Deployment %s is controlled by Memcached %s but not named like it", name, m))
				}
			}
		}
	}
	return problems, deploymentsOf
}
