package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	componentbasev1alpha1 "k8s.io/component-base/config/v1alpha1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// PauseImage is the sandbox image containerd runs for every pod
// (pinned_images.sandbox): the upstream reference, served by the loopback
// registry from a pause program built here.
const PauseImage = "registry.k8s.io/pause:3.10.1"

// nodeConfig is what the node's configuration files are rendered from.
type nodeConfig struct {
	layout nodeLayout
	ports  nodePorts
	// runc is the runc binary's path; caFile the cluster CA, which the
	// kubelet trusts for the API server's client certificate.
	runc   string
	caFile string
	// kubeconfigs of the kubelet, kube-proxy and CoreDNS.
	proxyKubeconfig, dnsKubeconfig string
}

// containerdTemplate is containerd's configuration: every path below the
// state directory or nodeRunDir (the defaults are the host's /var/lib,
// /run and /etc), registry hosts only from certs.d, the CNI plugins from
// Debian's package. restrict_oom_score_adj keeps sandboxes from asking for
// an oom_score_adj below containerd's own, which fails without
// CAP_SYS_RESOURCE (a VM's root shell often lacks it). NRI is off: it
// would open a socket in /var/run/nri.
var containerdTemplate = template.Must(template.New("config.toml").Parse(`version = 3
root = '{{.Dir}}/root'
state = '{{.Dir}}/state'
disabled_plugins = ['io.containerd.nri.v1.nri']

[grpc]
  address = '{{.Socket}}'

[ttrpc]
  address = '{{.Socket}}.ttrpc'

[debug]
  address = ''

[metrics]
  address = ''

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = '{{.Dir}}/opt'
  [plugins.'io.containerd.image-verifier.v1.bindir']
    bin_dir = '{{.Dir}}/verifier-bin'
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '{{.RunDir}}/s'
  [plugins.'io.containerd.transfer.v1.local']
    config_path = '{{.CertsDir}}'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '{{.Sandbox}}'
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = '{{.CertsDir}}'
  [plugins.'io.containerd.cri.v1.runtime']
    cdi_spec_dirs = ['{{.Dir}}/cdi']
    netns_mounts_under_state_dir = true
    enable_criu = false
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '{{.Runc}}'
          Root = '{{.Dir}}/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['{{.CNIBinDir}}']
      conf_dir = '{{.CNIConfDir}}'
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`))

func (c nodeConfig) containerd() ([]byte, error) {
	var b bytes.Buffer
	err := containerdTemplate.Execute(&b, map[string]string{
		"Dir": c.layout.containerdDir(), "Socket": c.layout.containerdSocket(), "RunDir": nodeRunDir,
		"CertsDir": c.layout.certsDir(), "Sandbox": PauseImage, "Runc": c.runc,
		"CNIBinDir": cniBinDir, "CNIConfDir": c.layout.cniConfDir(),
	})
	return b.Bytes(), err
}

// cniNetwork is the pods' network: a veth per pod on the node's bridge,
// an address from realPodCIDR, and one route, to the Services through the
// bridge address. No gateway on the bridge and no masquerading, so the
// plugin changes no forwarding sysctl and adds no NAT rule, and a pod has
// no default route: nothing it sends can leave the machine.
func (c nodeConfig) cniNetwork() ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       "memcached-operator-node",
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": nodeBridge,
			"isGateway": false, "isDefaultGateway": false, "ipMasq": false, "hairpinMode": false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": realPodCIDR, "gateway": nodeAddress}}},
				"routes":  []map[string]string{{"dst": serviceCIDR, "gw": nodeAddress}},
				"dataDir": c.layout.cniIPAMDir(),
			},
		}},
	}, "", "  ")
}

// kubelet is the kubelet's configuration. Pods run in cgroups below
// nodeCgroup (cgroupRoot), so teardown finds every container there.
// cgroup v1 is accepted (failCgroupV1: false), its server listens on the
// bridge address and accepts only clients with a certificate of the
// cluster's CA (the API server), pods get CoreDNS as their only resolver,
// and it creates no iptables chains (kube-proxy in nftables mode needs
// none).
func (c nodeConfig) kubelet() ([]byte, error) {
	endpoint := "unix://" + c.layout.containerdSocket()
	cfg := kubeletv1beta1.KubeletConfiguration{
		TypeMeta:                 metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		FailCgroupV1:             ptr.To(false),
		CgroupDriver:             "cgroupfs",
		CgroupsPerQOS:            ptr.To(true),
		CgroupRoot:               "/" + nodeCgroup,
		FailSwapOn:               ptr.To(false),
		ContainerRuntimeEndpoint: endpoint,
		ImageServiceEndpoint:     endpoint,
		Address:                  nodeAddress,
		Port:                     int32(c.ports.Kubelet),
		ReadOnlyPort:             0,
		HealthzBindAddress:       loopback,
		HealthzPort:              ptr.To(int32(c.ports.KubeletHealthz)),
		PodLogsDir:               c.layout.podLogs(),
		VolumePluginDir:          c.layout.volumePlugins(),
		ResolverConfig:           ptr.To(""),
		ClusterDNS:               []string{nodeAddress},
		ClusterDomain:            clusterDomain,
		Authentication: kubeletv1beta1.KubeletAuthentication{
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: c.caFile},
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: ptr.To(false)},
		},
		Authorization:               kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeAlwaysAllow},
		MakeIPTablesUtilChains:      ptr.To(false),
		OOMScoreAdj:                 ptr.To(int32(0)),
		SerializeImagePulls:         ptr.To(false),
		ImageGCHighThresholdPercent: ptr.To(int32(100)),
		ImageGCLowThresholdPercent:  ptr.To(int32(99)),
		// A shared build machine's disk is often fuller than the defaults
		// allow; evicting the test's pods would only confuse.
		EvictionHard: map[string]string{
			"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%",
		},
	}
	return yaml.Marshal(cfg)
}

// kubeProxy is kube-proxy's configuration: nftables mode (its own tables,
// removed whole at teardown), node ports only on the bridge address, and
// conntrack left as it is (zero values change no sysctl).
func (c nodeConfig) kubeProxy() ([]byte, error) {
	zero := &metav1.Duration{}
	cfg := kubeproxyv1alpha1.KubeProxyConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration"},
		ClientConnection:   componentbasev1alpha1.ClientConnectionConfiguration{Kubeconfig: c.proxyKubeconfig},
		HostnameOverride:   RealNodeName,
		BindAddress:        nodeAddress,
		HealthzBindAddress: net.JoinHostPort(loopback, strconv.Itoa(c.ports.ProxyHealthz)),
		MetricsBindAddress: net.JoinHostPort(loopback, strconv.Itoa(c.ports.ProxyMetrics)),
		Mode:               "nftables",
		DetectLocalMode:    "ClusterCIDR",
		ClusterCIDR:        clusterCIDR,
		NodePortAddresses:  []string{nodeAddress + "/32"},
		OOMScoreAdj:        ptr.To(int32(0)),
		Conntrack: kubeproxyv1alpha1.KubeProxyConntrackConfiguration{
			MaxPerCore: ptr.To(int32(0)), Min: ptr.To(int32(0)), TCPEstablishedTimeout: zero, TCPCloseWaitTimeout: zero,
		},
	}
	return yaml.Marshal(cfg)
}

// corefile serves the cluster's names on the bridge address and nothing
// else: the CoreDNS built by `make node-binaries` has no forward plugin, so
// a name outside the cluster's zones gets an error, never an answer from
// elsewhere.
func (c nodeConfig) corefile() []byte {
	return fmt.Appendf(nil, `.:%d {
    bind %s
    errors
    log
    ready %s
    health %s
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s %s
        pods insecure
        ttl 5
    }
    cache 5
}
`, clusterDNSPort, nodeAddress, net.JoinHostPort(loopback, strconv.Itoa(c.ports.DNSReady)),
		net.JoinHostPort(loopback, strconv.Itoa(c.ports.DNSHealth)), clusterDomain, c.dnsKubeconfig, contextName)
}

// resolvConf is the resolver configuration of host processes that need
// cluster names (ClusterDNSWrapper): CoreDNS only.
func resolvConf() []byte {
	return []byte(strings.Join([]string{
		"nameserver " + nodeAddress, "search " + clusterDomain, "options ndots:5", "",
	}, "\n"))
}
