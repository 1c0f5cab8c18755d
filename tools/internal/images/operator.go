package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Defaults of the operator image, equal to the Makefile's and Dockerfile's.
const (
	DefaultOperatorModuleDir = "operator"
	DefaultOperatorPackage   = "./cmd"
	DefaultSource            = "https://github.com/example-inc/memcached-operator"
	// ManagerPath is where the manager binary is in the operator image.
	ManagerPath = "/manager"
	// NonRootUser is distroless' nonroot user, the Dockerfile's USER.
	NonRootUser = "65532:65532"
)

// DefaultPlatforms is the Makefile's PLATFORMS.
const DefaultPlatforms = "linux/arm64,linux/amd64,linux/s390x,linux/ppc64le"

// OCI annotation keys used as labels.
const (
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	LabelSource      = "org.opencontainers.image.source"
	LabelVersion     = "org.opencontainers.image.version"
)

// BuildFunc writes the manager binary for a platform to out.
type BuildFunc func(ctx context.Context, p v1.Platform, out string) error

// GoBuild builds pkg of the Go module in moduleDir as the Dockerfile does:
// static (CGO_ENABLED=0), -trimpath, without VCS stamps (a commit that does
// not change the code does not change the binary), stripped, for the
// platform, outside the workspace (GOWORK=off: the module builds alone).
func GoBuild(moduleDir, pkg string) BuildFunc {
	return func(ctx context.Context, p v1.Platform, out string) error {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
		cmd.Env = append(cmd.Env, goEnv(p)...)
		if output, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s for %s in %s: %w\n%s", pkg, PlatformString(p), moduleDir, err, strings.TrimSpace(string(output)))
		}
		return nil
	}
}

// OperatorOptions describe the operator image.
type OperatorOptions struct {
	// Platforms the index holds an image for, in order (PLATFORMS).
	Platforms []v1.Platform
	// Version is the org.opencontainers.image.version label (VERSION).
	Version string
	// Source is the org.opencontainers.image.source label (DefaultSource).
	Source string
	// Labels are added to (and override) the default labels.
	Labels map[string]string
	// Build makes the manager binary; nil means GoBuild(ModuleDir, Package).
	Build BuildFunc
	// ModuleDir and Package of the manager (DefaultOperatorModuleDir, DefaultOperatorPackage).
	ModuleDir, Package string
	// Log, when set, is told what is being built.
	Log func(format string, args ...any)
}

// OperatorImage builds the operator image: for each platform the manager,
// built statically, alone in one layer at /manager of a FROM-scratch image
// running as 65532:65532 (distroless' nonroot), in one OCI index, as ko
// builds it. The same sources and toolchain give the same digest.
func OperatorImage(ctx context.Context, opts OperatorOptions) (v1.ImageIndex, error) {
	if len(opts.Platforms) == 0 {
		return nil, fmt.Errorf("operator image: no platform")
	}
	if opts.ModuleDir == "" {
		opts.ModuleDir = DefaultOperatorModuleDir
	}
	if opts.Package == "" {
		opts.Package = DefaultOperatorPackage
	}
	build := opts.Build
	if build == nil {
		build = GoBuild(opts.ModuleDir, opts.Package)
	}
	if opts.Source == "" {
		opts.Source = DefaultSource
	}
	labels := map[string]string{
		LabelTitle:       "memcached-operator",
		LabelDescription: "The memcached-operator manager: runs memcached on Kubernetes, installed with OLM",
		LabelSource:      opts.Source,
	}
	if opts.Version != "" {
		labels[LabelVersion] = opts.Version
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}

	tmp, err := os.MkdirTemp("", "operator-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var imgs []PlatformImage
	for _, p := range opts.Platforms {
		if opts.Log != nil {
			opts.Log("building the manager for %s", PlatformString(p))
		}
		out := filepath.Join(tmp, platformDir(p), "manager")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, err
		}
		if err := build(ctx, p, out); err != nil {
			return nil, fmt.Errorf("operator image: %w", err)
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			return nil, fmt.Errorf("operator image: the build for %s wrote no binary: %w", PlatformString(p), err)
		}
		t := NewTree()
		if err := t.AddFile(ManagerPath, bin, 0o755, Root); err != nil {
			return nil, err
		}
		img, err := NewImage(p, v1.Config{
			User:       NonRootUser,
			Entrypoint: []string{ManagerPath},
			WorkingDir: "/",
			Env:        []string{DefaultPath},
			Labels:     copyLabels(labels),
		}, LayerSpec{Tree: t, CreatedBy: fmt.Sprintf("COPY manager %s # go build -trimpath %s (CGO_ENABLED=0 %s)", ManagerPath, opts.Package, strings.Join(goEnv(p), " "))})
		if err != nil {
			return nil, fmt.Errorf("operator image for %s: %w", PlatformString(p), err)
		}
		imgs = append(imgs, PlatformImage{Platform: p, Image: img})
	}
	return newIndex(imgs)
}
