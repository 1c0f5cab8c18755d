#!/usr/bin/env bash
# Checks that hack/k8s-compat-binaries.sh refuses what it cannot build before
# building anything: each case must exit non-zero within LIMIT seconds, say
# what is wrong naming the module and version, and leave no bin/k8s-VERSION.
#   - v1.25.99, a release that does not exist: k8s.io/kubernetes@v1.25.99
#   - v1.25.16, served, but four of its staging modules are not: each named
#   - 1.25.15, without the v: the form it wants, before asking the proxy
# LIMIT is no benchmark: a refusal takes about a second, a build about 20
# minutes, so only a script that starts building exceeds it (it is then
# stopped). If the proxy ever serves v1.25.16 fully, this fails saying so:
# the newest buildable 1.25, the floor, has moved.
#
#   hack/k8s-compat-binaries_test.sh BIN_DIR   (BIN_DIR/k8s from make k8s-binaries)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=$(cd "${1:?usage: k8s-compat-binaries_test.sh BIN_DIR}" && pwd)
LIMIT=${LIMIT:-60}
[[ -x "$BIN/k8s/etcd" ]] || { echo "FAIL: $BIN/k8s/etcd missing: run make k8s-binaries" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$BIN/k8s" "$work/k8s"   # the script's shared binaries, without writing into BIN

failed=0
# expect VERSION TEXT...: the script refuses VERSION quickly with every TEXT.
expect() {
  local version=$1 start=$SECONDS status=0 out text
  shift
  out=$(timeout "$LIMIT" bash hack/k8s-compat-binaries.sh "$work" "$version" 2>&1) || status=$?
  local took=$((SECONDS - start)) problems=()
  ((status != 0)) || problems+=("exited 0")
  ((status != 124)) || problems+=("still running after ${LIMIT}s (building?): if the proxy now serves $version, the floor moves")
  for text in "$@"; do
    [[ "$out" == *"$text"* ]] || problems+=("does not say \"$text\"")
  done
  [[ ! -e "$work/k8s-$version" ]] || problems+=("left $work/k8s-$version behind")
  if ((${#problems[@]})); then
    failed=1
    printf 'FAIL: k8s-compat-binaries.sh %s (%ds): %s\n  output: %s\n' "$version" "$took" "$(IFS=';'; echo "${problems[*]}")" "$out" >&2
  else
    printf 'ok: k8s-compat-binaries.sh %s refused in %ds: %s\n' "$version" "$took" "$(tail -1 <<<"$out")"
  fi
}

expect v1.25.99 "the Go module proxy refused k8s.io/kubernetes@v1.25.99"
expect v1.25.16 "k8s.io/cluster-bootstrap@v0.25.16" "k8s.io/controller-manager@v0.25.16" \
  "k8s.io/kube-controller-manager@v0.25.16" "k8s.io/kube-proxy@v0.25.16"
expect 1.25.15 "version 1.25.15 is not of the form v1.MINOR.PATCH"
exit "$failed"
