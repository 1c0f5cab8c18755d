package localcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
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

// pki is everything the apiserver and its clients need to trust each other.
type pki struct {
	CA        keyPair
	Serving   keyPair
	Clients   map[string]keyPair
	SAKeyPEM  []byte // PKCS#8 private key signing ServiceAccount tokens
	SAPubPEM  []byte
	serviceIP net.IP
}

// newPKI creates a fresh CA, an apiserver serving certificate valid for the
// loopback address and the in-cluster names, a client certificate per
// identity, and a ServiceAccount signing key. ECDSA P-256 keeps generation in
// the milliseconds, which matters for tests that start clusters repeatedly.
func newPKI(serviceIP net.IP) (*pki, error) {
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
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), serviceIP},
	})
	if err != nil {
		return nil, fmt.Errorf("issuing apiserver serving certificate: %w", err)
	}

	for name, id := range clientIdentities {
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
	for name, data := range files {
		if err := os.WriteFile(l.pki(name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func newCA() (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return keyPair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localcluster-ca"},
		NotBefore:             now.Add(-time.Hour), // tolerate clock skew between components
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return keyPair{}, fmt.Errorf("self-signing CA: %w", err)
	}
	return newKeyPair(der, key)
}

// issue signs a leaf certificate shaped by tmpl with a fresh key.
func (ca keyPair) issue(tmpl x509.Certificate) (keyPair, error) {
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
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(certValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return keyPair{}, fmt.Errorf("signing certificate for %q: %w", tmpl.Subject.CommonName, err)
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
