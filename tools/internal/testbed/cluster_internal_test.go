package testbed

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestComponentArgs(t *testing.T) {
	l := layout{dir: "/state"}
	e := endpoints{ports: Ports{EtcdClient: 2379, EtcdPeer: 2380, APIServer: 6443}}
	opts := ClusterOptions{BinDir: "/bin/k8s"}
	tests := []struct {
		component string
		audit     bool
		want      []string
		notWant   []string
	}{
		{
			component: Etcd,
			want: []string{
				"--data-dir=/state/etcd-data",
				"--listen-client-urls=http://127.0.0.1:2379",
				"--advertise-client-urls=http://127.0.0.1:2379",
				"--listen-peer-urls=http://127.0.0.1:2380",
				"--initial-cluster=localcluster=http://127.0.0.1:2380",
			},
		},
		{
			component: KubeAPIServer,
			want: []string{
				"--bind-address=127.0.0.1",
				"--advertise-address=127.0.0.1",
				"--secure-port=6443",
				"--etcd-servers=http://127.0.0.1:2379",
				"--service-account-issuer=" + serviceAccountIssuer,
				"--service-account-key-file=/state/pki/sa.pub",
				"--service-account-signing-key-file=/state/pki/sa.key",
				"--service-cluster-ip-range=198.19.0.0/16",
				"--endpoint-reconciler-type=none",
				"--disable-admission-plugins=ServiceAccount",
				"--authorization-mode=RBAC",
				"--client-ca-file=/state/pki/ca.crt",
			},
			notWant: []string{"--audit-log-path=/state/logs/audit.log"},
		},
		{
			component: KubeAPIServer,
			audit:     true,
			want: []string{
				"--audit-policy-file=/state/audit-policy.yaml",
				"--audit-log-path=/state/logs/audit.log",
				"--audit-log-mode=blocking",
			},
		},
		{
			component: KubeControllerManager,
			want: []string{
				"--kubeconfig=/state/kubeconfigs/kube-controller-manager.kubeconfig",
				"--leader-elect=false",
				"--secure-port=0",
				"--controllers=*,-serviceaccount-token",
				"--kube-api-qps=200",
				"--kube-api-burst=400",
			},
		},
		{
			component: KubeScheduler,
			want: []string{
				"--kubeconfig=/state/kubeconfigs/kube-scheduler.kubeconfig",
				"--leader-elect=false",
				"--secure-port=0",
				"--kube-api-qps=200",
				"--kube-api-burst=400",
			},
		},
		{
			component: Kwok,
			want: []string{
				"--kubeconfig=/state/kubeconfigs/kwok.kubeconfig",
				"--config=/bin/k8s/kwok-stages.yaml",
				"--manage-all-nodes=false",
				"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
				"--cidr=198.18.128.0/17",
				"--node-ip=198.18.255.254",
				"--node-lease-duration-seconds=40",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.component, func(t *testing.T) {
			o := opts
			o.AuditLog = tt.audit
			args, err := componentArgs(tt.component, l, e, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !slices.Contains(args, w) {
					t.Errorf("missing %s in %v", w, args)
				}
			}
			for _, nw := range tt.notWant {
				if slices.Contains(args, nw) {
					t.Errorf("unexpected %s in %v", nw, args)
				}
			}
			// Every component must carry the state directory on its command
			// line, or ClusterDown could not tell it from the same component
			// of another cluster that got a reused pid.
			if !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, l.dir+"/") }) {
				t.Errorf("command line of %s is not recognisable as this cluster's: %v", tt.component, args)
			}
			spec, err := componentSpec(tt.component, l, e, o)
			if err != nil || spec.PidFile != "/state/run/"+tt.component+".pid" || spec.LogFile != "/state/logs/"+tt.component+".log" ||
				!slices.Equal(spec.argv(), append([]string{"/bin/k8s/" + tt.component}, args...)) {
				t.Errorf("spec of %s: %+v, %v", tt.component, spec, err)
			}
		})
	}
	if _, err := componentArgs("kubelet", l, e, opts); err == nil {
		t.Error("unknown component accepted")
	}
}

func TestOwned(t *testing.T) {
	if !owned(os.Getpid(), os.Args) {
		t.Error("the test binary's own command line was not recognised")
	}
	// A pid whose command line differs in any way is not ours.
	for _, argv := range [][]string{
		{"/bin/k8s/kube-apiserver", "--etcd-servers=http://127.0.0.1:2379"},
		append(slices.Clone(os.Args), "--state-dir=/other"),
		os.Args[:1],
		nil,
	} {
		if owned(os.Getpid(), argv) {
			t.Errorf("the test binary was taken for %v", argv)
		}
	}
}

func TestRenderKubeconfig(t *testing.T) {
	certs, err := newPKI(net.IPv4(198, 19, 0, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	data, err := renderKubeconfig("https://127.0.0.1:6443", certs.CA.CertPEM, certs.Clients["admin"])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := restConfigFromKubeconfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" {
		t.Errorf("host = %q", cfg.Host)
	}
	if string(cfg.CAData) != string(certs.CA.CertPEM) || string(cfg.CertData) != string(certs.Clients["admin"].CertPEM) {
		t.Error("certificates are not embedded as given")
	}
	raw, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != contextName {
		t.Errorf("current context = %q, want %q", raw.CurrentContext, contextName)
	}
}

func TestPKI(t *testing.T) {
	certs, err := newPKI(net.IPv4(198, 19, 0, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(certs.CA.cert)

	serving := certs.Serving.cert
	for _, host := range []string{"127.0.0.1", "198.19.0.1", "localhost", "kubernetes.default.svc"} {
		if _, err := serving.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("serving certificate not valid for %s: %v", host, err)
		}
	}

	tests := []struct {
		client string
		user   string
		groups []string
	}{
		{"admin", "kubernetes-admin", []string{"system:masters"}},
		{KubeScheduler, "system:kube-scheduler", nil},
		{KubeControllerManager, "system:kube-controller-manager", []string{"system:masters"}},
		{Kwok, "kwok-controller", []string{"system:masters"}},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			cert := certs.Clients[tt.client].cert
			if cert == nil {
				t.Fatalf("no client certificate for %s", tt.client)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client certificate does not verify: %v", err)
			}
			if cert.Subject.CommonName != tt.user || !slices.Equal(cert.Subject.Organization, tt.groups) {
				t.Errorf("subject = %s/%v, want %s/%v", cert.Subject.CommonName, cert.Subject.Organization, tt.user, tt.groups)
			}
		})
	}

	block, _ := pem.Decode(certs.SAKeyPEM)
	if block == nil {
		t.Fatal("service account key is not PEM")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("service account key: %v", err)
	}
}

func TestAllocatePorts(t *testing.T) {
	got, err := allocatePorts(Ports{})
	if err != nil {
		t.Fatal(err)
	}
	ports := []int{got.EtcdClient, got.EtcdPeer, got.APIServer}
	slices.Sort(ports)
	if slices.Contains(ports, 0) || len(slices.Compact(ports)) != 3 {
		t.Fatalf("want three distinct free ports, got %+v", got)
	}

	pinned := Ports{APIServer: got.APIServer}
	again, err := allocatePorts(pinned)
	if err != nil || again.APIServer != got.APIServer {
		t.Fatalf("pinned free port not kept: %+v, %v", again, err)
	}

	if _, err := allocatePorts(Ports{EtcdClient: got.APIServer, APIServer: got.APIServer}); err == nil ||
		!strings.Contains(err.Error(), "requested for both") {
		t.Fatalf("duplicate pinned port: got %v", err)
	}
}

func TestReadRecord(t *testing.T) {
	dir := t.TempDir()
	valid := record{PID: 1234, Argv: []string{"/bin/k8s/etcd", "--data-dir=/state/etcd-data"}, Ports: []int{2379}, Tier: TierStore}
	path := filepath.Join(dir, "etcd.pid")
	if err := writeRecord(path, valid); err != nil {
		t.Fatal(err)
	}
	if got, err := readRecord(path); err != nil || got.PID != 1234 || !slices.Equal(got.Argv, valid.Argv) || got.Tier != TierStore {
		t.Errorf("readRecord = %+v, %v; want %+v", got, err, valid)
	}
	tests := []struct {
		name    string
		content string
	}{
		{"plain pid", "1234\n"},
		{"garbage", "abc"},
		{"zero", `{"pid":0,"argv":["/bin/k8s/etcd"]}`},
		{"negative", `{"pid":-5,"argv":["/bin/k8s/etcd"]}`},
		{"no command line", `{"pid":1234}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := readRecord(path); err == nil {
				t.Errorf("readRecord(%q) = %+v, want an error", tt.content, got)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	if _, err := (ClusterOptions{}).withDefaults(); err == nil || !strings.Contains(err.Error(), "make k8s-binaries") {
		t.Errorf("no bin dir: got %v", err)
	}
	if _, err := (ClusterOptions{BinDir: "bin", Detached: true}).withDefaults(); err == nil {
		t.Error("detached without a state directory accepted")
	}
	if _, err := (ClusterOptions{BinDir: "bin", Nodes: -1}).withDefaults(); err == nil {
		t.Error("negative node count accepted")
	}
	o, err := (ClusterOptions{BinDir: "bin", StateDir: "state"}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(o.BinDir) || !filepath.IsAbs(o.StateDir) || o.Nodes != 1 || o.StartTimeout == 0 || o.StopTimeout == 0 {
		t.Errorf("defaults not applied: %+v", o)
	}
}

func TestFailedReadyzChecks(t *testing.T) {
	body := "[+]ping ok\n[+]etcd ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n" +
		"[-]autoregister-completion failed: reason withheld\nreadyz check failed"
	got := failedReadyzChecks([]byte(body))
	want := []string{"poststarthook/rbac/bootstrap-roles", "autoregister-completion"}
	if !slices.Equal(got, want) {
		t.Errorf("failedReadyzChecks() = %v, want %v", got, want)
	}
	if got := failedReadyzChecks(nil); got != nil {
		t.Errorf("empty body: got %v", got)
	}
}
