package testbed

import "testing"

func TestStartingWorkers(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       bool
	}{
		{"JSON encoder", `{"level":"info","ts":"2026-12-03T16:00:00Z","msg":"Starting workers","controller":"memcached","worker count":8}`, true},
		{"console encoder, the scaffold's development default", "2026-12-03T16:00:00Z\tINFO\tStarting workers\t{\"controller\": \"memcached\", \"controllerGroup\": \"cache.example.com\", \"worker count\": 1}", true},
		{"another controller", `{"msg":"Starting workers","controller":"upgradeable","worker count":1}`, false},
		{"the memcached controller starting its sources", `{"msg":"Starting EventSource","controller":"memcached"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := startingWorkers(tc.line); got != tc.want {
				t.Errorf("startingWorkers(%q) = %v, want %v", tc.line, got, tc.want)
			}
		})
	}
}
