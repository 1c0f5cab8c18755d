package testbed

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startNode starts the real node's processes in dependency order, each
// once what it needs answers: the registry with the pause image in it,
// containerd, the kubelet (until its Node is Ready), kube-proxy and CoreDNS.
func (c *Cluster) startNode(ctx context.Context) error {
	n := c.node
	began := time.Now()
	if err := c.startNodeProcess(RegistryProcess, n.opts.ToolsBinary, TierServices, n.ports.Registry, "",
		"registry", "serve", "--address", n.reg.host, "--dir", n.layout.registryDir()); err != nil {
		return err
	}
	if err := c.waitFor(ctx, RegistryProcess, "serve the registry API", httpOK("http://"+n.reg.host+"/v2/")); err != nil {
		return err
	}
	if err := n.reg.Push(ctx, PauseImage, n.pause); err != nil {
		return err
	}
	if err := c.startNodeProcess(Containerd, filepath.Join(n.opts.BinDir, Containerd), TierServices, 0, "",
		"--config", n.layout.containerdConfig()); err != nil {
		return err
	}
	if err := c.waitFor(ctx, Containerd, "report its runtime and network ready", criReady(n.layout.containerdSocket())); err != nil {
		return err
	}
	if err := c.startKubelet(ctx); err != nil {
		return err
	}
	if err := c.startNodeProcess(KubeProxy, filepath.Join(n.opts.BinDir, KubeProxy), TierClients, n.ports.ProxyHealthz, "",
		"--config="+n.layout.proxyConfig()); err != nil {
		return err
	}
	if err := c.waitFor(ctx, KubeProxy, "sync its rules", httpOK(fmt.Sprintf("http://%s/healthz", hostPort(n.ports.ProxyHealthz)))); err != nil {
		return err
	}
	if err := ensureCoreDNSRBAC(ctx, c); err != nil {
		return err
	}
	if err := c.startNodeProcess(CoreDNS, filepath.Join(n.opts.BinDir, CoreDNS), TierClients, n.ports.DNSReady, "",
		"-conf", n.layout.corefile()); err != nil {
		return err
	}
	if err := c.waitFor(ctx, CoreDNS, "become ready", httpOK(fmt.Sprintf("http://%s/ready", hostPort(n.ports.DNSReady)))); err != nil {
		return err
	}
	n.timings.Total = time.Since(began)
	return nil
}

// startKubelet starts the kubelet and waits for its Node to be Ready,
// timing it.
func (c *Cluster) startKubelet(ctx context.Context) error {
	n := c.node
	began := time.Now()
	err := c.startNodeProcess(Kubelet, filepath.Join(n.opts.BinDir, Kubelet), TierClients, n.ports.Kubelet, nodeAddress,
		"--config="+n.layout.kubeletConfig(),
		"--kubeconfig="+c.layout.componentKubeconfig(Kubelet),
		"--root-dir="+n.layout.kubeletRoot(),
		"--cert-dir="+n.layout.kubeletCertDir(),
		"--hostname-override="+RealNodeName,
		// Without it the kubelet resolves its hostname through DNS.
		"--node-ip="+nodeAddress,
		"--node-labels=type=real")
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, Kubelet, "register a Ready Node", nodeReady(c.kube, RealNodeName)); err != nil {
		return err
	}
	n.timings.KubeletToReady = time.Since(began)
	return nil
}

// startNodeProcess starts one of the node's daemons as a component of the
// cluster.
func (c *Cluster) startNodeProcess(name, path string, tier StopTier, port int, host string, args ...string) error {
	spec := c.nodeSpec(name, path, args, tier)
	if port != 0 {
		spec.Ports, spec.Host = []int{port}, host
	}
	return c.startComponent(spec)
}

func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s answered %s", url, resp.Status)
		}
		return nil
	}
}

// ensureCoreDNSRBAC lets CoreDNS's identity (system:coredns) read what the
// kubernetes plugin watches, as kubeadm's ClusterRole does.
func ensureCoreDNSRBAC(ctx context.Context, c *Cluster) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:coredns"}},
	}
	rbac := c.kube.RbacV1()
	if _, err := rbac.ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating CoreDNS's ClusterRole: %w", err)
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating CoreDNS's ClusterRoleBinding: %w", err)
	}
	return nil
}
