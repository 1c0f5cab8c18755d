package localcluster

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
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

// WriteTokenKubeconfig writes to path a kubeconfig for the cluster of admin
// (its server and CA) that authenticates with token, a ServiceAccount's
// token from the TokenRequest API, in namespace by default: how the tools run
// the operator as the identity a Deployment would give it.
func WriteTokenKubeconfig(path string, admin *rest.Config, token, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData}
	cfg.AuthInfos["serviceaccount"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["serviceaccount"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "serviceaccount", Namespace: namespace}
	cfg.CurrentContext = "serviceaccount"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}
