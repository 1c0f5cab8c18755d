package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/example-inc/memcached-operator/tools/internal/kubeversion"
	"github.com/example-inc/memcached-operator/tools/internal/render"
)

func newRenderCommand() *cobra.Command {
	var (
		images     []string
		forCluster bool
	)
	cmd := &cobra.Command{
		Use:   "render DIR",
		Short: "Print the objects of the kustomization in DIR, like `kustomize build DIR`",
		Long: `Print the objects of the kustomization in DIR, like ` + "`kustomize build DIR`" + `.

With --for-cluster, ask the cluster of KUBECONFIG (as kubectl finds it) its
Kubernetes version and leave out of the CRDs the validation-rule fields that
version does not know (fieldPath and reason before 1.28, ...): the API server
would drop them itself, but server-side apply refuses them.`,
		Example: `  tools render config/default --image controller=quay.io/example/memcached-operator:v0.1.0 | kubectl apply -f -
  tools render config/crd --for-cluster | kubectl apply --server-side -f -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var overrides []render.Image
			for _, s := range images {
				img, err := render.ParseImage(s)
				if err != nil {
					return err
				}
				overrides = append(overrides, img)
			}
			out, err := renderFor(cmd, args[0], forCluster, overrides)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringArrayVar(&images, "image", nil, "Replace an image: NAME=REPOSITORY[:TAG|@DIGEST] (repeatable)")
	cmd.Flags().BoolVar(&forCluster, "for-cluster", false, "Leave out of the CRDs what the Kubernetes version of the cluster of KUBECONFIG does not know")
	return cmd
}

// renderFor renders dir, for the cluster of KUBECONFIG with forCluster,
// saying on stderr what it left out.
func renderFor(cmd *cobra.Command, dir string, forCluster bool, images []render.Image) ([]byte, error) {
	if !forCluster {
		return render.Render(dir, images...)
	}
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--for-cluster: loading the kubeconfig: %w", err)
	}
	server, err := kubeversion.ServerVersion(config)
	if err != nil {
		return nil, fmt.Errorf("--for-cluster: %w", err)
	}
	out, removed, err := render.RenderFor(dir, server, images...)
	for _, r := range removed {
		fmt.Fprintf(cmd.ErrOrStderr(), "Kubernetes %s does not know %s: left out\n", server, r)
	}
	return out, err
}
