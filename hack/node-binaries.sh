#!/usr/bin/env bash
# Builds what a real node of the local cluster runs, from the Go module proxy at
# pinned versions (issue 17): kubelet and kube-proxy (the same wrapper module as
# the control plane's, so the build cache of `make k8s-binaries` is reused),
# containerd and its runc shim, and a CoreDNS that links only the plugins the
# cluster's DNS needs. runc and the CNI plugins come from Debian, not from here.
#
# The CoreDNS links no plugin that sends a query elsewhere (no forward, grpc,
# etcd or cloud DNS): a Corefile naming one fails to load, and a name outside the
# cluster's zones gets an error, never an answer fetched off the machine.
#
# Output: OUT/{kubelet,kube-proxy,containerd,containerd-shim-runc-v2,coredns};
# wrapper modules under OUT/.build; a rerun with the same versions only checks
# the stamp.
set -euo pipefail

OUT=${1:?usage: node-binaries.sh OUTPUT_DIR}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.37.2}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}

NAME=node-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(absdir "$OUT")
BUILD="$OUT/.build"
WANT="kubernetes=$KUBERNETES_VERSION containerd=$CONTAINERD_VERSION coredns=$COREDNS_VERSION"
BINARIES=(kubelet kube-proxy containerd containerd-shim-runc-v2 coredns)
skip_when_built "$OUT" "$WANT" "${BINARIES[@]}"

# Every module first, so a version the proxy refuses fails in seconds.
download "k8s.io/kubernetes@$KUBERNETES_VERSION" "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" \
  "github.com/coredns/coredns@$COREDNS_VERSION" >/dev/null

# --- kubelet, kube-proxy --------------------------------------------------------
kubernetes_build "$BUILD/kubernetes" "$KUBERNETES_VERSION" "$OUT" kubelet kube-proxy

# --- containerd ---------------------------------------------------------------
# Static, with containerd's own release tags minus the snapshotters that need
# cgo or kernel pieces this node does not use; the shim without gRPC, as
# containerd's Makefile builds it.
containerd_pkg=github.com/containerd/containerd/v2
wrapper "$BUILD/containerd" "$containerd_pkg@$CONTAINERD_VERSION"
tags="no_btrfs no_devmapper no_zfs urfave_cli_no_docs osusergo netgo static_build"
ldflags="-s -w -X $containerd_pkg/version.Version=$CONTAINERD_VERSION -X $containerd_pkg/version.Package=$containerd_pkg"
log "building containerd $CONTAINERD_VERSION"
go_build "$BUILD/containerd" "containerd from $containerd_pkg@$CONTAINERD_VERSION" -tags "$tags" -ldflags "$ldflags" \
  -o "$OUT/containerd" "$containerd_pkg/cmd/containerd"
log "building containerd-shim-runc-v2 $CONTAINERD_VERSION"
go_build "$BUILD/containerd" "containerd-shim-runc-v2 from $containerd_pkg@$CONTAINERD_VERSION" -tags "$tags no_grpc" \
  -ldflags "$ldflags" -o "$OUT/containerd-shim-runc-v2" "$containerd_pkg/cmd/containerd-shim-runc-v2"

# --- CoreDNS --------------------------------------------------------------------
# CoreDNS' documented way to choose plugins at compile time: a main that imports
# them and sets dnsserver.Directives (their order in CoreDNS' plugin.cfg).
# bind keeps the server on the addresses the project owns (the default is every
# interface); ready/health serve the pod's probes; cache keeps answers local.
log "building coredns $COREDNS_VERSION (bind ready health errors log cache kubernetes)"
wrapper "$BUILD/coredns" "github.com/coredns/coredns@$COREDNS_VERSION"
cat >"$BUILD/coredns/main.go" <<'GO'
// Command coredns is CoreDNS with only the plugins the local cluster needs.
// It must never link a plugin that sends a query elsewhere (forward, grpc,
// etcd, cloud DNS): every lookup is answered from the cluster or refused.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() { coremain.Run() }
GO
(cd "$BUILD/coredns" && go mod tidy >tidy.log 2>&1) \
  || die "resolving coredns $COREDNS_VERSION's plugins failed: $(grep -v '^go: downloading' "$BUILD/coredns/tidy.log" | head -5)"
go_build "$BUILD/coredns" "coredns from github.com/coredns/coredns@$COREDNS_VERSION" -ldflags "-s -w" -o "$OUT/coredns" .

mark_built "$OUT" "$WANT" "${BINARIES[@]}"
