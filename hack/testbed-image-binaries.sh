#!/usr/bin/env bash
# Builds the static programs the testbed's images carry (issue 17), for the
# node's platform (linux/<host arch>), from the Go module proxy at pinned versions:
#   memcached_exporter  the operand's metrics sidecar (prometheus/memcached_exporter)
#   cpb                 OLM's util image program: a bundle unpack Job copies
#                       /bin/cpb into the bundle image's container, which runs it
#   scorecard-test      operator-sdk's scorecard test image's program (reads /bundle)
#   opm, grpc_health_probe   the catalog image's programs, through
#                       hack/opm-image-binaries.sh into OPM_IMAGE_DIR (linked here),
#                       so the catalog image build reuses them
# It builds no image: the tools assemble images from these files.
#
# MEMCACHED_EXPORTER_VERSION: v0.16.0 is the newest the proxy serves (it refuses
# v0.15.x). Output: OUT/<program>; wrapper modules under OUT/.build; a rerun with
# the same versions only checks the stamp.
set -euo pipefail

OUT=${1:?usage: testbed-image-binaries.sh OUTPUT_DIR OPM_IMAGE_DIR}
OPM_IMAGE_DIR=${2:?usage: testbed-image-binaries.sh OUTPUT_DIR OPM_IMAGE_DIR}
MEMCACHED_EXPORTER_VERSION=${MEMCACHED_EXPORTER_VERSION:-v0.16.0}
OLM_VERSION=${OLM_VERSION:-v0.46.0}
OPERATOR_SDK_VERSION=${OPERATOR_SDK_VERSION:-v1.42.2}

NAME=testbed-image-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

OUT=$(absdir "$OUT")
OPM_IMAGE_DIR=$(absdir "$OPM_IMAGE_DIR")
BUILD="$OUT/.build"
ARCH=$(go env GOARCH)
export CGO_ENABLED=0 GOOS=linux GOARCH="$ARCH"
WANT="memcached_exporter=$MEMCACHED_EXPORTER_VERSION olm=$OLM_VERSION operator-sdk=$OPERATOR_SDK_VERSION platform=linux/$ARCH"
BINARIES=(memcached_exporter cpb scorecard-test opm grpc_health_probe)

# opm and grpc_health_probe carry their own stamp in OPM_IMAGE_DIR.
PLATFORMS="linux/$ARCH" bash "$HACK/opm-image-binaries.sh" "$OPM_IMAGE_DIR"
for b in opm grpc_health_probe; do
  ln -sfn "$(realpath --relative-to="$OUT" "$OPM_IMAGE_DIR/linux_$ARCH/$b")" "$OUT/$b"
done

skip_when_built "$OUT" "$WANT" "${BINARIES[@]}"
download "github.com/prometheus/memcached_exporter@$MEMCACHED_EXPORTER_VERSION" \
  "github.com/operator-framework/operator-lifecycle-manager@$OLM_VERSION" \
  "github.com/operator-framework/operator-sdk@$OPERATOR_SDK_VERSION" >/dev/null

# build NAME WRAPPER MODULE@VERSION PACKAGE [GO BUILD FLAGS...]
build() {
  local name=$1 dir="$BUILD/$2" modver=$3 pkg=$4
  shift 4
  log "building $name (${modver#*@})"
  wrapper "$dir" "$modver"
  go_build "$dir" "$name from $modver" "$@" -o "$OUT/$name" "$pkg"
}

# As promu builds it (.promu.yml): the version without its "v".
common=github.com/prometheus/common/version
build memcached_exporter memcached_exporter "github.com/prometheus/memcached_exporter@$MEMCACHED_EXPORTER_VERSION" \
  github.com/prometheus/memcached_exporter/cmd/memcached_exporter \
  -ldflags "-s -w -X $common.Version=${MEMCACHED_EXPORTER_VERSION#v} -X $common.Branch=HEAD"
# As OLM's Makefile (build-utils) builds it.
build cpb olm "github.com/operator-framework/operator-lifecycle-manager@$OLM_VERSION" \
  github.com/operator-framework/operator-lifecycle-manager/util/cpb -tags json1 -ldflags "-s -w"
# As operator-sdk's Makefile (build/scorecard-test) builds it: no tags.
build scorecard-test operator-sdk "github.com/operator-framework/operator-sdk@$OPERATOR_SDK_VERSION" \
  github.com/operator-framework/operator-sdk/images/scorecard-test -ldflags "-s -w"

mark_built "$OUT" "$WANT" "${BINARIES[@]}"
