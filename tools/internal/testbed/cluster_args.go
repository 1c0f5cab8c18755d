package testbed

import (
	"cmp"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
)

const (
	loopback = "127.0.0.1"

	// serviceCIDR is where ClusterIPs come from; its first address is the
	// `kubernetes` Service and must be in the serving certificate. The
	// project's addresses are in 198.18.0.0/15 (RFC 2544's benchmarking
	// range), never in the 10/8, 172.16/12 or 192.168/16 ranges a host or
	// its DNS server may use.
	serviceCIDR = "198.19.0.0/16"

	// podCIDR and nodeIP are what kwok reports for its fake Pods and Nodes;
	// nothing routes to them. Real pods of a real node take the lower half
	// of 198.18.0.0/16, kwok's the upper half.
	podCIDR = "198.18.128.0/17"
	nodeIP  = "198.18.255.254"

	// serviceAccountIssuer only has to be a valid URL: no one fetches it.
	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

	// kwokNodeAnnotation selects the Nodes kwok manages, so a cluster can in
	// principle hold real Nodes beside the fake ones.
	kwokNodeAnnotation      = "kwok.x-k8s.io/node"
	kwokNodeAnnotationValue = "fake"

	// clientQPS and clientBurst lift the controller manager's and the
	// scheduler's client rate limits (20/30 by default), which would
	// otherwise dominate how fast ReplicaSets and Pods appear in benchmarks.
	clientQPS   = "200"
	clientBurst = "400"
)

// auditPolicy records every request, without bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
`

// endpoints are the URLs derived from the chosen ports.
type endpoints struct {
	ports Ports
	// apiHost is the API server's address: loopback, or the real node's
	// bridge address, which pods reach through the `kubernetes` Service.
	apiHost string
}

func (e endpoints) etcdClientURL() string { return "http://" + hostPort(e.ports.EtcdClient) }
func (e endpoints) etcdPeerURL() string   { return "http://" + hostPort(e.ports.EtcdPeer) }
func (e endpoints) apiServerURL() string {
	return "https://" + net.JoinHostPort(e.apiServerHost(), strconv.Itoa(e.ports.APIServer))
}
func (e endpoints) apiServerHost() string { return cmp.Or(e.apiHost, loopback) }
func (e endpoints) realNode() bool        { return e.apiHost == nodeAddress }

func hostPort(port int) string { return loopback + ":" + strconv.Itoa(port) }

// componentArgs returns the command-line arguments of one component. It is a
// pure function of the layout, the endpoints and the options so tests can pin
// the flags the project's notes found necessary.
func componentArgs(component string, l layout, e endpoints, o ClusterOptions) ([]string, error) {
	switch component {
	case Etcd:
		return etcdArgs(l, e), nil
	case KubeAPIServer:
		return apiServerArgs(l, e, o.AuditLog), nil
	case KubeControllerManager:
		return controllerManagerArgs(l), nil
	case KubeScheduler:
		return schedulerArgs(l), nil
	case Kwok:
		return kwokArgs(l, o.BinDir), nil
	default:
		return nil, fmt.Errorf("unknown component %q", component)
	}
}

func etcdArgs(l layout, e endpoints) []string {
	return []string{
		"--name=localcluster",
		"--data-dir=" + l.etcdData(),
		"--listen-client-urls=" + e.etcdClientURL(),
		"--advertise-client-urls=" + e.etcdClientURL(),
		"--listen-peer-urls=" + e.etcdPeerURL(),
		"--initial-advertise-peer-urls=" + e.etcdPeerURL(),
		"--initial-cluster=localcluster=" + e.etcdPeerURL(),
		"--initial-cluster-state=new",
		// The data is thrown away on the next start; skipping fsync makes
		// writes, and so every test, several times faster on slow disks.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

func apiServerArgs(l layout, e endpoints, audit bool) []string {
	args := []string{
		"--bind-address=" + e.apiServerHost(),
		"--advertise-address=" + e.apiServerHost(),
		"--secure-port=" + strconv.Itoa(e.ports.APIServer),
		"--etcd-servers=" + e.etcdClientURL(),
		"--tls-cert-file=" + l.pki("apiserver.crt"),
		"--tls-private-key-file=" + l.pki("apiserver.key"),
		"--client-ca-file=" + l.pki("ca.crt"),
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + l.pki("sa.pub"),
		"--service-account-signing-key-file=" + l.pki("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
	}
	if e.realNode() {
		args = append(args, realNodeAPIServerArgs(l)...)
	} else {
		args = append(args,
			// The lease reconciler refuses a loopback advertise address;
			// with a single apiserver there is nothing to reconcile.
			"--endpoint-reconciler-type=none",
			// Pods then need no ServiceAccount object (and no token
			// controller).
			"--disable-admission-plugins=ServiceAccount",
			// Tests depend on RBAC being enforced for non-admin identities.
			"--authorization-mode=RBAC",
		)
	}
	if audit {
		args = append(args,
			"--audit-policy-file="+l.auditPolicy(),
			"--audit-log-path="+l.auditLog(),
			// Blocking: an event is on disk before its response is sent, so a
			// benchmark reading the log after its last request sees them all.
			"--audit-log-mode=blocking",
			"--audit-log-maxsize=0",
		)
	}
	return args
}

// realNodeAPIServerArgs are what real pods need: the `kubernetes` Service's
// endpoint kept at the bridge address by the default lease reconciler,
// ServiceAccount tokens in pods, the kubelet authorized as a node (Node
// authorizer, NodeRestriction) and the API server's client certificate for
// the kubelet's server (logs, exec, port-forward), reached at the node's
// InternalIP.
func realNodeAPIServerArgs(l layout) []string {
	return []string{
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate=" + l.pki("kubelet-client.crt"),
		"--kubelet-client-key=" + l.pki("kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
	}
}

func controllerManagerArgs(l layout) []string {
	return []string{
		"--kubeconfig=" + l.componentKubeconfig(KubeControllerManager),
		"--leader-elect=false",
		"--secure-port=0",
		// Tokens are not needed: pods are fake and the ServiceAccount
		// admission plugin is off.
		"--controllers=*,-serviceaccount-token",
		"--root-ca-file=" + l.pki("ca.crt"),
		"--kube-api-qps=" + clientQPS,
		"--kube-api-burst=" + clientBurst,
	}
}

func schedulerArgs(l layout) []string {
	return []string{
		"--kubeconfig=" + l.componentKubeconfig(KubeScheduler),
		"--leader-elect=false",
		"--secure-port=0",
		"--kube-api-qps=" + clientQPS,
		"--kube-api-burst=" + clientBurst,
	}
}

func kwokArgs(l layout, binDir string) []string {
	// kwok serves nothing unless --server-address or --node-port is set, so
	// clusters side by side cannot clash on a kwok port.
	return []string{
		"--kubeconfig=" + l.componentKubeconfig(Kwok),
		"--config=" + filepath.Join(binDir, kwokStagesFile),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=" + kwokNodeAnnotationValue,
		"--cidr=" + podCIDR,
		"--node-ip=" + nodeIP,
		"--node-lease-duration-seconds=40",
	}
}

// componentSpec is how the supervisor runs one component: its arguments,
// its environment (KWOK_WORKDIR keeps kwok from loading the user's
// ~/.kwok/kwok.yaml), the ports it listens on (for busy-port checks and to
// prove them free after stop), and when it stops.
func componentSpec(component string, l layout, e endpoints, o ClusterOptions) (ProcessSpec, error) {
	args, err := componentArgs(component, l, e, o)
	if err != nil {
		return ProcessSpec{}, err
	}
	spec := ProcessSpec{
		Name: component, Path: filepath.Join(o.BinDir, component), Args: args, Dir: l.dir,
		LogFile: l.logFile(component), PidFile: l.pidFile(component), Detached: o.Detached, Tier: TierClients,
	}
	switch component {
	case Etcd:
		spec.Ports, spec.Tier = []int{e.ports.EtcdClient, e.ports.EtcdPeer}, TierStore
	case KubeAPIServer:
		spec.Ports, spec.Host, spec.Tier = []int{e.ports.APIServer}, e.apiHost, TierAPIServer
	case Kwok:
		spec.Env = []string{"KWOK_WORKDIR=" + l.kwokWorkDir()}
	}
	return spec, nil
}
