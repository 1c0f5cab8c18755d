package localcluster

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

// listening reports whether something accepts connections on the loopback
// port. A refused connection is the expected answer for a freed port.
func listening(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(loopback, strconv.Itoa(port)), 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
