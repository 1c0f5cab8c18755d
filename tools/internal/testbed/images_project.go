package testbed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	apimanifests "github.com/operator-framework/api/pkg/manifests"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images"
)

// projectRecipe is in the stamp of every project image: change it when
// images.OperatorImage, BundleImage or CatalogImage change what they build,
// so that the cached layouts are built again.
const projectRecipe = "project-images/1"

// projectImages declares the operator and bundle images of every release
// (releases/index.yaml) and of the version under development (bundle/ and
// the working tree), the catalog image of catalog/ and that of each older
// release.
func projectImages(ctx context.Context, opts NodeImagesOptions) ([]nodeImage, error) {
	goVersion, err := goEnvVersion(ctx)
	if err != nil {
		return nil, err
	}
	releasesDir := filepath.Join(opts.RepoRoot, catalog.DefaultReleasesDir)
	releases, err := catalog.LoadReleases(releasesDir)
	if err != nil {
		return nil, err
	}
	devVersion, _, err := bundleVersionAndOperator(filepath.Join(opts.RepoRoot, bundleformat.DefaultDir))
	if err != nil {
		return nil, err
	}
	var out []nodeImage
	released := map[string]bool{}
	for _, r := range releases {
		dir := filepath.Join(releasesDir, r.Version)
		_, operatorRef, err := bundleVersionAndOperator(dir)
		if err != nil {
			return nil, err
		}
		released[r.Version] = true
		out = append(out,
			releasedOperatorImage(opts.RepoRoot, r.Version, operatorRef, goVersion),
			bundleImage(r.Image, dir, ""))
		if r.Version == devVersion {
			continue // its catalog image is catalog/'s, declared below
		}
		base, err := imageref.Repository(operatorRef)
		if err != nil {
			return nil, err
		}
		out = append(out, releasedCatalogImage(base+"-catalog:v"+r.Version, r.Version, opts))
	}
	dev, err := developmentImages(opts, goVersion, released)
	if err != nil {
		return nil, err
	}
	return append(out, dev...), nil
}

// developmentImages declares the images of the version under development:
// the version of bundle/'s CSV (the Makefile's VERSION: `make verify` keeps
// them equal), its operator image from the working tree, its bundle image,
// and the catalog image. The bundle and catalog images are named after the
// operator image's repository, as the Makefile names them from
// IMAGE_TAG_BASE. A version already released is not built twice.
func developmentImages(opts NodeImagesOptions, goVersion string, released map[string]bool) ([]nodeImage, error) {
	bundleDir := filepath.Join(opts.RepoRoot, bundleformat.DefaultDir)
	version, operatorRef, err := bundleVersionAndOperator(bundleDir)
	if err != nil {
		return nil, err
	}
	base, err := imageref.Repository(operatorRef)
	if err != nil {
		return nil, err
	}
	var out []nodeImage
	if !released[version] {
		out = append(out,
			workingTreeOperatorImage(filepath.Join(opts.RepoRoot, images.DefaultOperatorModuleDir), version, operatorRef, goVersion),
			bundleImage(base+"-bundle:v"+version, bundleDir, filepath.Join(opts.RepoRoot, bundleformat.DefaultDockerfile)))
	}
	catalogDir := filepath.Join(opts.RepoRoot, images.DefaultCatalogDir)
	toolsGoMod := filepath.Join(opts.RepoRoot, "tools", "go.mod")
	return append(out, catalogImage(base+"-catalog:v"+version, catalogDir, opts.BinDir, toolsGoMod)), nil
}

// bundleVersionAndOperator reads the bundle's CSV: its version and the one
// image its deployments run, the operator image.
func bundleVersionAndOperator(bundleDir string) (version, operatorRef string, err error) {
	b, err := apimanifests.GetBundleFromDir(filepath.Join(bundleDir, bundleformat.ManifestsDir))
	if err != nil {
		return "", "", fmt.Errorf("bundle %s: %w", bundleDir, err)
	}
	if b.CSV == nil {
		return "", "", fmt.Errorf("bundle %s: no ClusterServiceVersion", bundleDir)
	}
	var refs []string
	for _, d := range b.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			if !slices.Contains(refs, c.Image) {
				refs = append(refs, c.Image)
			}
		}
	}
	if len(refs) != 1 {
		return "", "", fmt.Errorf("bundle %s: the CSV's deployments run %d images %v, want the operator image alone", bundleDir, len(refs), refs)
	}
	return b.CSV.Spec.Version.String(), refs[0], nil
}

// operatorImage builds the operator image as `make image-push` does
// (images.OperatorImage), for NodePlatform alone, from the module in dir.
func operatorImage(ctx context.Context, dir, version string) (remote.Taggable, error) {
	return images.OperatorImage(ctx, images.OperatorOptions{
		Platforms: []v1.Platform{NodePlatform},
		Version:   version,
		ModuleDir: dir,
		Package:   images.DefaultOperatorPackage,
	})
}

// releasedOperatorImage is the operator image of a release, built from the
// commit that recorded releases/<version> (as BuildReleasedOperator builds
// its manager); its stamp is that commit's tree of operator/.
func releasedOperatorImage(repoRoot, version, ref, goVersion string) nodeImage {
	return nodeImage{
		refs: []string{ref},
		stamp: func(ctx context.Context) (string, error) {
			rev, err := releaseCommit(ctx, repoRoot, version)
			if err != nil {
				return "", err
			}
			tree, err := gitOutput(ctx, repoRoot, "rev-parse", rev+":"+images.DefaultOperatorModuleDir)
			if err != nil {
				return "", err
			}
			return stampOf(projectRecipe, "operator", version, "git-tree="+tree, goVersion, images.PlatformString(NodePlatform)), nil
		},
		build: func(ctx context.Context) (remote.Taggable, error) {
			src, err := os.MkdirTemp("", "operator-"+version+"-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(src)
			if _, err := extractReleasedOperator(ctx, repoRoot, version, src); err != nil {
				return nil, err
			}
			return operatorImage(ctx, filepath.Join(src, images.DefaultOperatorModuleDir), version)
		},
	}
}

// workingTreeOperatorImage is the operator image of the module in dir as it
// is now; its stamp is the digest of the module's files.
func workingTreeOperatorImage(dir, version, ref, goVersion string) nodeImage {
	return nodeImage{
		refs: []string{ref},
		stamp: func(context.Context) (string, error) {
			return dirStamp(dir, nil, projectRecipe, "operator", version, goVersion, images.PlatformString(NodePlatform))
		},
		build: func(ctx context.Context) (remote.Taggable, error) { return operatorImage(ctx, dir, version) },
	}
}

// bundleImage is the bundle image of dir as `make bundle-image-push` builds
// it (images.BundleImage; dockerfile, when set, is checked to describe it).
func bundleImage(ref, dir, dockerfile string) nodeImage {
	return nodeImage{
		refs: []string{ref},
		stamp: func(context.Context) (string, error) {
			parts := []string{projectRecipe, "bundle"}
			if dockerfile != "" {
				d, err := fileDigest(dockerfile)
				if err != nil {
					return "", err
				}
				parts = append(parts, "dockerfile="+d)
			}
			return dirStamp(dir, nil, parts...)
		},
		build: func(context.Context) (remote.Taggable, error) {
			return images.BundleImage(images.BundleOptions{Dir: dir, Dockerfile: dockerfile})
		},
	}
}

// catalogImage is the catalog image of dir as `make catalog-image-push`
// builds it (images.CatalogImage), for NodePlatform alone, with the opm and
// grpc_health_probe of binDir. The serve cache it holds is built by the
// operator-registry library the tools module requires, so the module's
// go.mod is stamped too.
func catalogImage(ref, dir, binDir, toolsGoMod string) nodeImage {
	opm, probe := filepath.Join(binDir, "opm"), filepath.Join(binDir, "grpc_health_probe")
	return nodeImage{
		refs: []string{ref},
		stamp: func(context.Context) (string, error) {
			goMod, err := fileDigest(toolsGoMod)
			if err != nil {
				return "", err
			}
			parts := []string{projectRecipe, "catalog", "tools-go.mod=" + goMod}
			for _, f := range []string{opm, probe} {
				d, err := fileDigest(f)
				if err != nil {
					return "", fmt.Errorf("%w (make testbed-image-binaries builds it)", err)
				}
				parts = append(parts, filepath.Base(f)+"="+d)
			}
			// As images.CatalogImage copies it: without dot-named directories.
			return dirStamp(dir, func(rel string, dir bool) bool { return dir && strings.HasPrefix(path.Base(rel), ".") }, parts...)
		},
		build: func(ctx context.Context) (remote.Taggable, error) {
			return images.CatalogImage(ctx, images.CatalogOptions{
				Dir:       dir,
				Platforms: []v1.Platform{NodePlatform},
				Binaries:  binariesFromFiles(opm, probe),
			})
		},
	}
}

// releasedCatalogImage is the catalog image as the release of version
// published it: the template's releases up to version rendered with their
// bundle images (catalog.RenderOptions.MaxVersion), built like
// catalogImage. A flow starts a CatalogSource on it and publishes a newer
// release by pointing spec.image at a newer catalog image, as an admin
// moves a CatalogSource to a newer index image.
func releasedCatalogImage(ref, version string, opts NodeImagesOptions) nodeImage {
	template := filepath.Join(opts.RepoRoot, catalog.DefaultTemplate)
	releasesDir := filepath.Join(opts.RepoRoot, catalog.DefaultReleasesDir)
	rendered := filepath.Join(opts.BinDir, "catalogs", "v"+version)
	img := catalogImage(ref, rendered, opts.BinDir, filepath.Join(opts.RepoRoot, "tools", "go.mod"))
	return nodeImage{
		refs: img.refs,
		stamp: func(ctx context.Context) (string, error) {
			t, err := fileDigest(template)
			if err != nil {
				return "", err
			}
			d, err := fileDigest(filepath.Join(filepath.Dir(template), catalog.DeprecationsFile))
			if errors.Is(err, fs.ErrNotExist) {
				d = "none"
			} else if err != nil {
				return "", err
			}
			// The catalog's inputs: the template, the released bundles and
			// the tools that render and build it; not yet rendered output.
			base := catalogImage(ref, releasesDir, opts.BinDir, filepath.Join(opts.RepoRoot, "tools", "go.mod"))
			s, err := base.stamp(ctx)
			if err != nil {
				return "", err
			}
			return stampOf("released-catalog", "version="+version, "template="+t, "deprecations="+d, s), nil
		},
		build: func(ctx context.Context) (remote.Taggable, error) {
			if err := os.RemoveAll(rendered); err != nil {
				return nil, err
			}
			if _, err := catalog.Render(ctx, catalog.RenderOptions{
				Template: template, ReleasesDir: releasesDir, OutputDir: rendered, MaxVersion: version,
			}); err != nil {
				return nil, fmt.Errorf("rendering the catalog up to %s: %w", version, err)
			}
			return img.build(ctx)
		},
	}
}

// binariesFromFiles gives the catalog image the programs at opm and probe,
// for NodePlatform only.
func binariesFromFiles(opm, probe string) images.BinariesFunc {
	return func(p v1.Platform) (*images.CatalogBinaries, error) {
		if images.PlatformString(p) != images.PlatformString(NodePlatform) {
			return nil, fmt.Errorf("no opm for %s: the testbed's programs are built for %s", images.PlatformString(p), images.PlatformString(NodePlatform))
		}
		var b images.CatalogBinaries
		var err error
		if b.Opm, err = os.ReadFile(opm); err != nil {
			return nil, err
		}
		if b.HealthProbe, err = os.ReadFile(probe); err != nil {
			return nil, err
		}
		return &b, nil
	}
}

// goEnvVersion is the version of the go command that builds the managers.
func goEnvVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return "go=" + strings.TrimSpace(string(out)), nil
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}
