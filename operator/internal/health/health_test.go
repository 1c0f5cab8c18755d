package health

import (
	"context"
	"net/http/httptest"
	"testing"
)

// syncer is synced or not; when not, it blocks like a real cache until the
// context ends.
type syncer struct{ synced bool }

func (s syncer) WaitForCacheSync(ctx context.Context) bool {
	if s.synced {
		return true
	}
	<-ctx.Done()
	return false
}

func TestCacheSynced(t *testing.T) {
	req := httptest.NewRequest("GET", "/readyz", nil)
	if err := CacheSynced(syncer{synced: false})(req); err == nil {
		t.Error("ready before the caches synced")
	}
	if err := CacheSynced(syncer{synced: true})(req); err != nil {
		t.Errorf("not ready once synced: %v", err)
	}
}
