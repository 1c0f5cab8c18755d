package controller

import (
	"k8s.io/apimachinery/pkg/labels"
)

// Label keys and values on every object the operator creates. The manager's
// cache selects Deployments and Pods by ManagedByLabel, so it holds what the
// operator owns and nothing else in the cluster.
const (
	NameLabel      = "app.kubernetes.io/name"
	InstanceLabel  = "app.kubernetes.io/instance"
	ManagedByLabel = "app.kubernetes.io/managed-by"

	// AppName is the value of NameLabel on memcached objects.
	AppName = "memcached"
	// ManagerName is the value of ManagedByLabel, the field manager of the
	// operator's writes and the name its events are reported under.
	ManagerName = "memcached-operator"
)

// ManagedSelector selects every object this operator created.
func ManagedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagerName})
}

// selectorLabels identify the pods of one Memcached. They are a Deployment's
// immutable selector, so they must never change for an existing Memcached.
func selectorLabels(memcachedName string) map[string]string {
	return map[string]string{
		NameLabel:     AppName,
		InstanceLabel: memcachedName,
	}
}

// objectLabels are selectorLabels plus the label the cache selects on.
func objectLabels(memcachedName string) map[string]string {
	l := selectorLabels(memcachedName)
	l[ManagedByLabel] = ManagerName
	return l
}
