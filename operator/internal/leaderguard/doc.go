// Package leaderguard keeps a replica that may have lost its leader
// election Lease from writing to the API server.
//
// client-go's leader election finds out that another replica took the
// Lease only when its next renewal fails, up to the renew deadline later: a
// replica that was frozen (a long pause, SIGSTOP, a stalled node) past the
// Lease's expiry wakes up still running its controllers, with events queued
// in its watches, while the new leader writes. The guard is an HTTP
// transport under every client of the manager: it notes when a write of
// the Lease succeeded (from when it was sent) and refuses every other
// write once that is older than the renew deadline, before anything is
// sent. A healthy leader renews every retry period, far within it.
//
// It must not decide leadership (client-go's elector does) nor stop the
// process; it must never hold back reads, the Lease's own writes, or the
// token and access reviews of the metrics endpoint (they change nothing).
package leaderguard
