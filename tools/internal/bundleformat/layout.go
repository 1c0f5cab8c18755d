package bundleformat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	registrybundle "github.com/operator-framework/operator-registry/pkg/lib/bundle"
	"sigs.k8s.io/yaml"
)

// Defaults of the bundle directory and its Dockerfile, the Makefile's.
const (
	DefaultDir        = "bundle"
	DefaultDockerfile = registrybundle.DockerFile
)

// The bundle's directories and files, relative to the bundle directory.
const (
	ManifestsDir    = "manifests"
	MetadataDir     = "metadata"
	TestsDir        = "tests/scorecard"
	AnnotationsFile = MetadataDir + "/" + registrybundle.AnnotationsFile
	PropertiesFile  = MetadataDir + "/properties.yaml"
	ScorecardFile   = TestsDir + "/config.yaml"
)

// The labels (and annotations) of a bundle: operator-registry's, and the
// metrics and test ones operator-sdk writes, which operator-registry does
// not declare.
const (
	LabelMediatype      = registrybundle.MediatypeLabel
	LabelManifests      = registrybundle.ManifestsLabel
	LabelMetadata       = registrybundle.MetadataLabel
	LabelPackage        = registrybundle.PackageLabel
	LabelChannels       = registrybundle.ChannelsLabel
	LabelDefaultChannel = registrybundle.ChannelDefaultLabel
	LabelMetricsBuilder = "operators.operatorframework.io.metrics.builder"
	LabelMetricsMedia   = "operators.operatorframework.io.metrics.mediatype.v1"
	LabelMetricsLayout  = "operators.operatorframework.io.metrics.project_layout"
	LabelTestMediatype  = "operators.operatorframework.io.test.mediatype.v1"
	LabelTestConfig     = "operators.operatorframework.io.test.config.v1"
	// LabelOpenShiftVersions lists the OpenShift releases Red Hat's catalogs
	// offer the bundle on: "v4.12" is 4.12 and later.
	LabelOpenShiftVersions = "com.redhat.openshift.versions"
)

// Dir is one directory of the bundle and the label that says where the
// image holds it.
type Dir struct {
	Path  string // relative to the bundle directory: manifests
	Label string
}

// Dst is where the image holds the directory: /manifests/.
func (d Dir) Dst() string { return "/" + d.Path + "/" }

// Layout is what a bundle image holds, in the order bundle.Dockerfile
// copies it.
var Layout = []Dir{
	{ManifestsDir, LabelManifests},
	{MetadataDir, LabelMetadata},
	{TestsDir, LabelTestConfig},
}

// ReadAnnotations reads a bundle's metadata/annotations.yaml: the
// annotations, which are also the bundle image's labels.
func ReadAnnotations(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc registrybundle.AnnotationMetadata
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a bundle annotations file: %w", file, err)
	}
	if len(doc.Annotations) == 0 {
		return nil, fmt.Errorf("%s: no annotations", file)
	}
	return doc.Annotations, nil
}

// DockerfileContext is the bundle directory as a Dockerfile's COPY lines
// name it: relative to the Dockerfile's directory (the build context),
// slash-separated.
func DockerfileContext(dockerfile, bundleDir string) (string, error) {
	from, err := filepath.Abs(filepath.Dir(dockerfile))
	if err != nil {
		return "", err
	}
	to, err := filepath.Abs(bundleDir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(from, to)
	if err != nil {
		return "", err
	}
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("the bundle directory %s is outside the Dockerfile's directory %s, its build context", bundleDir, filepath.Dir(dockerfile))
	}
	return filepath.ToSlash(rel), nil
}
