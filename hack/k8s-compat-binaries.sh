#!/usr/bin/env bash
# Builds the control plane of older Kubernetes versions (kube-apiserver,
# kube-controller-manager, kube-scheduler), the versions the operator claims to
# support and is tested on (issue 14), from the Go module proxy, the same way
# hack/k8s-binaries.sh builds the newest. Each VERSION goes to BIN_DIR/k8s-VERSION
# with links to etcd, kubectl and kwok of BIN_DIR/k8s (built by k8s-binaries.sh
# first), so the folder serves as KUBEBUILDER_ASSETS or a local cluster's bin dir.
# A rerun with the same version only checks the folder's stamp.
#
#   hack/k8s-compat-binaries.sh bin v1.25.15 v1.30.14
#
# Versions the proxy does not fully serve fail in seconds, naming each refused
# module: k8s.io/kubernetes v1.25.16 is served but its staging modules
# k8s.io/cluster-bootstrap, controller-manager, kube-controller-manager and
# kube-proxy v0.25.16 are not, so the newest buildable 1.25 is v1.25.15.
# v1.25.15 and v1.30.14 build with Go 1.26 as they are (their
# modern-go/reflect2 v1.0.2 links only runtime symbols Go still allows).
set -euo pipefail

BIN=${1:?usage: k8s-compat-binaries.sh BIN_DIR VERSION...}
shift
NAME=k8s-compat-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
(($#)) || die "no version given (usage: k8s-compat-binaries.sh BIN_DIR VERSION...)"

BIN=$(absdir "$BIN")
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)
SHARED=(etcd kubectl kwok kwok-stages.yaml)

for version in "$@"; do
  [[ "$version" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "version $version is not of the form v1.MINOR.PATCH"
  out="$BIN/k8s-$version"
  want="kubernetes=$version"
  if stamp_ok "$out/.versions" "$want" "${BINARIES[@]/#/$out/}" "${SHARED[@]/#/$out/}"; then
    log "up to date in $out ($want)"
    continue
  fi
  for b in "${SHARED[@]}"; do
    [[ -e "$BIN/k8s/$b" ]] || die "$BIN/k8s/$b is missing: build it first with make k8s-binaries"
  done
  rm -f "$out/.versions"   # kubernetes_build creates $out only once the proxy serves every module
  kubernetes_build "$out/.build/kubernetes" "$version" "$out" "${BINARIES[@]}"
  for b in "${SHARED[@]}"; do ln -sfn "../k8s/$b" "$out/$b"; done
  echo "$want" >"$out/.versions"
  log "done: $out ($want)"
done
