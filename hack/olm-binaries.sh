#!/usr/bin/env bash
# Builds OLM's olm and catalog operators and opm from the Go module proxy at
# pinned versions (no release binary or image can be fetched here), and copies
# OLM's CRDs beside them. Wrapper modules live under $OUT/.build; a rerun with
# the same versions only checks the stamps.
set -euo pipefail

OUT=${1:?usage: olm-binaries.sh OUTPUT_DIR}
OLM_VERSION=${OLM_VERSION:-v0.46.0}
OPM_VERSION=${OPM_VERSION:-v1.73.0}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUILD="$OUT/.build"
STAMP="$OUT/.versions"
WANT="olm=$OLM_VERSION opm=$OPM_VERSION"
PRODUCTS=(olm catalog opm crds)

log() { printf '[olm-binaries] %s\n' "$*" >&2; }
die() { printf '[olm-binaries] error: %s\n' "$*" >&2; exit 1; }

all_present() {
  local p
  for p in "${PRODUCTS[@]}"; do [[ -e "$OUT/$p" ]] || return 1; done
}
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] && all_present; then
  log "up to date in $OUT ($WANT)"
  exit 0
fi
rm -f "$STAMP"

export GOFLAGS=-mod=mod GOWORK=off

# wrapper DIR MODULE@VERSION: an empty module that requires MODULE@VERSION.
wrapper() {
  local dir=$1 modver=$2
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init local.build/wrapper >/dev/null 2>&1)
  if ! (cd "$dir" && go get "$modver" >"$dir/get.log" 2>&1); then
    die "the Go module proxy refused $modver: $(grep -m1 -i 'error\|refused\|40[34]' "$dir/get.log" || tail -1 "$dir/get.log")"
  fi
}

log "building OLM $OLM_VERSION (olm, catalog)"
mod="$BUILD/olm"
wrapper "$mod" "github.com/operator-framework/operator-lifecycle-manager@$OLM_VERSION"
for cmd in olm catalog; do
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -tags=json1 -ldflags "-s -w" -o "$OUT/$cmd" \
    "github.com/operator-framework/operator-lifecycle-manager/cmd/$cmd") \
    || die "building $cmd from operator-lifecycle-manager@$OLM_VERSION failed"
done
olm_dir=$(cd "$mod" && go list -m -f '{{.Dir}}' "github.com/operator-framework/operator-lifecycle-manager")
rm -rf "$OUT/crds.tmp"; mkdir -p "$OUT/crds.tmp"
cp "$olm_dir"/deploy/chart/crds/*.yaml "$OUT/crds.tmp/" || die "OLM $OLM_VERSION has no deploy/chart/crds"
chmod -R u+w "$OUT/crds.tmp"; rm -rf "$OUT/crds"; mv "$OUT/crds.tmp" "$OUT/crds"

log "building opm $OPM_VERSION"
mod="$BUILD/opm"
wrapper "$mod" "github.com/operator-framework/operator-registry@$OPM_VERSION"
(cd "$mod" && CGO_ENABLED=1 go build -trimpath -tags=json1,containers_image_openpgp -ldflags "-s -w" -o "$OUT/opm" \
  "github.com/operator-framework/operator-registry/cmd/opm") \
  || die "building opm from operator-registry@$OPM_VERSION failed"

echo "$WANT" >"$STAMP"
log "done: $(cd "$OUT" && ls -d "${PRODUCTS[@]}" | tr '\n' ' ')"
