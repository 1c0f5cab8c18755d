package testbed

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// contextName names the cluster, user and context in every kubeconfig, so a
// merged KUBECONFIG shows where the entry came from.
const contextName = "localcluster"

// renderKubeconfig returns a self-contained kubeconfig: certificates are
// embedded, so the file keeps working when copied out of the state directory
// and no component depends on the pki directory's layout.
func renderKubeconfig(server string, caPEM []byte, client keyPair) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: client.CertPEM,
		ClientKeyData:         client.KeyPEM,
	}
	cfg.Contexts[contextName] = &clientcmdapi.Context{
		Cluster:  contextName,
		AuthInfo: contextName,
	}
	cfg.CurrentContext = contextName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering kubeconfig: %w", err)
	}
	return data, nil
}

// restConfigFromKubeconfig loads a kubeconfig rendered by renderKubeconfig.
func restConfigFromKubeconfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// Identity is who a process runs as: a ServiceAccount, and a kubeconfig that
// authenticates as it with a token from the TokenRequest API. The tools run
// the operator under the identity a Deployment would give it, so that its
// RBAC is what is tested, and each operator process has a user name of its
// own in the audit log.
type Identity struct {
	Namespace      string
	ServiceAccount string
	// Username as the API server and its audit log know it.
	Username string
	// Kubeconfig authenticates as the ServiceAccount, with Namespace as its
	// default namespace.
	Kubeconfig string
}

// tokenTTL outlives any run; the cluster is thrown away after it.
const tokenTTL = 24 * time.Hour

// Identity requests a token of the existing ServiceAccount namespace/name
// and writes a kubeconfig for this cluster that authenticates with it.
func (c *Cluster) Identity(ctx context.Context, namespace, name string) (*Identity, error) {
	tr, err := c.kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(tokenTTL.Seconds()))},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for serviceaccount %s/%s: %w", namespace, name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{Server: c.restConfig.Host, CertificateAuthorityData: c.restConfig.CAData}
	cfg.AuthInfos["serviceaccount"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["serviceaccount"] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: "serviceaccount", Namespace: namespace}
	cfg.CurrentContext = "serviceaccount"
	id := &Identity{
		Namespace:      namespace,
		ServiceAccount: name,
		Username:       serviceaccount.MakeUsername(namespace, name),
		Kubeconfig:     c.layout.serviceAccountKubeconfig(namespace, name),
	}
	if err := clientcmd.WriteToFile(*cfg, id.Kubeconfig); err != nil {
		return nil, fmt.Errorf("writing the kubeconfig of serviceaccount %s/%s: %w", namespace, name, err)
	}
	return id, nil
}
