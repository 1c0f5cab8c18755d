#!/usr/bin/env bash
# Builds the Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), etcd and kwok from the Go module proxy at pinned
# versions, because no release binary can be downloaded on the machines this
# project builds on. Each binary is built in a throwaway wrapper module under
# $OUT/.build and stamped with its version; a rerun with the same versions only
# checks the stamps. Older control planes: hack/k8s-compat-binaries.sh.
set -euo pipefail

OUT=${1:?usage: k8s-binaries.sh OUTPUT_DIR}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}

NAME=k8s-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(absdir "$OUT")
BUILD="$OUT/.build"
WANT="kubernetes=$KUBERNETES_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwok-stages.yaml)
skip_when_built "$OUT" "$WANT" "${BINARIES[@]}"

# --- Kubernetes -----------------------------------------------------------
kubernetes_build "$BUILD/kubernetes" "$KUBERNETES_VERSION" "$OUT" \
  kube-apiserver kube-controller-manager kube-scheduler kubectl

# --- etcd -------------------------------------------------------------------
log "building etcd $ETCD_VERSION"
wrapper "$BUILD/etcd" "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go_build "$BUILD/etcd" "etcd $ETCD_VERSION" -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3

# --- kwok -------------------------------------------------------------------
log "building kwok $KWOK_VERSION"
wrapper "$BUILD/kwok" "sigs.k8s.io/kwok@$KWOK_VERSION"
go_build "$BUILD/kwok" "kwok $KWOK_VERSION" -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok

# kwok ships no stages in its binary: the ones that make nodes Ready and pods
# Running (and let them be deleted) come from the module's kustomize/stage.
kwok_dir=$(module_field Dir "sigs.k8s.io/kwok@$KWOK_VERSION")
stages="$OUT/kwok-stages.yaml.tmp"
: >"$stages"
for s in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  f="$kwok_dir/kustomize/stage/$s"
  [[ -f "$f" ]] || die "kwok $KWOK_VERSION has no stage $s"
  { echo "---"; cat "$f"; } >>"$stages"
done
mv "$stages" "$OUT/kwok-stages.yaml"

mark_built "$OUT" "$WANT" "${BINARIES[@]}"
