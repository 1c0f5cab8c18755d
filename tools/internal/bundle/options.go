package bundle

import (
	"context"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	"go.podman.io/image/v5/docker/reference"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of `tools bundle generate`, equal to the Makefile's.
const (
	DefaultConfigDir  = "config"
	DefaultOutputDir  = "bundle"
	DefaultDockerfile = "bundle.Dockerfile"
	DefaultPackage    = "memcached-operator"
	// DefaultChannel follows OLM's channel naming convention (candidate,
	// fast, stable): the good-practices validator warns on any other name,
	// and this project ships bundles without warnings.
	DefaultChannel = "candidate"
	// DefaultK8sVersion is the Kubernetes version the removed-API checks
	// assume the bundle is installed on: the one the project tests against.
	DefaultK8sVersion = "1.37.2"

	// Builder is the operators.operatorframework.io/builder annotation of
	// the CSV and the metrics.builder one of the bundle metadata.
	Builder = "memcached-operator-tools"

	// managerImageName is the image name config/manager uses as a
	// placeholder for the operator image, as kubebuilder scaffolds it.
	managerImageName = "controller"
)

// Options are the inputs of Generate besides the files under ConfigDir.
type Options struct {
	// ConfigDir holds the kustomize inputs; ConfigDir/manifests is rendered.
	ConfigDir string
	// OutputDir is the bundle directory that Generate replaces.
	OutputDir string
	// Dockerfile is the bundle image's Dockerfile that Generate replaces.
	Dockerfile string
	// Package is the OLM package name; the CSV is named Package.vVersion.
	Package string
	// Version is the operator's semantic version, without a leading v.
	Version string
	// Channels the bundle belongs to, and the package's default channel.
	Channels       []string
	DefaultChannel string
	// Image is the operator image (IMG), replacing the "controller" image
	// of config/manager.
	Image string
	// UseImageDigests pins every image by digest, resolving tags with
	// Resolver (the registries, by default).
	UseImageDigests bool
	Resolver        DigestResolver
	// CreatedAt overrides the createdAt annotation of the CSV base (RFC 3339).
	CreatedAt string
	// K8sVersion is passed to the validators as k8s-version.
	K8sVersion string
}

// DigestResolver turns an image reference into the same repository pinned by
// digest (repository@sha256:...).
type DigestResolver interface {
	Resolve(ctx context.Context, image string) (string, error)
}

func (o Options) withDefaults() Options {
	if o.ConfigDir == "" {
		o.ConfigDir = DefaultConfigDir
	}
	if o.OutputDir == "" {
		o.OutputDir = DefaultOutputDir
	}
	if o.Dockerfile == "" {
		o.Dockerfile = DefaultDockerfile
	}
	if o.Package == "" {
		o.Package = DefaultPackage
	}
	if len(o.Channels) == 0 {
		o.Channels = []string{DefaultChannel}
	}
	if o.DefaultChannel == "" && len(o.Channels) == 1 {
		o.DefaultChannel = o.Channels[0]
	}
	if o.K8sVersion == "" {
		o.K8sVersion = DefaultK8sVersion
	}
	return o
}

// check reports every bad option; each problem names the flag.
func (o Options) check() Problems {
	var ps Problems
	const check = "options"
	if o.Version == "" {
		ps.errorf(check, "--version", "", "required: the operator's semantic version (VERSION), e.g. 0.1.0")
	} else if strings.HasPrefix(o.Version, "v") {
		ps.errorf(check, "--version", "", "%q: give the version without the leading v (the CSV is named %s.v<version>)", o.Version, o.Package)
	} else if _, err := semver.Parse(o.Version); err != nil {
		ps.errorf(check, "--version", "", "%q is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]): %v", o.Version, err)
	}
	if errs := k8svalidation.IsDNS1123Label(o.Package); len(errs) > 0 {
		ps.errorf(check, "--package", "", "%q is not a valid package name: %s", o.Package, strings.Join(errs, "; "))
	}
	seen := map[string]bool{}
	for _, ch := range o.Channels {
		switch {
		case ch == "":
			ps.errorf(check, "--channels", "", "empty channel name in %q", strings.Join(o.Channels, ","))
		case strings.ContainsAny(ch, ", \t"):
			ps.errorf(check, "--channels", "", "channel %q: names are separated by commas and contain no spaces", ch)
		case seen[ch]:
			ps.errorf(check, "--channels", "", "channel %q is listed twice", ch)
		}
		seen[ch] = true
	}
	if o.DefaultChannel == "" {
		ps.errorf(check, "--default-channel", "", "required when the bundle is in more than one channel (%s)", strings.Join(o.Channels, ","))
	} else if !seen[o.DefaultChannel] {
		ps.errorf(check, "--default-channel", "", "%q is not one of the bundle's channels (%s)", o.DefaultChannel, strings.Join(o.Channels, ","))
	}
	if o.Image == "" {
		ps.errorf(check, "--image", "", "required: the operator image (IMG), e.g. quay.io/example-inc/memcached-operator:v0.1.0")
	} else if _, err := reference.ParseNormalizedNamed(o.Image); err != nil {
		ps.errorf(check, "--image", "", "%q is not an image reference: %v", o.Image, err)
	}
	if o.CreatedAt != "" {
		if _, err := time.Parse(time.RFC3339, o.CreatedAt); err != nil {
			ps.errorf(check, "--created-at", "", "%q is not an RFC 3339 time (2006-01-02T15:04:05Z): %v", o.CreatedAt, err)
		}
	}
	if _, err := semver.ParseTolerant(o.K8sVersion); err != nil {
		ps.errorf(check, "--k8s-version", "", "%q is not a Kubernetes version: %v", o.K8sVersion, err)
	}
	return ps
}
