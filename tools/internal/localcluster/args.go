package localcluster

import (
	"fmt"
	"path/filepath"
	"strconv"
)

const (
	loopback = "127.0.0.1"

	// serviceCIDR is where ClusterIPs come from; its first address is the
	// `kubernetes` Service and must be in the serving certificate.
	serviceCIDR = "10.96.0.0/16"

	// podCIDR and nodeIP are what kwok reports; nothing routes to them.
	podCIDR = "10.244.0.0/16"
	nodeIP  = "10.0.0.1"

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
}

func (e endpoints) etcdClientURL() string { return "http://" + hostPort(e.ports.EtcdClient) }
func (e endpoints) etcdPeerURL() string   { return "http://" + hostPort(e.ports.EtcdPeer) }
func (e endpoints) apiServerURL() string  { return "https://" + hostPort(e.ports.APIServer) }

func hostPort(port int) string { return loopback + ":" + strconv.Itoa(port) }

// componentArgs returns the command-line arguments of one component. It is a
// pure function of the layout, the endpoints and the options so tests can pin
// the flags the project's notes found necessary.
func componentArgs(component string, l layout, e endpoints, o Options) ([]string, error) {
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
		"--bind-address=" + loopback,
		"--advertise-address=" + loopback,
		"--secure-port=" + strconv.Itoa(e.ports.APIServer),
		"--etcd-servers=" + e.etcdClientURL(),
		"--tls-cert-file=" + l.pki("apiserver.crt"),
		"--tls-private-key-file=" + l.pki("apiserver.key"),
		"--client-ca-file=" + l.pki("ca.crt"),
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + l.pki("sa.pub"),
		"--service-account-signing-key-file=" + l.pki("sa.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		// The lease reconciler refuses a loopback advertise address; with a
		// single apiserver there is nothing to reconcile.
		"--endpoint-reconciler-type=none",
		// Pods then need no ServiceAccount object (and no token controller).
		"--disable-admission-plugins=ServiceAccount",
		// Tests depend on RBAC being enforced for non-admin identities.
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--profiling=false",
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

// componentEnv is added to the inherited environment. KWOK_WORKDIR keeps kwok
// from loading the user's ~/.kwok/kwok.yaml.
func componentEnv(component string, l layout) []string {
	if component == Kwok {
		return []string{"KWOK_WORKDIR=" + l.kwokWorkDir()}
	}
	return nil
}

// componentPorts lists what a component listens on, for busy-port checks and
// to prove the ports are free again after stop.
func componentPorts(component string, p Ports) []int {
	switch component {
	case Etcd:
		return []int{p.EtcdClient, p.EtcdPeer}
	case KubeAPIServer:
		return []int{p.APIServer}
	default:
		return nil
	}
}
