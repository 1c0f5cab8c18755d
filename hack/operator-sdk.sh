#!/usr/bin/env bash
# Builds operator-sdk from the Go module proxy at a pinned version into OUT
# (the proxy refuses `go install ...@version` for operator-framework modules,
# so it is built from a throwaway wrapper module). Skipped when OUT reports that
# version.
set -euo pipefail
OUT=${1:?usage: operator-sdk.sh OUTPUT_BINARY}
VERSION=${OPERATOR_SDK_VERSION:-v1.42.2}

NAME=operator-sdk
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -x "$OUT" ]] && "$OUT" version 2>/dev/null | grep -q "operator-sdk version: \"$VERSION\""; then
  exit 0
fi
OUT=$(absdir "$(dirname "$OUT")")/$(basename "$OUT")
mod=$(dirname "$OUT")/.build/operator-sdk
log "building operator-sdk $VERSION"
wrapper "$mod" "github.com/operator-framework/operator-sdk@$VERSION"
# As operator-sdk's Makefile sets them: `operator-sdk version` prints GitVersion
# (this script's up-to-date check reads it), ImageVersion is the tag of the
# scorecard-test image that `operator-sdk init` scaffolds, KubernetesVersion the
# client libraries' minor.
k8s=$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/api)
v=github.com/operator-framework/operator-sdk/internal/version
CGO_ENABLED=0 go_build "$mod" "operator-sdk from github.com/operator-framework/operator-sdk@$VERSION" \
  -tags=containers_image_openpgp -o "$OUT" \
  -ldflags "-s -w -X $v.Version=$VERSION -X $v.GitVersion=$VERSION -X $v.ImageVersion=$VERSION -X $v.KubernetesVersion=v1.${k8s#v0.}" \
  github.com/operator-framework/operator-sdk/cmd/operator-sdk
