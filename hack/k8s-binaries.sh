#!/usr/bin/env bash
# Builds the Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), etcd and kwok from the Go module proxy at pinned
# versions, because no release binary can be downloaded on the machines this
# project builds on. Each binary is built in a throwaway wrapper module under
# $OUT/.build and stamped with its version; a rerun with the same versions only
# checks the stamps.
set -euo pipefail

OUT=${1:?usage: k8s-binaries.sh OUTPUT_DIR}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUILD="$OUT/.build"
STAMP="$OUT/.versions"
WANT="kubernetes=$KUBERNETES_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwok-stages.yaml)

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }
die() { printf '[k8s-binaries] error: %s\n' "$*" >&2; exit 1; }

all_present() {
  local b
  for b in "${BINARIES[@]}"; do [[ -e "$OUT/$b" ]] || return 1; done
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] && all_present; then
  log "up to date in $OUT ($WANT)"
  exit 0
fi
rm -f "$STAMP"

# download MODULE@VERSION: fetch a module, naming it when the proxy refuses it.
download() {
  local json
  if ! json=$(go mod download -json "$1" 2>&1); then
    die "the Go module proxy refused $1: $(printf '%s' "$json" | tr '\n' ' ' | head -c 400)"
  fi
  if grep -q '"Error"' <<<"$json"; then
    die "the Go module proxy refused $1: $(grep '"Error"' <<<"$json")"
  fi
  printf '%s' "$json"
}

# fresh_module DIR NAME: an empty wrapper module.
fresh_module() {
  rm -rf "$1"; mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off

# --- Kubernetes -----------------------------------------------------------
k8s_minor=${KUBERNETES_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
staging_version="v0.${KUBERNETES_VERSION#v1.}"
log "resolving k8s.io/kubernetes@$KUBERNETES_VERSION (staging modules at $staging_version)"
gomod=$(download "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[[ -f "$gomod" ]] || die "no go.mod for k8s.io/kubernetes@$KUBERNETES_VERSION"

# kubernetes' go.mod points every staging module at ./staging; the wrapper
# points those it requires at v0.0.0 to their published versions instead.
required=$(awk '/^\tk8s\.io\/[^ ]+ v0\.0\.0$/ {print $1}' "$gomod" | sort -u)
staged=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | sort -u)
replaced=$(comm -12 <(echo "$required") <(echo "$staged"))

mod="$BUILD/kubernetes"
fresh_module "$mod" local.build/kubernetes
{
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo "replace ("
  for m in $replaced; do echo "	$m => $m $staging_version"; done
  echo ")"
} >>"$mod/go.mod"
cat >"$mod/tools.go" <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
(cd "$mod" && go mod tidy -e >/dev/null 2>"$mod/tidy.log") || die "resolving k8s.io/kubernetes@$KUBERNETES_VERSION failed: $(tail -3 "$mod/tidy.log")"

ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  log "building $cmd $KUBERNETES_VERSION"
  (cd "$mod" && go build -trimpath -ldflags "-s -w $ldflags" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd") \
    || die "building $cmd from k8s.io/kubernetes@$KUBERNETES_VERSION failed"
done

# --- etcd -------------------------------------------------------------------
log "building etcd $ETCD_VERSION"
mod="$BUILD/etcd"
fresh_module "$mod" local.build/etcd
download "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
(cd "$mod" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>"$mod/get.log") \
  || die "the Go module proxy refused go.etcd.io/etcd/server/v3@$ETCD_VERSION: $(tail -3 "$mod/get.log")"
(cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3) \
  || die "building etcd $ETCD_VERSION failed"

# --- kwok -------------------------------------------------------------------
log "building kwok $KWOK_VERSION"
mod="$BUILD/kwok"
fresh_module "$mod" local.build/kwok
kwok_dir=$(download "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
(cd "$mod" && go get "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null 2>"$mod/get.log") \
  || die "the Go module proxy refused sigs.k8s.io/kwok@$KWOK_VERSION: $(tail -3 "$mod/get.log")"
(cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok) \
  || die "building kwok $KWOK_VERSION failed"

# kwok ships no stages in its binary: the ones that make nodes Ready and pods
# Running (and let them be deleted) come from the module's kustomize/stage.
stages="$OUT/kwok-stages.yaml.tmp"
: >"$stages"
for s in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  f="$kwok_dir/kustomize/stage/$s"
  [[ -f "$f" ]] || die "kwok $KWOK_VERSION has no stage $s"
  { echo "---"; cat "$f"; } >>"$stages"
done
mv "$stages" "$OUT/kwok-stages.yaml"

echo "$WANT" >"$STAMP"
log "done: $(cd "$OUT" && ls "${BINARIES[@]}" | tr '\n' ' ')"
