package cli

import (
	"github.com/spf13/cobra"

	"github.com/example-inc/memcached-operator/tools/internal/render"
)

func newRenderCommand() *cobra.Command {
	var images []string
	cmd := &cobra.Command{
		Use:   "render DIR",
		Short: "Print the objects of the kustomization in DIR, like `kustomize build DIR`",
		Example: `  tools render config/default --image controller=quay.io/example/memcached-operator:v0.1.0 | kubectl apply -f -
  tools render config/crd | kubectl apply -f -`,
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
			out, err := render.Render(args[0], overrides...)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringArrayVar(&images, "image", nil, "Replace an image: NAME=REPOSITORY[:TAG|@DIGEST] (repeatable)")
	return cmd
}
