#!/usr/bin/env bash
# Builds OLM v1 (catalogd and operator-controller, from
# github.com/operator-framework/operator-controller) from the Go module proxy at
# a pinned version (issue 18), and copies what running them needs from the same
# module: the CRDs (ClusterCatalog, ClusterExtension) and upstream's kustomize
# tree config/ (RBAC, catalogd's webhook configuration, deployments; its TLS
# components expect cert-manager, so take the pieces, not the overlays).
#
# OLMV1_VERSION: v1.2.0, the newest that builds here. The proxy serves v1.2.0,
# v1.10.0 and v1.11.0 only (it refuses v1.2.1-v1.2.4, v1.3-v1.9, v1.10.1,
# v1.10.2, v1.11.1-v1.11.3, v1.12.0-v1.17.0); v1.10.0 and v1.11.0's
# operator-controller import pkg.package-operator.run/boxcutter, which the proxy
# refuses at every version (403), so only their catalogd builds.
#
# Output: OUT/{catalogd,operator-controller,crds/,config/}; the wrapper module
# under OUT/.build; a rerun with the same version only checks the stamp.
set -euo pipefail

OUT=${1:?usage: olmv1-binaries.sh OUTPUT_DIR}
OLMV1_VERSION=${OLMV1_VERSION:-v1.2.0}

NAME=olmv1-binaries
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(absdir "$OUT")
WANT="operator-controller=$OLMV1_VERSION"
PRODUCTS=(catalogd operator-controller crds config)
skip_when_built "$OUT" "$WANT" "${PRODUCTS[@]}"
module=github.com/operator-framework/operator-controller

wrapper "$OUT/.build/operator-controller" "$module@$OLMV1_VERSION"
# As upstream's Makefile builds them: static, containers_image_openpgp (no
# gpgme), the version in internal/shared/version.
ldflags="-s -w -X $module/internal/shared/version.version=$OLMV1_VERSION"
for cmd in catalogd operator-controller; do
  log "building $cmd $OLMV1_VERSION"
  go_build "$OUT/.build/operator-controller" "$cmd from $module@$OLMV1_VERSION" -tags containers_image_openpgp \
    -ldflags "$ldflags" -o "$OUT/$cmd" "$module/cmd/$cmd"
done

# CRDs: config/base/*/crd/bases up to v1.2; helm/olmv1/base/*/crd/standard later.
dir=$(module_field Dir "$module@$OLMV1_VERSION")
rm -rf "$OUT/crds.tmp" "$OUT/config.tmp"; mkdir -p "$OUT/crds.tmp"
shopt -s nullglob
crds=("$dir"/config/base/*/crd/bases/*.yaml "$dir"/helm/olmv1/base/*/crd/standard/*.yaml)
shopt -u nullglob
((${#crds[@]})) || die "$module@$OLMV1_VERSION has no CRDs in config/base/*/crd/bases or helm/olmv1/base/*/crd/standard"
cp "${crds[@]}" "$OUT/crds.tmp/"
cp -R "$dir/config" "$OUT/config.tmp" || die "$module@$OLMV1_VERSION has no config/"
chmod -R u+w "$OUT/crds.tmp" "$OUT/config.tmp"
rm -rf "$OUT/crds" "$OUT/config"
mv "$OUT/crds.tmp" "$OUT/crds"; mv "$OUT/config.tmp" "$OUT/config"

mark_built "$OUT" "$WANT" "${PRODUCTS[@]}"
