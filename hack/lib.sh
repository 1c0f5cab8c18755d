# Shared by the hack/*-binaries.sh scripts, which build what this project runs
# (control planes, node, OLM, image contents) from the Go module proxy, the one
# source these machines reach. Source it after setting NAME (the log prefix).
# It only defines functions: it builds nothing by itself.
#
# Every build goes through a throwaway wrapper module under the output's .build
# folder, pinned to exact versions (the proxy refuses @latest and version lists
# for some modules), and every refusal names the module and version refused.

log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$NAME" "$*" >&2; exit 1; }

export GOFLAGS=-mod=mod GOWORK=off

# absdir DIR: create DIR and print its absolute path.
absdir() { mkdir -p "$1" && (cd "$1" && pwd); }

# stamp_ok STAMP WANT FILE...: the stamp says WANT and every FILE exists.
stamp_ok() {
  local stamp=$1 want=$2 f
  shift 2
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || return 1
  for f in "$@"; do [[ -e "$f" ]] || return 1; done
}

# skip_when_built OUT WANT NAME...: exit the script when OUT/.versions says
# WANT and OUT has every NAME; otherwise drop the stamp, so that a build cut
# short never looks done.
skip_when_built() {
  local out=$1 want=$2
  shift 2
  if stamp_ok "$out/.versions" "$want" "${@/#/$out/}"; then
    log "up to date in $out ($want)"
    exit 0
  fi
  rm -f "$out/.versions"
}

# mark_built OUT WANT NAME...: stamp OUT with WANT, listing what it holds.
mark_built() {
  local out=$1 want=$2
  shift 2
  echo "$want" >"$out/.versions"
  log "done: $out ($want): $(cd "$out" && ls -d "$@" | tr '\n' ' ')"
}

# download MODULE@VERSION...: fetch modules into the module cache and print
# their `go mod download -json` records; dies naming every module@version the
# proxy refused, within seconds (nothing is compiled before this check).
download() {
  local json refused
  json=$(go mod download -json "$@" 2>/dev/null) || true
  refused=$(printf '%s\n' "$json" | awk -F'"' '
    $2 == "Path" {p = $4} $2 == "Version" {v = $4}
    $2 == "Error" {e = $4; if (match(e, /[0-9][0-9][0-9] [A-Z][A-Za-z ]*/)) e = substr(e, RSTART, RLENGTH)
                   else sub(/^.*: /, "", e)
                   printf "%s@%s (%s); ", p, v, e}')
  if [[ -n "$refused" ]]; then
    die "the Go module proxy refused ${refused%; }"
  fi
  [[ -n "$json" ]] || die "go mod download $* printed nothing (is the Go module proxy reachable?)"
  printf '%s\n' "$json"
}

# module_field FIELD MODULE@VERSION: one field (Dir, GoMod) of a downloaded module.
module_field() {
  download "$2" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p"
}

# wrapper DIR MODULE@VERSION...: a module in DIR requiring each MODULE@VERSION
# (the proxy refuses `go install` for operator-framework modules). Kept when
# DIR already wraps the same versions, so a warm rebuild skips the resolution.
wrapper() {
  local dir=$1
  shift
  if [[ -f "$dir/.ok" && "$(cat "$dir/.ok")" == "$*" ]]; then
    return 0
  fi
  download "$@" >/dev/null
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init local.build/wrapper >/dev/null 2>&1)
  if ! (cd "$dir" && go get "$@" >"$dir/get.log" 2>&1); then
    die "resolving $* failed: $(grep -m1 -i 'error\|refused\|40[34]' "$dir/get.log" || tail -1 "$dir/get.log")"
  fi
  echo "$*" >"$dir/.ok"
}

# go_build DIR WHAT GO-BUILD-ARGS...: `go build -trimpath` in module DIR,
# static unless CGO_ENABLED=1 is set, its output kept in DIR/build.log (one log
# line per build step, not a wall of downloads); a failure shows its errors.
go_build() {
  local dir=$1 what=$2
  shift 2
  (cd "$dir" && CGO_ENABLED=${CGO_ENABLED:-0} go build -trimpath "$@" >"$dir/build.log" 2>&1) \
    || die "building $what failed: $(grep -v '^go: downloading' "$dir/build.log" | head -8)"
}

# kubernetes_wrapper DIR VERSION CMD...: a module in DIR that builds
# k8s.io/kubernetes/cmd/CMD at VERSION. kubernetes' go.mod points every staging
# module (k8s.io/api, ...) at ./staging; the wrapper points those it requires at
# v0.0.0 to their published versions instead (v1.X.Y -> v0.X.Y), after checking
# the proxy serves every one of them (some old patches are not all served).
kubernetes_wrapper() {
  local dir=$1 version=$2 gomod required staged replaced m
  shift 2
  local want="kubernetes=$version cmds=$*"
  if [[ -f "$dir/.ok" && "$(cat "$dir/.ok")" == "$want" ]]; then
    return 0
  fi
  gomod=$(module_field GoMod "k8s.io/kubernetes@$version")
  [[ -f "$gomod" ]] || die "no go.mod for k8s.io/kubernetes@$version"
  required=$(awk '/^\tk8s\.io\/[^ ]+ v0\.0\.0$/ {print $1}' "$gomod" | sort -u)
  staged=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | sort -u)
  replaced=$(comm -12 <(echo "$required") <(echo "$staged"))
  # k8s.io/sample-* are examples no command imports (the proxy refuses some).
  local staging_version="v0.${version#v1.}" mods=()
  for m in $replaced; do [[ "$m" == k8s.io/sample-* ]] || mods+=("$m@$staging_version"); done
  log "checking k8s.io/kubernetes@$version's ${#mods[@]} staging modules at $staging_version"
  download "${mods[@]}" >/dev/null

  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && go mod init local.build/kubernetes >/dev/null 2>&1)
  {
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    for m in $replaced; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >>"$dir/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for m in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$m"; done
    printf ')\n'
  } >"$dir/tools.go"
  # -e: tidy also walks the tests of kubernetes' packages, which import modules
  # the proxy refuses (k8s.io/sample-*); nothing built here needs them.
  (cd "$dir" && go mod tidy -e >/dev/null 2>"$dir/tidy.log") \
    || die "resolving k8s.io/kubernetes@$version failed: $(grep -m3 -i 'error\|refused\|40[34]' "$dir/tidy.log" || tail -3 "$dir/tidy.log")"
  echo "$want" >"$dir/.ok"
}

# kubernetes_build DIR VERSION OUT CMD...: build k8s.io/kubernetes/cmd/CMD at
# VERSION into OUT/CMD, static, reporting VERSION (not v0.0.0-master).
kubernetes_build() {
  local dir=$1 version=$2 out=$3 cmd pkg minor
  shift 3
  kubernetes_wrapper "$dir" "$version" "$@"
  minor=${version#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  for cmd in "$@"; do
    log "building $cmd $version"
    go_build "$dir" "$cmd from k8s.io/kubernetes@$version" -ldflags "$ldflags" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
}
