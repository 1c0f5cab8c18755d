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

log() { printf '[opm-image-binaries] %s\n' "$*" >&2; }
die() { printf '[opm-image-binaries] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUILD="$OUT/.build"

export GOFLAGS=-mod=mod GOWORK=off

# wrapper DIR MODULE@VERSION: an empty module that requires MODULE@VERSION
# (the proxy refuses @latest and `go install` for operator-framework modules).
wrapper() {
  local dir=$1 modver=$2
  if [[ -f "$dir/.ok" && "$(cat "$dir/.ok")" == "$modver" ]]; then
    return 0
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init local.build/wrapper >/dev/null 2>&1)
  if ! (cd "$dir" && go get "$modver" >"$dir/get.log" 2>&1); then
    die "the Go module proxy refused $modver: $(grep -m1 -i 'error\|refused\|40[34]' "$dir/get.log" || tail -1 "$dir/get.log")"
  fi
  echo "$modver" >"$dir/.ok"
}

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
  (cd "$BUILD/opm" && env "${envs[@]}" go build -trimpath -tags=json1,containers_image_openpgp \
    -ldflags "-s -w -X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=$OPM_VERSION" \
    -o "$dir/opm" github.com/operator-framework/operator-registry/cmd/opm) \
    || die "building opm $OPM_VERSION for $p failed"
  log "$p: building grpc_health_probe $PROBE_VERSION"
  (cd "$BUILD/grpc-health-probe" && env "${envs[@]}" go build -trimpath -ldflags "-s -w" \
    -o "$dir/grpc_health_probe" github.com/grpc-ecosystem/grpc-health-probe) \
    || die "building grpc_health_probe $PROBE_VERSION for $p failed"
  echo "$WANT" >"$dir/.versions"
done
log "done: $OUT ($WANT)"
