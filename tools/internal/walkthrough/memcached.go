package walkthrough

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// MemcachedPort is memcached's port in the operator's pods.
const MemcachedPort = 11211

// MemcachedSetGet stores value under key in the memcached at addr with the
// text protocol's set, reads it back with get, and fails unless memcached
// answered STORED and then exactly that value. It writes the exchange to
// out, each line as sent (>) or received (<): the proof is memcached's own
// answer, not a status field.
func MemcachedSetGet(ctx context.Context, addr, key, value string, out io.Writer) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connecting to memcached at %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	s := memcachedSession{conn: conn, r: bufio.NewReader(conn), out: out}
	if err := s.send(fmt.Sprintf("set %s 0 0 %d", key, len(value)), value); err != nil {
		return err
	}
	if err := s.expect("STORED"); err != nil {
		return err
	}
	if err := s.send("get " + key); err != nil {
		return err
	}
	for _, want := range []string{fmt.Sprintf("VALUE %s 0 %d", key, len(value)), value, "END"} {
		if err := s.expect(want); err != nil {
			return err
		}
	}
	return nil
}

// memcachedSession is one connection speaking memcached's text protocol.
type memcachedSession struct {
	conn net.Conn
	r    *bufio.Reader
	out  io.Writer
}

func (s memcachedSession) send(lines ...string) error {
	for _, l := range lines {
		fmt.Fprintf(s.out, "> %s\n", l)
		if _, err := io.WriteString(s.conn, l+"\r\n"); err != nil {
			return fmt.Errorf("sending %q to memcached: %w", l, err)
		}
	}
	return nil
}

func (s memcachedSession) expect(want string) error {
	line, err := s.r.ReadString('\n')
	got := strings.TrimSuffix(line, "\r\n")
	if err != nil {
		return fmt.Errorf("memcached answered %q, then %w (want %q)", got, err, want)
	}
	fmt.Fprintf(s.out, "< %s\n", got)
	if got != want {
		return fmt.Errorf("memcached answered %q, want %q", got, want)
	}
	return nil
}

// setGet is the walk-through's last look before the delete, where pods
// really run: a port-forward to one of the sample's pods, as `kubectl
// port-forward` opens it, and memcached storing and returning a value
// through it.
func (r *runner) setGet(ctx context.Context) error {
	pods, err := r.runningPods(ctx)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return fmt.Errorf("no running pod of %s to port-forward to", sampleName)
	}
	pod := pods[0]
	r.say("memcached answers: set, then get, through a port-forward to " + pod)
	fmt.Fprintf(r.cfg.Out, "$ kubectl port-forward pod/%s :%d -n %s   # done here with client-go's portforward\n", pod, MemcachedPort, r.cfg.Namespace)
	pf, err := testbed.StartPortForward(ctx, r.restConfig, r.cfg.Namespace, pod, MemcachedPort)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.cfg.Out, "Forwarding from %s -> %d\n", pf.Addr, MemcachedPort)
	stepCtx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	value := "stored in " + pod
	err = MemcachedSetGet(stepCtx, pf.Addr, "walkthrough", value, r.cfg.Out)
	if cerr := pf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("memcached in pod %s through the port-forward: %w", pod, err)
	}
	fmt.Fprintf(r.cfg.Out, "# memcached in %s stored %q and returned it\n", pod, value)
	return nil
}
