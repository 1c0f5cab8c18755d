package envtest_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
)

// assetsEnv is the variable envtest reads the directory of its binaries from.
const assetsEnv = "KUBEBUILDER_ASSETS"

var (
	// scheme knows the built-in kinds and Memcached, like cmd/main.go's.
	scheme = k8sruntime.NewScheme()
	// restConfig reaches the test API server as an administrator.
	restConfig *rest.Config
	// k8sClient is the tests' own client: it reads from the API server
	// directly, never from a cache.
	k8sClient client.Client
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cachev1.AddToScheme(scheme))
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run starts the API server, runs the tests and stops the API server whatever
// the tests did, returning the exit code.
func run(m *testing.M) int {
	var logOut io.Writer = io.Discard
	if os.Getenv("MEMCACHED_ENVTEST_LOG") != "" {
		logOut = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logOut), zap.UseDevMode(true)))

	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	assets := os.Getenv(assetsEnv)
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s")
		// envtest and the tests below read the same variable.
		_ = os.Setenv(assetsEnv, assets)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if path, from := assetPath(assets, bin); !exists(path) {
			fmt.Fprintf(os.Stderr, "envtest: %s not found at %s (from %s): run `make k8s-binaries` first\n", bin, path, from)
			return 1
		}
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		// Never run against whatever cluster the environment points at.
		UseExistingCluster:       ptr.To(false),
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		Scheme:                   scheme,
	}
	restConfig, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envtest: starting the API server from %s: %v\n", assets, err)
		// Start may have left etcd running when the API server failed.
		_ = env.Stop()
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "envtest: stopping the API server:", err)
		}
	}()
	// Tests write a lot in parallel: do not let client-side throttling make
	// them slow.
	restConfig.QPS, restConfig.Burst = 500, 1000

	k8sClient, err = client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest: creating the client:", err)
		return 1
	}
	if serverMinor, err = readServerMinor(restConfig); err != nil {
		fmt.Fprintln(os.Stderr, "envtest: reading the API server's version:", err)
		return 1
	}
	return m.Run()
}

// assetPath is where envtest finds bin: $TEST_ASSET_<BIN> when set (so that
// an older kube-apiserver can run with this repository's etcd), else in
// assets; from says which.
func assetPath(assets, bin string) (path, from string) {
	env := "TEST_ASSET_" + strings.ToUpper(strings.ReplaceAll(bin, "-", "_"))
	if p, ok := os.LookupEnv(env); ok {
		return p, env
	}
	return filepath.Join(assets, bin), assetsEnv
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// serverMinor is the minor version of the API server the tests run against
// (25 for 1.25): the few assertions that depend on a newer server's
// behaviour ask it (see docs/compatibility.md).
var serverMinor int

func readServerMinor(config *rest.Config) (int, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return 0, err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return 0, err
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return 0, fmt.Errorf("parsing %q: %w", info.GitVersion, err)
	}
	fmt.Fprintf(os.Stderr, "envtest: kube-apiserver %s\n", info.GitVersion)
	return int(v.Minor()), nil
}

// repoRoot is the repository's top directory, found from this file's place
// in it (operator/test/envtest), or from the working directory, which go test
// sets to this package's directory, when the build trimmed paths.
func repoRoot() (string, error) {
	candidates := []string{}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", ".."))
	}
	if wd, err := os.Getwd(); err == nil {
		candidates = append(candidates, filepath.Join(wd, "..", "..", ".."))
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "go.work")); err == nil {
			return filepath.Clean(c), nil
		}
	}
	return "", fmt.Errorf("cannot find the repository root (the directory with go.work) from %v", candidates)
}

// waitTimeout bounds every wait; generous so that a loaded CI machine does
// not fail a test that would pass, and the tests never wait this long when
// the operator works.
const (
	waitTimeout  = 30 * time.Second
	pollInterval = 25 * time.Millisecond
)

// cleanupContext is for t.Cleanup functions: t.Context() is already
// cancelled when they run.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
