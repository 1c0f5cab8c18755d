package leaderguard

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrLeaseNotHeld is the error of a write refused by the guard.
var ErrLeaseNotHeld = errors.New("the leader election Lease was not renewed within the renew deadline: this replica may no longer lead, so it writes nothing")

// Guard tracks the Lease's renewals; its zero value is not usable: New.
type Guard struct {
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	renewed time.Time // when the last successful Lease write was sent
}

// New returns a guard that refuses writes once the last Lease renewal is
// older than renewDeadline (the elector's own).
func New(renewDeadline time.Duration) *Guard {
	return &Guard{maxAge: renewDeadline, now: time.Now}
}

// Wrap is a rest.Config WrapTransport: every request goes through the
// guard.
func (g *Guard) Wrap(rt http.RoundTripper) http.RoundTripper {
	return &transport{guard: g, next: rt}
}

// Held reports whether the Lease was renewed within the renew deadline.
func (g *Guard) Held() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.renewed.IsZero() && g.now().Sub(g.renewed) < g.maxAge
}

func (g *Guard) renewedAt(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.After(g.renewed) {
		g.renewed = t
	}
}

type transport struct {
	guard *Guard
	next  http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case !isWrite(req) || isReview(req):
		return t.next.RoundTrip(req)
	case isLease(req):
		sent := t.guard.now()
		resp, err := t.next.RoundTrip(req)
		if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
			t.guard.renewedAt(sent)
		}
		return resp, err
	case !t.guard.Held():
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ErrLeaseNotHeld)
	}
	return t.next.RoundTrip(req)
}

func isWrite(req *http.Request) bool {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// isLease: a request for a Lease (the elector's lock).
func isLease(req *http.Request) bool {
	return strings.HasPrefix(req.URL.Path, "/apis/coordination.k8s.io/") && strings.Contains(req.URL.Path, "/leases")
}

// isReview: a TokenReview or SubjectAccessReview, which the metrics
// endpoint's authentication and authorization create and which change
// nothing.
func isReview(req *http.Request) bool {
	return strings.HasPrefix(req.URL.Path, "/apis/authentication.k8s.io/") || strings.HasPrefix(req.URL.Path, "/apis/authorization.k8s.io/")
}
