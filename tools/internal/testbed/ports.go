package testbed

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// portUse names what a port is for, so a busy-port error can say which
// component could not get it.
type portUse struct {
	port *int
	what string
}

func portUses(p *Ports) []portUse {
	return []portUse{
		{&p.EtcdClient, "etcd client port"},
		{&p.EtcdPeer, "etcd peer port"},
		{&p.APIServer, "kube-apiserver secure port"},
	}
}

// allocatePorts checks that every pinned port is free and picks a free port
// for every other one. All probe listeners stay open until every port is
// chosen, so the kernel cannot hand out the same port twice; a port can still
// be taken by someone else before the component binds it, and that shows as
// the component exiting with "address already in use" in its log.
func allocatePorts(pinned Ports) (Ports, error) {
	chosen := pinned
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	seen := map[int]string{}
	for _, use := range portUses(&chosen) {
		if *use.port != 0 {
			if other, dup := seen[*use.port]; dup {
				return Ports{}, fmt.Errorf("port %d is requested for both the %s and the %s", *use.port, other, use.what)
			}
		}
		l, err := net.Listen("tcp", hostPort(*use.port))
		if err != nil {
			if *use.port != 0 {
				return Ports{}, fmt.Errorf("port %d for the %s is already in use on %s", *use.port, use.what, loopback)
			}
			return Ports{}, fmt.Errorf("finding a free port for the %s: %w", use.what, err)
		}
		listeners = append(listeners, l)
		*use.port = l.Addr().(*net.TCPAddr).Port
		seen[*use.port] = use.what
	}
	return chosen, nil
}

// listening reports whether something accepts connections on host:port
// (host empty means loopback). A refused connection is the expected answer
// for a freed port.
func listening(host string, port int) bool {
	if host == "" {
		host = loopback
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// waitPortsClosed waits until nothing accepts connections on the ports: a
// process can be reaped a moment before the kernel lets another bind them.
func waitPortsClosed(host string, ports []int, grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for _, port := range ports {
		for listening(host, port) {
			if time.Now().After(deadline) {
				return fmt.Errorf("port %d still accepts connections %s after the process exited", port, grace)
			}
			time.Sleep(pollInterval)
		}
	}
	return nil
}

// FreePort returns a loopback port nothing listens on at the moment.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", hostPort(0))
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
