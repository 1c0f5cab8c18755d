package bundle

import (
	"context"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/example-inc/memcached-operator/tools/internal/bundleformat"
	"github.com/example-inc/memcached-operator/tools/internal/imageref"
	"github.com/example-inc/memcached-operator/tools/internal/images"
	"github.com/example-inc/memcached-operator/tools/internal/kubeversion"
	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// Defaults of `tools bundle generate`, equal to the Makefile's.
const (
	DefaultConfigDir  = "config"
	DefaultOutputDir  = bundleformat.DefaultDir
	DefaultDockerfile = bundleformat.DefaultDockerfile
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
	// K8sVersion is passed to the validators as k8s-version; empty means
	// the newest of KubeVersions.
	K8sVersion string
	// KubeVersions are the Kubernetes versions the tests passed on
	// (K8S_COMPAT_VERSIONS and the newest; items may hold several,
	// separated by commas or blanks): the lowest becomes the CSV's
	// minKubeVersion and its OpenShift release the bundle's
	// com.redhat.openshift.versions. Required.
	KubeVersions []string
	// Platforms the operator image is built for (PLATFORMS, OS/ARCH); the
	// CSV's operatorframework.io/arch.* and os.* labels must list them.
	Platforms []string
}

// DigestResolver turns an image reference into the same repository pinned by
// digest (repository@sha256:...): imageref.Resolver, or a fake in tests.
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
	o.K8sVersion = k8sVersion(o.K8sVersion, o.KubeVersions)
	if len(o.Platforms) == 0 {
		o.Platforms = strings.Split(images.DefaultPlatforms, ",")
	}
	if o.UseImageDigests && o.Resolver == nil {
		o.Resolver = imageref.Resolver{}
	}
	return o
}

// k8sVersion is the version the removed-API checks assume: the one given,
// else the newest version the tests passed on, else DefaultK8sVersion.
func k8sVersion(given string, kubeVersions []string) string {
	if given != "" {
		return given
	}
	if tested, err := kubeversion.ParseTested(kubeVersions); err == nil {
		return tested.Newest().String()
	}
	return DefaultK8sVersion
}

// check reports every bad option; each problem names the flag.
func (o Options) check() problem.List {
	var ps problem.List
	const check = "options"
	ps.Add(o.checkVersion()...)
	if errs := k8svalidation.IsDNS1123Label(o.Package); len(errs) > 0 {
		ps.Errorf(check, "--package", "", "%q is not a valid package name: %s", o.Package, strings.Join(errs, "; "))
	}
	seen := map[string]bool{}
	for _, ch := range o.Channels {
		switch {
		case ch == "":
			ps.Errorf(check, "--channels", "", "empty channel name in %q", strings.Join(o.Channels, ","))
		case strings.ContainsAny(ch, ", \t"):
			ps.Errorf(check, "--channels", "", "channel %q: names are separated by commas and contain no spaces", ch)
		case seen[ch]:
			ps.Errorf(check, "--channels", "", "channel %q is listed twice", ch)
		}
		seen[ch] = true
	}
	if o.DefaultChannel == "" {
		ps.Errorf(check, "--default-channel", "", "required when the bundle is in more than one channel (%s)", strings.Join(o.Channels, ","))
	} else if !seen[o.DefaultChannel] {
		ps.Errorf(check, "--default-channel", "", "%q is not one of the bundle's channels (%s)", o.DefaultChannel, strings.Join(o.Channels, ","))
	}
	if o.Image == "" {
		ps.Errorf(check, "--image", "", "required: the operator image (IMG), e.g. quay.io/example-inc/memcached-operator:v0.1.0")
	} else if _, err := imageref.Parse(o.Image); err != nil {
		ps.Errorf(check, "--image", "", "%q is not an image reference: %v", o.Image, err)
	}
	if o.CreatedAt != "" {
		if _, err := time.Parse(time.RFC3339, o.CreatedAt); err != nil {
			ps.Errorf(check, "--created-at", "", "%q is not an RFC 3339 time (2006-01-02T15:04:05Z): %v", o.CreatedAt, err)
		}
	}
	if len(o.KubeVersions) == 0 {
		ps.Errorf(check, "--kube-versions", "", "required: the Kubernetes versions the tests passed on (K8S_COMPAT_VERSIONS and the newest); the lowest becomes the CSV's minKubeVersion")
	}
	_, more := parseTested(o.KubeVersions)
	ps.Add(more...)
	if _, err := semver.ParseTolerant(o.K8sVersion); err != nil {
		ps.Errorf(check, "--k8s-version", "", "%q is not a Kubernetes version: %v", o.K8sVersion, err)
	}
	if _, err := images.ParsePlatforms(strings.Join(o.Platforms, ",")); err != nil {
		ps.Errorf(check, "--platforms", "", "%v", err)
	}
	return ps
}

// checkVersion checks --version before any work (bundleformat.CheckVersion).
func (o Options) checkVersion() problem.List {
	var ps problem.List
	if err := bundleformat.CheckVersion(o.Version, o.Package); err != nil {
		ps.Errorf("options", "--version", "", "%v", err)
	}
	return ps
}
