package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
)

// Component names double as binary names, pid-file names and log-file names.
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

// components is the start order; stopping walks it backwards so that clients
// go before the apiserver and the apiserver before etcd.
var components = []string{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler, Kwok}

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
func (l layout) pidFile(component string) string {
	return filepath.Join(l.runDir(), component+".pid")
}
func (l layout) logFile(component string) string {
	return filepath.Join(l.logDir(), component+".log")
}

// reset removes what a previous cluster left in the state directory and
// recreates the directories. Only the entries this package creates are
// touched, so a mistyped --state-dir cannot wipe unrelated files. Every start
// is fresh: a new CA would not match Node or ServiceAccount objects that an
// old etcd still holds.
func (l layout) reset() error {
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
	return nil
}
