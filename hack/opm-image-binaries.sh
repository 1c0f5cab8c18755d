#!/usr/bin/env bash
# Builds, for every platform of PLATFORMS, the binaries the catalog image
# carries (what quay.io/operator-framework/opm:$OPM_VERSION carries): opm
# and grpc_health_probe (OLM's registry pods probe the catalog with
# `grpc_health_probe -addr=:50051`), static (CGO_ENABLED=0), from the Go module
# proxy at pinned versions. opm serves a file-based catalog without sqlite, so
# it needs no cgo: `-tags=json1,containers_image_openpgp` as upstream builds it.
#
# Output: OUT/<os>_<arch>/{opm,grpc_health_probe}; wrapper modules live under
# OUT/.build. A rerun with the same versions only checks the stamps.
#
#   hack/opm-image-binaries.sh bin/opm-image            # PLATFORMS from the environment
#   PLATFORMS=linux/amd64 hack/opm-image-binaries.sh bin/opm-image
set -euo pipefail

OUT=${1:?usage: opm-image-binaries.sh OUTPUT_DIR}
OPM_VERSION=${OPM_VERSION:-v1.73.0}
PLATFORMS=${PLATFORMS:-linux/arm64,linux/amd64,linux/s390x,linux/ppc64le}

NAME=opm-image-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(absdir "$OUT")
BUILD="$OUT/.build"

wrapper "$BUILD/opm" "github.com/operator-framework/operator-registry@$OPM_VERSION"
# grpc_health_probe at the version operator-registry pins (its tools.go), as
# upstream's release Dockerfile takes it; built from its own module, as
# upstream's release binary is.
PROBE_VERSION=${GRPC_HEALTH_PROBE_VERSION:-$(cd "$BUILD/opm" && go list -m -f '{{.Version}}' github.com/grpc-ecosystem/grpc-health-probe)}
[[ -n "$PROBE_VERSION" ]] || die "cannot tell which grpc-health-probe operator-registry@$OPM_VERSION pins"
wrapper "$BUILD/grpc-health-probe" "github.com/grpc-ecosystem/grpc-health-probe@$PROBE_VERSION"

WANT="opm=$OPM_VERSION grpc_health_probe=$PROBE_VERSION cgo=0"
IFS=',' read -r -a platforms <<<"$PLATFORMS"
for p in "${platforms[@]}"; do
  p=${p// /}
  [[ -z "$p" ]] && continue
  os=${p%%/*}; rest=${p#*/}; arch=${rest%%/*}
  variant=""; [[ "$rest" == */* ]] && variant=${rest#*/}
  [[ "$os" != "$p" && -n "$arch" ]] || die "platform $p is not OS/ARCH[/VARIANT]"
  dir="$OUT/${os}_${arch}${variant:+_$variant}"
  if [[ -f "$dir/.versions" && "$(cat "$dir/.versions")" == "$WANT" && -x "$dir/opm" && -x "$dir/grpc_health_probe" ]]; then
    log "$p: up to date ($WANT)"
    continue
  fi
  mkdir -p "$dir"; rm -f "$dir/.versions"
  envs=(CGO_ENABLED=0 "GOOS=$os" "GOARCH=$arch")
  case "$arch:$variant" in
    arm:v*) envs+=("GOARM=${variant#v}") ;;
    arm64:v*.*) envs+=("GOARM64=$variant") ;;
    arm64:v*) envs+=("GOARM64=$variant.0") ;;
    amd64:v*) envs+=("GOAMD64=$variant") ;;
  esac
  log "$p: building opm $OPM_VERSION"
  (export "${envs[@]}"; go_build "$BUILD/opm" "opm $OPM_VERSION for $p" -tags=json1,containers_image_openpgp \
    -ldflags "-s -w -X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=$OPM_VERSION" \
    -o "$dir/opm" github.com/operator-framework/operator-registry/cmd/opm)
  log "$p: building grpc_health_probe $PROBE_VERSION"
  (export "${envs[@]}"; go_build "$BUILD/grpc-health-probe" "grpc_health_probe $PROBE_VERSION for $p" -ldflags "-s -w" \
    -o "$dir/grpc_health_probe" github.com/grpc-ecosystem/grpc-health-probe)
  echo "$WANT" >"$dir/.versions"
done
log "done: $OUT ($WANT)"
