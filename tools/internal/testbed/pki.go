package testbed

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"net"
	"os"
	"time"
)

// certValidity outlives any local cluster; the CA is regenerated on every
// start anyway.
const certValidity = 365 * 24 * time.Hour

// keyPair is a certificate with its private key, both PEM encoded.
type keyPair struct {
	CertPEM []byte
	KeyPEM  []byte

	cert *x509.Certificate
	key  crypto.Signer
}

// clientIdentity is who a component authenticates as. The apiserver maps the
// certificate's CN to the user and each O to a group.
type clientIdentity struct {
	User   string
	Groups []string
}

// clientIdentities are the users of the cluster's clients. Components get
// their own names so the audit log tells them apart from the admin (and from
// the operator under test). The scheduler runs with the RBAC role the
// apiserver bootstraps for it; the controller manager and kwok act for many
// controllers without per-controller credentials, so they are masters.
var clientIdentities = map[string]clientIdentity{
	"admin":               {User: "kubernetes-admin", Groups: []string{"system:masters"}},
	KubeControllerManager: {User: "system:kube-controller-manager", Groups: []string{"system:masters"}},
	KubeScheduler:         {User: "system:kube-scheduler"},
	Kwok:                  {User: "kwok-controller", Groups: []string{"system:masters"}},
}

// nodeIdentities are the real node's clients: the kubelet as a node (the
// Node authorizer and NodeRestriction admission know it by these names),
// kube-proxy as the user the bootstrap role system:node-proxier binds, and
// CoreDNS as the user of its own ClusterRole (ensureCoreDNSRBAC).
var nodeIdentities = map[string]clientIdentity{
	Kubelet:   {User: "system:node:" + RealNodeName, Groups: []string{"system:nodes"}},
	KubeProxy: {User: "system:kube-proxy"},
	CoreDNS:   {User: "system:coredns"},
}

// pki is everything the apiserver and its clients need to trust each other.
type pki struct {
	CA        keyPair
	Serving   keyPair
	Clients   map[string]keyPair
	SAKeyPEM  []byte // PKCS#8 private key signing ServiceAccount tokens
	SAPubPEM  []byte
	serviceIP net.IP
	// KubeletClient is the API server's certificate for the real node's
	// kubelet; empty without a real node.
	KubeletClient keyPair
}

// newPKI creates a fresh CA, an apiserver serving certificate valid for the
// loopback address, the real node's bridge address and the in-cluster
// names, a client certificate per identity (the real node's too, with
// realNode), and a ServiceAccount signing key. ECDSA P-256 keeps generation
// in the milliseconds, which matters for tests that start clusters
// repeatedly.
func newPKI(serviceIP net.IP, realNode bool) (*pki, error) {
	ca, err := newCA()
	if err != nil {
		return nil, err
	}
	p := &pki{CA: ca, Clients: map[string]keyPair{}, serviceIP: serviceIP}

	p.Serving, err = ca.issue(x509.Certificate{
		Subject:     pkix.Name{CommonName: KubeAPIServer},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), serviceIP, net.ParseIP(nodeAddress)},
	})
	if err != nil {
		return nil, fmt.Errorf("issuing apiserver serving certificate: %w", err)
	}
	identities := maps.Clone(clientIdentities)
	if realNode {
		maps.Copy(identities, nodeIdentities)
		p.KubeletClient, err = ca.issue(x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err != nil {
			return nil, fmt.Errorf("issuing the kubelet client certificate: %w", err)
		}
	}
	for name, id := range identities {
		kp, err := ca.issue(x509.Certificate{
			Subject:     pkix.Name{CommonName: id.User, Organization: id.Groups},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err != nil {
			return nil, fmt.Errorf("issuing client certificate for %s: %w", name, err)
		}
		p.Clients[name] = kp
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating service account key: %w", err)
	}
	if p.SAKeyPEM, err = encodePrivateKey(saKey); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding service account public key: %w", err)
	}
	p.SAPubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	return p, nil
}

// write stores the files the apiserver and controller manager read by path.
// Client certificates are not written: they are embedded in kubeconfigs.
func (p *pki) write(l layout) error {
	files := map[string][]byte{
		"ca.crt":        p.CA.CertPEM,
		"ca.key":        p.CA.KeyPEM,
		"apiserver.crt": p.Serving.CertPEM,
		"apiserver.key": p.Serving.KeyPEM,
		"sa.key":        p.SAKeyPEM,
		"sa.pub":        p.SAPubPEM,
	}
	if p.KubeletClient.CertPEM != nil {
		files["kubelet-client.crt"], files["kubelet-client.key"] = p.KubeletClient.CertPEM, p.KubeletClient.KeyPEM
	}
	for name, data := range files {
		if err := os.WriteFile(l.pki(name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func newCA() (keyPair, error) {
	return sign(x509.Certificate{
		Subject:               pkix.Name{CommonName: "localcluster-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil)
}

// issue signs a leaf certificate shaped by tmpl with a fresh key.
func (ca keyPair) issue(tmpl x509.Certificate) (keyPair, error) {
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	kp, err := sign(tmpl, &ca)
	if err != nil {
		return keyPair{}, fmt.Errorf("signing certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	return kp, nil
}

// sign creates a certificate shaped by tmpl for a fresh key, signed by
// issuer, or by that key itself when issuer is nil (a CA).
func sign(tmpl x509.Certificate, issuer *keyPair) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generating key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return keyPair{}, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-time.Hour) // tolerate clock skew between components
	tmpl.NotAfter = now.Add(certValidity)
	parent, parentKey := &tmpl, crypto.Signer(key)
	if issuer != nil {
		parent, parentKey = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return keyPair{}, fmt.Errorf("signing certificate: %w", err)
	}
	return newKeyPair(der, key)
}

func newKeyPair(der []byte, key *ecdsa.PrivateKey) (keyPair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, fmt.Errorf("parsing generated certificate: %w", err)
	}
	keyPEM, err := encodePrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  keyPEM,
		cert:    cert,
		key:     key,
	}, nil
}

func encodePrivateKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating certificate serial: %w", err)
	}
	return serial, nil
}
