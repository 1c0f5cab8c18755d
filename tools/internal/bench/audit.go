package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// AuditEvent is the part of an audit.k8s.io/v1 Event the harness reads.
type AuditEvent struct {
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	Verb    string `json:"verb"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	UserAgent string `json:"userAgent"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
	StageTimestamp  time.Time `json:"stageTimestamp"`
}

// Mutating reports whether the event is a completed write: create, update,
// patch, delete or deletecollection. The audit policy records every stage, so
// the same request also shows up as RequestReceived, which is not counted.
func (e AuditEvent) Mutating() bool {
	if e.Stage != "ResponseComplete" {
		return false
	}
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// Failed reports whether the API server refused the request.
func (e AuditEvent) Failed() bool { return e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 }

// Resource is resource[/subresource], e.g. memcacheds/status.
func (e AuditEvent) Resource() string {
	if e.ObjectRef == nil {
		return "(none)"
	}
	if e.ObjectRef.Subresource != "" {
		return e.ObjectRef.Resource + "/" + e.ObjectRef.Subresource
	}
	return e.ObjectRef.Resource
}

// Namespace of the object, "" for cluster-scoped objects.
func (e AuditEvent) Namespace() string {
	if e.ObjectRef == nil {
		return ""
	}
	return e.ObjectRef.Namespace
}

// AuditReader reads an audit log incrementally: each Read returns the events
// written since the previous one. The API server writes in blocking mode, so
// a request's event is on disk before its response is sent.
type AuditReader struct {
	path   string
	offset int64
}

// NewAuditReader reads path from its start.
func NewAuditReader(path string) *AuditReader { return &AuditReader{path: path} }

// Skip moves to the current end of the log: later Reads return only events
// written from now on.
func (r *AuditReader) Skip() error {
	info, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	r.offset = info.Size()
	return nil
}

// Read returns the complete events written since the last Read or Skip; a
// line still being written is left for the next Read.
func (r *AuditReader) Read() ([]AuditEvent, error) {
	f, err := os.Open(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(r.offset, io.SeekStart); err != nil {
		return nil, err
	}
	var events []AuditEvent
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return events, nil // an incomplete last line waits for the next Read
		}
		if err != nil {
			return events, err
		}
		r.offset += int64(len(line))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var ev AuditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return events, fmt.Errorf("%s at offset %d: %w", r.path, r.offset-int64(len(line)), err)
		}
		events = append(events, ev)
	}
}

// Requests counts mutating requests.
type Requests struct {
	Total int `json:"total"`
	// Failed were refused (conflicts, for instance); they are in Total.
	Failed int `json:"failed"`
	// ByKind is keyed by "verb resource[/subresource]".
	ByKind map[string]int `json:"byKind,omitempty"`
}

// CountMutating counts the mutating requests of the given users (all users
// when none is given) among events, optionally only in one namespace.
func CountMutating(events []AuditEvent, namespace string, users ...string) Requests {
	c := Requests{ByKind: map[string]int{}}
	for _, e := range events {
		if !e.Mutating() || (len(users) > 0 && !slices.Contains(users, e.User.Username)) {
			continue
		}
		if namespace != "" && e.Namespace() != namespace {
			continue
		}
		c.Total++
		if e.Failed() {
			c.Failed++
		}
		c.ByKind[e.Verb+" "+e.Resource()]++
	}
	return c
}

// CountReads counts the get and list requests of the given users: with a
// cache, every one of them is a read around it.
func CountReads(events []AuditEvent, users ...string) int {
	n := 0
	for _, e := range events {
		if e.Stage == "ResponseComplete" && (e.Verb == "get" || e.Verb == "list") && slices.Contains(users, e.User.Username) {
			n++
		}
	}
	return n
}

// Without returns the count without the kinds whose resource is one of
// resources (for example events or leases), to separate the operator's work
// from its bookkeeping.
func (c Requests) Without(resources ...string) int {
	n := c.Total
	for kind, count := range c.ByKind {
		_, resource, _ := strings.Cut(kind, " ")
		resource, _, _ = strings.Cut(resource, "/")
		if slices.Contains(resources, resource) {
			n -= count
		}
	}
	return n
}

// String lists the kinds, most frequent first.
func (c Requests) String() string {
	if c.Total == 0 {
		return "none"
	}
	kinds := make([]string, 0, len(c.ByKind))
	for k := range c.ByKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if c.ByKind[kinds[i]] != c.ByKind[kinds[j]] {
			return c.ByKind[kinds[i]] > c.ByKind[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %d", k, c.ByKind[k])
	}
	s := strings.Join(parts, ", ")
	if c.Failed > 0 {
		s += fmt.Sprintf(" (%d refused)", c.Failed)
	}
	return s
}

// Writers returns, per user, the time span of their mutating requests among
// events: from the first request received to the last response.
func Writers(events []AuditEvent, users ...string) map[string]Span {
	spans := map[string]Span{}
	for _, e := range events {
		if !e.Mutating() || !slices.Contains(users, e.User.Username) {
			continue
		}
		s, ok := spans[e.User.Username]
		if !ok || e.RequestReceived.Before(s.First) {
			s.First = e.RequestReceived
		}
		if e.StageTimestamp.After(s.Last) {
			s.Last = e.StageTimestamp
		}
		s.Count++
		spans[e.User.Username] = s
	}
	return spans
}

// Span is when a user wrote.
type Span struct {
	First, Last time.Time
	Count       int
}

// Profile is where a run's time went, as the audit log tells it: how fast
// the operator sent requests (a client-side rate limiter shows as a rate
// that stays at its QPS while work waits) and how long the API server took
// to answer them.
type Profile struct {
	// Requests are the user's completed requests of every verb, watches
	// excluded.
	Requests int `json:"requests"`
	// MeanPerSecond is Requests over the time from the first received to
	// the last answered.
	MeanPerSecond float64 `json:"meanPerSecond"`
	// PeakPerSecond is the most requests received within one second (of
	// wall clock, counted from the first request).
	PeakPerSecond int `json:"peakPerSecond"`
	// PeakResource is the resource with the most requests received within
	// one second, and that count: client-go limits each REST client on its
	// own, and controller-runtime makes one per resource.
	PeakResource          string `json:"peakResource,omitempty"`
	PeakResourcePerSecond int    `json:"peakResourcePerSecond"`
	// WriteLatencyP50 and P99 are the API server's time for the user's
	// writes, from received to answered, in milliseconds.
	WriteLatencyP50Millis float64 `json:"writeLatencyP50Millis"`
	WriteLatencyP99Millis float64 `json:"writeLatencyP99Millis"`
}

// ProfileOf computes the profile of user's requests among events.
func ProfileOf(events []AuditEvent, user string) Profile {
	var p Profile
	var first, last time.Time
	var latencies []time.Duration
	var mine []AuditEvent
	for _, e := range events {
		if e.Stage != "ResponseComplete" || e.User.Username != user || e.Verb == "watch" {
			continue
		}
		mine = append(mine, e)
		if first.IsZero() || e.RequestReceived.Before(first) {
			first = e.RequestReceived
		}
		if e.StageTimestamp.After(last) {
			last = e.StageTimestamp
		}
		if e.Mutating() {
			latencies = append(latencies, e.StageTimestamp.Sub(e.RequestReceived))
		}
	}
	p.Requests = len(mine)
	if p.Requests == 0 {
		return p
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		p.MeanPerSecond = float64(p.Requests) / span
	}
	total, byResource := map[int]int{}, map[string]int{}
	for _, e := range mine {
		second := int(e.RequestReceived.Sub(first) / time.Second)
		total[second]++
		key := fmt.Sprintf("%s@%d", e.Resource(), second)
		byResource[key]++
		if n := byResource[key]; n > p.PeakResourcePerSecond || (n == p.PeakResourcePerSecond && e.Resource() < p.PeakResource) {
			p.PeakResource, p.PeakResourcePerSecond = e.Resource(), n
		}
	}
	for _, n := range total {
		p.PeakPerSecond = max(p.PeakPerSecond, n)
	}
	p.WriteLatencyP50Millis = float64(percentile(latencies, 50)) / float64(time.Millisecond)
	p.WriteLatencyP99Millis = float64(percentile(latencies, 99)) / float64(time.Millisecond)
	return p
}
