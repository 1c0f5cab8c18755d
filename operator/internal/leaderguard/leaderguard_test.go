package leaderguard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiServer answers every request with status (or 409 for a Lease write
// when leaseConflict is set) and records what reached it.
type apiServer struct {
	mu            sync.Mutex
	seen          []string
	leaseConflict bool
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r.Method+" "+r.URL.Path)
	if s.leaseConflict && strings.Contains(r.URL.Path, "/leases") && r.Method != http.MethodGet {
		w.WriteHeader(http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *apiServer) reached(req string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.seen {
		if r == req {
			return true
		}
	}
	return false
}

func (s *apiServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// TestWritesOnlyWhileTheLeaseIsFresh: writes pass while the last Lease
// renewal is younger than the renew deadline, and never reach the API
// server after; reads, Lease writes and reviews always pass.
func TestWritesOnlyWhileTheLeaseIsFresh(t *testing.T) {
	api := &apiServer{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	now := time.Unix(1000, 0)
	g := New(10 * time.Second)
	g.now = func() time.Time { return now }
	c := &http.Client{Transport: g.Wrap(http.DefaultTransport)}
	do := func(method, path string) error {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	const (
		lease      = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/memcached-operator.cache.example.com"
		leases     = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"
		deployment = "/apis/apps/v1/namespaces/ns/deployments/cache"
		status     = "/apis/cache.example.com/v1/namespaces/ns/memcacheds/cache/status"
		event      = "/api/v1/namespaces/ops/events"
		review     = "/apis/authentication.k8s.io/v1/tokenreviews"
	)
	refused := func(when, method, path string) {
		t.Helper()
		n := api.count()
		if err := do(method, path); !errors.Is(err, ErrLeaseNotHeld) {
			t.Errorf("%s: %s %s: %v, want ErrLeaseNotHeld", when, method, path, err)
		}
		if api.count() != n {
			t.Errorf("%s: %s %s reached the API server", when, method, path)
		}
	}
	allowed := func(when, method, path string) {
		t.Helper()
		if err := do(method, path); err != nil || !api.reached(method+" "+path) {
			t.Errorf("%s: %s %s: %v, want it sent", when, method, path, err)
		}
	}

	// Not leading yet: reads, Lease writes and reviews only.
	refused("before the Lease", http.MethodPost, event)
	allowed("before the Lease", http.MethodGet, deployment)
	allowed("before the Lease", http.MethodPost, review)
	allowed("acquiring", http.MethodPost, leases)

	now = now.Add(9 * time.Second)
	allowed("9s after the renewal", http.MethodPatch, deployment)
	allowed("9s after the renewal", http.MethodPatch, status)

	now = now.Add(time.Second) // 10 s: the renew deadline
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		refused("at the renew deadline", m, deployment)
	}
	allowed("at the renew deadline", http.MethodGet, deployment)

	// A refused renewal (another holder) renews nothing.
	api.leaseConflict = true
	if err := do(http.MethodPut, lease); err != nil {
		t.Fatal(err)
	}
	refused("after a refused renewal", http.MethodPatch, status)
	api.leaseConflict = false
	allowed("renewing", http.MethodPut, lease)
	allowed("after the renewal", http.MethodPatch, status)
}
