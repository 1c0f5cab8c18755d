#!/usr/bin/env bash
# Builds OLM's olm and catalog operators and opm from the Go module proxy at
# pinned versions (no release binary or image can be fetched here), and copies
# OLM's CRDs beside them. Wrapper modules live under $OUT/.build; a rerun with
# the same versions only checks the stamps.
set -euo pipefail

OUT=${1:?usage: olm-binaries.sh OUTPUT_DIR}
OLM_VERSION=${OLM_VERSION:-v0.46.0}
OPM_VERSION=${OPM_VERSION:-v1.73.0}

NAME=olm-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(absdir "$OUT")
BUILD="$OUT/.build"
WANT="olm=$OLM_VERSION opm=$OPM_VERSION"
PRODUCTS=(olm catalog opm crds)
skip_when_built "$OUT" "$WANT" "${PRODUCTS[@]}"

log "building OLM $OLM_VERSION (olm, catalog)"
mod="$BUILD/olm"
wrapper "$mod" "github.com/operator-framework/operator-lifecycle-manager@$OLM_VERSION"
for cmd in olm catalog; do
  go_build "$mod" "$cmd from operator-lifecycle-manager@$OLM_VERSION" -tags=json1 -ldflags "-s -w" -o "$OUT/$cmd" \
    "github.com/operator-framework/operator-lifecycle-manager/cmd/$cmd"
done
olm_dir=$(module_field Dir "github.com/operator-framework/operator-lifecycle-manager@$OLM_VERSION")
rm -rf "$OUT/crds.tmp"; mkdir -p "$OUT/crds.tmp"
cp "$olm_dir"/deploy/chart/crds/*.yaml "$OUT/crds.tmp/" || die "OLM $OLM_VERSION has no deploy/chart/crds"
chmod -R u+w "$OUT/crds.tmp"; rm -rf "$OUT/crds"; mv "$OUT/crds.tmp" "$OUT/crds"

log "building opm $OPM_VERSION"
mod="$BUILD/opm"
wrapper "$mod" "github.com/operator-framework/operator-registry@$OPM_VERSION"
CGO_ENABLED=1 go_build "$mod" "opm from operator-registry@$OPM_VERSION" -tags=json1,containers_image_openpgp \
  -ldflags "-s -w -X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=$OPM_VERSION" \
  -o "$OUT/opm" "github.com/operator-framework/operator-registry/cmd/opm"

mark_built "$OUT" "$WANT" "${PRODUCTS[@]}"
