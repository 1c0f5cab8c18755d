package bench

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// CheckOwnership lists a namespace afresh and returns every violation of the
// operator's ownership rules: each Memcached has exactly one Deployment, named
// like it and controlled by it; every Deployment and ReplicaSet the operator
// manages (by label or by owner) has a living owner, matched by UID, not a
// deleted namesake. An empty result means no duplicates and no orphans.
func CheckOwnership(ctx context.Context, admin kubernetes.Interface, dyn dynamic.Interface, namespace string) ([]string, error) {
	memcacheds, err := dyn.Resource(MemcachedGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	deployments, err := admin.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	replicaSets, err := admin.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}

	var problems []string
	memcachedUIDs := map[types.UID]string{}
	for _, m := range memcacheds.Items {
		memcachedUIDs[m.GetUID()] = m.GetName()
	}
	owned := map[string][]string{} // Memcached name -> its Deployments
	deploymentUIDs := map[types.UID]bool{}
	for _, d := range deployments.Items {
		deploymentUIDs[d.UID] = true
		owner := metav1.GetControllerOf(&d)
		managed := d.Labels[ManagedByLabel] == ManagerName
		switch {
		case owner == nil && managed:
			problems = append(problems, fmt.Sprintf("Deployment %s is labelled as the operator's but has no controller", d.Name))
		case owner == nil:
			// Not the operator's.
		case owner.Kind != "Memcached":
			if managed {
				problems = append(problems, fmt.Sprintf("Deployment %s is labelled as the operator's but controlled by %s %s", d.Name, owner.Kind, owner.Name))
			}
		case memcachedUIDs[owner.UID] == "":
			problems = append(problems, fmt.Sprintf("Deployment %s is an orphan: its owner Memcached %s (uid %s) does not exist", d.Name, owner.Name, owner.UID))
		default:
			name := memcachedUIDs[owner.UID]
			owned[name] = append(owned[name], d.Name)
			if d.Name != name {
				problems = append(problems, fmt.Sprintf("Deployment %s is controlled by Memcached %s but not named like it", d.Name, name))
			}
			if !managed {
				problems = append(problems, fmt.Sprintf("Deployment %s lost the %s label", d.Name, ManagedByLabel))
			}
		}
	}
	for _, rs := range replicaSets.Items {
		owner := metav1.GetControllerOf(&rs)
		if rs.Labels[ManagedByLabel] == ManagerName && (owner == nil || !deploymentUIDs[owner.UID]) {
			problems = append(problems, fmt.Sprintf("ReplicaSet %s is an orphan: no living Deployment controls it", rs.Name))
		}
	}
	for _, m := range memcacheds.Items {
		if m.GetDeletionTimestamp() != nil {
			continue
		}
		switch got := owned[m.GetName()]; len(got) {
		case 1:
		case 0:
			problems = append(problems, fmt.Sprintf("Memcached %s has no Deployment", m.GetName()))
		default:
			problems = append(problems, fmt.Sprintf("Memcached %s controls %d Deployments: %v", m.GetName(), len(got), got))
		}
	}
	sort.Strings(problems)
	return problems, nil
}
