package health

import (
	"context"
	"errors"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// Syncer is the part of a controller-runtime cache the readiness check uses.
type Syncer interface {
	WaitForCacheSync(ctx context.Context) bool
}

// syncWait bounds how long one probe waits for the caches.
const syncWait = time.Second

// CacheSynced is a readiness check that fails until the cache has synced.
// Before that the operator acts on a partial view of its objects, and a new
// operator Deployment must not count as available to a rolling update or to
// OLM, which marks the CSV Succeeded on it.
func CacheSynced(c Syncer) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), syncWait)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the informer caches have not synced yet")
		}
		return nil
	}
}
