package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PortForward is one forward of a loopback port of this host to a port of
// a pod, as `kubectl port-forward` opens it: through the API server, the
// kubelet and containerd's stream server, never to the pod's address.
type PortForward struct {
	// Addr is the local end, 127.0.0.1:PORT (PORT picked free).
	Addr   string
	cancel context.CancelFunc
	done   chan error
	errOut *strings.Builder
}

// StartPortForward forwards a free loopback port to port of the pod, with
// client-go's portforward package and the dialer kubectl uses (websocket
// tunnelling, SPDY where the server refuses the upgrade). It returns once
// the local port listens; Close ends the forward.
func StartPortForward(ctx context.Context, cfg *rest.Config, namespace, pod string, port int) (*PortForward, error) {
	dialer, err := portForwardDialer(cfg, namespace, pod)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	pf := &PortForward{cancel: cancel, done: make(chan error, 1), errOut: &strings.Builder{}}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddressesWithContext(ctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, pf.errOut)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s:%d: %w", namespace, pod, port, err)
	}
	go func() { pf.done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-pf.done:
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s:%d: %w (%s)", namespace, pod, port, err, pf.errOut.String())
	case <-ctx.Done():
		cancel()
		<-pf.done
		return nil, fmt.Errorf("port-forward to pod %s/%s:%d: %w", namespace, pod, port, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		_ = pf.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s:%d: local port unknown (%v)", namespace, pod, port, err)
	}
	pf.Addr = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return pf, nil
}

// Close stops the forward and waits for it to end; it returns the error
// the forward ended with, if it ended before being closed.
func (pf *PortForward) Close() error {
	pf.cancel()
	if err := <-pf.done; err != nil && !errors.Is(err, portforward.ErrLostConnectionToPod) {
		return fmt.Errorf("port-forward %s: %w", pf.Addr, err)
	}
	return nil
}

// portForwardDialer is kubectl's: SPDY tunnelled over a websocket, falling
// back to SPDY when the API server refuses the websocket upgrade.
func portForwardDialer(cfg *rest.Config, namespace, pod string) (httpstream.Dialer, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	url := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward transport: %w", err)
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(url, cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward websocket dialer: %w", err)
	}
	return portforward.NewFallbackDialer(tunnel, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}
