#!/usr/bin/env bash
# Runs, on every Kubernetes VERSION given, what proves the operator there
# (issue 14): the envtest suite (CRD schema and CEL validation, controller
# behaviour) against that version's kube-apiserver with bin/k8s's etcd, then
# the tutorial's walk-through (tools/internal/demo TestWalkthrough) on a local
# cluster whose kube-apiserver, kube-controller-manager and kube-scheduler are
# that version's (etcd, kwok and kubectl from bin/k8s). Every version runs even
# when one fails; a summary with each step's time ends the output, and the exit
# status is 1 when anything failed. `make test-compat` builds the control
# planes first (make k8s-compat-binaries); a missing one fails its tests.
#
#   GO_TEST_FLAGS="-count=1" hack/test-compat.sh BIN_DIR VERSION...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${1:?usage: test-compat.sh BIN_DIR VERSION...}
shift
(($#)) || { echo "[test-compat] error: no version given" >&2; exit 1; }
BIN=$(cd "$BIN" && pwd)
read -r -a flags <<<"${GO_TEST_FLAGS:--count=1}"

summary=() failed=0
# step WHAT VERSION COMMAND...: runs COMMAND, recording its result and time.
step() {
  local what=$1 version=$2 start=$SECONDS result=pass
  shift 2
  echo "== test-compat: $what on Kubernetes $version" >&2
  "$@" || { result=FAIL; failed=1; }
  summary+=("$(printf '%-9s %-12s %-4s %5d s' "$version" "$what" "$result" $((SECONDS - start)))")
}

for version in "$@"; do
  dir="$BIN/k8s-$version"
  step envtest "$version" env KUBEBUILDER_ASSETS="$dir" TEST_ASSET_KUBE_APISERVER="$dir/kube-apiserver" \
    TEST_ASSET_ETCD="$BIN/k8s/etcd" go test "${flags[@]}" ./operator/test/envtest/...
  step walkthrough "$version" env K8S_COMPAT_BIN_DIRS="$dir" \
    go test "${flags[@]}" -tags e2e -run '^TestWalkthrough$' ./tools/internal/demo/
done
printf '%s\n' "== test-compat: version, what ran, result, time" "${summary[@]}" >&2
exit "$failed"
