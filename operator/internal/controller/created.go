package controller

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// createdObjects remembers the objects this process created that its cache
// has not shown yet. The cache shows a created object a moment later, or,
// while its watch is being re-established (after an API server restart,
// while the new server's RBAC warms up), much later: a reconcile in between
// must not create it again, which the API server would refuse
// (AlreadyExists), but read it around the cache. The zero value is ready.
type createdObjects struct{ keys sync.Map }

func createdKey(kind string, key client.ObjectKey) string {
	return kind + "/" + key.String()
}

// read reads the object of kind at key from the cache; one this process
// created and the cache does not show yet is read around it. Once the cache
// shows it, or the API server says it is gone, it is forgotten.
func (r *MemcachedReconciler) read(ctx context.Context, kind string, key client.ObjectKey, obj client.Object) error {
	err := r.Client.Get(ctx, key, obj)
	k := createdKey(kind, key)
	if err == nil {
		r.created.keys.Delete(k)
		return nil
	}
	if _, pending := r.created.keys.Load(k); !pending || !apierrors.IsNotFound(err) || r.APIReader == nil {
		return err
	}
	err = r.APIReader.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		r.created.keys.Delete(k) // deleted meanwhile: create it again
	}
	return err
}

// remember notes that this process created the object of kind at key.
func (r *MemcachedReconciler) remember(kind string, key client.ObjectKey) {
	r.created.keys.Store(createdKey(kind, key), struct{}{})
}
