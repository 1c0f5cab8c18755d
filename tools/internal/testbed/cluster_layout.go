package testbed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/example-inc/memcached-operator/tools/internal/atomicdir"
)

// Component names double as binary names, process names (of pid files and
// log files) and stop targets of Cluster.RestartComponent.
const (
	Etcd                  = "etcd"
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	Kwok                  = "kwok"
)

// kwokStagesFile is kwok's stage configuration, built next to the binaries:
// without stages kwok leaves Nodes NotReady and Pods Pending.
const kwokStagesFile = "kwok-stages.yaml"

// requiredFiles is what BinDir must hold before anything starts.
var requiredFiles = []string{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler, Kwok, kwokStagesFile}

// layout names every path under the state directory, so the starting and the
// stopping process (which may be different CLI invocations) agree on them.
type layout struct {
	dir string
}

func (l layout) kubeconfig() string           { return filepath.Join(l.dir, "kubeconfig") }
func (l layout) clusterFile() string          { return filepath.Join(l.dir, "cluster.json") }
func (l layout) etcdData() string             { return filepath.Join(l.dir, "etcd-data") }
func (l layout) pkiDir() string               { return filepath.Join(l.dir, "pki") }
func (l layout) pki(name string) string       { return filepath.Join(l.dir, "pki", name) }
func (l layout) componentKubeconfigs() string { return filepath.Join(l.dir, "kubeconfigs") }
func (l layout) runDir() string               { return filepath.Join(l.dir, "run") }
func (l layout) logDir() string               { return filepath.Join(l.dir, "logs") }
func (l layout) auditPolicy() string          { return filepath.Join(l.dir, "audit-policy.yaml") }
func (l layout) auditLog() string             { return filepath.Join(l.dir, "logs", "audit.log") }
func (l layout) kwokWorkDir() string          { return filepath.Join(l.dir, "kwok") }

func (l layout) componentKubeconfig(component string) string {
	return filepath.Join(l.componentKubeconfigs(), component+".kubeconfig")
}
func (l layout) serviceAccountKubeconfig(namespace, name string) string {
	return filepath.Join(l.componentKubeconfigs(), "serviceaccount-"+namespace+"-"+name+".kubeconfig")
}

// pidFile and logFile are where a supervised process of the cluster, a
// component or any other, is recorded and logs.
func (l layout) pidFile(name string) string {
	return filepath.Join(l.runDir(), name+".pid")
}
func (l layout) logFile(name string) string {
	return filepath.Join(l.logDir(), name+".log")
}

// reset removes what a previous cluster left in the state directory and
// recreates the directories. Only the entries this package creates are
// touched, so a mistyped --state-dir cannot wipe unrelated files. Every start
// is fresh: a new CA would not match Node or ServiceAccount objects that an
// old etcd still holds.
func (l layout) reset() error {
	if err := l.checkOwned(); err != nil {
		return err
	}
	for _, p := range []string{
		l.kubeconfig(), l.clusterFile(), l.etcdData(), l.pkiDir(), l.componentKubeconfigs(),
		l.runDir(), l.logDir(), l.auditPolicy(), l.kwokWorkDir(),
	} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("cleaning state directory: %w", err)
		}
	}
	for _, d := range []string{l.dir, l.pkiDir(), l.componentKubeconfigs(), l.runDir(), l.logDir(), l.kwokWorkDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
	}
	// etcd refuses a data directory readable by others.
	if err := os.MkdirAll(l.etcdData(), 0o700); err != nil {
		return fmt.Errorf("creating etcd data directory: %w", err)
	}
	return atomicdir.WriteMarker(l.dir)
}

// owned reports whether the state directory is one this package may clean:
// it holds atomicdir's marker, the cluster file of a cluster started by a
// version of the tools that wrote no marker, or a real node's host ledger.
func (l layout) owned() bool {
	for _, p := range []string{filepath.Join(l.dir, atomicdir.Marker), l.clusterFile(), l.ledgerFile()} {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// checkOwned refuses to start in a state directory that holds anything but
// a cluster of the tools: reset would remove a user's logs/, run/, pki/ or
// kubeconfig there (a mistyped --state-dir, or --state-dir ~).
func (l layout) checkOwned() error {
	entries, err := os.ReadDir(l.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("state directory %s: %w", l.dir, err)
	case len(entries) == 0 || l.owned():
		return nil
	}
	return fmt.Errorf("state directory %s is not empty and holds no cluster of the tools (no %s, no cluster.json): refusing to clean it; name an empty or new directory",
		l.dir, atomicdir.Marker)
}
