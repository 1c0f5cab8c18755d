#!/usr/bin/env bash
# Fetches Debian packages into OUTPUT_DIR, unpacked and not installed:
#   - memcached and every library it links, glibc and its loader included, for
#     the test that runs the extraArgs the CRD accepts and refuses through the
#     real memcached (operator/test/envtest/extraargs_test.go) and for the
#     testbed's memcached image (tools/internal/testbed/images_rootfs.go);
#   - busybox-static, the shell and tools (sh, cp, tar, gzip, cat, sleep) of
#     the testbed's stand-ins for OLM's, opm's and operator-sdk's images.
# `apt-get install` is not used: it would start a memcached service on the
# machine. The packages are fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` into OUTPUT_DIR/root. The libraries' packages are memcached's
# `lib*` dependencies as apt-cache lists them (their names change between
# Debian releases); the unpacked loader then proves that every library
# memcached needs is in the tree, not taken from the machine.
# OUTPUT_DIR/memcached runs the unpacked binary through the unpacked loader,
# so it needs nothing from the machine's libraries. A rerun with the same
# recipe only checks the stamp (OUTPUT_DIR/.stamp: the recipe, then
# package=version lines).
set -euo pipefail

OUT=${1:?usage: debs.sh OUTPUT_DIR}
# RECIPE changes when what this script fetches or writes changes, so that an
# older OUTPUT_DIR is fetched again.
RECIPE="recipe=2 packages=memcached(+its lib* dependencies) busybox-static"

log() { printf '[debs] %s\n' "$*" >&2; }
die() { printf '[debs] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAMP="$OUT/.stamp"

if [[ -f "$STAMP" && "$(head -n1 "$STAMP")" == "$RECIPE" && -x "$OUT/memcached" && -x "$OUT/root/bin/busybox" ]]; then
  log "up to date in $OUT ($(tail -n +2 "$STAMP" | tr '\n' ' '))"
  exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null ||
    die "$tool not found: memcached and busybox come from Debian's packages, fetched with apt-get download (a Debian or Ubuntu machine); they are never installed"
done
rm -f "$STAMP"

WORK=$(mktemp -d "$OUT/.work.XXXXXX")
chmod 0755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/root"
# apt's download sandbox user must be able to write there.
chmod 0777 "$WORK/debs"

# apt_run CMD...: run an apt command; a fresh machine may have no package
# lists yet: as root, fetch them once and try again.
apt_run() {
  if "$@" >"$WORK/apt.log" 2>&1; then
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "$* failed (as root, hack/debs.sh would run apt-get update first): $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
  log "$1 failed; apt-get update, then once more"
  apt-get update -qq >"$WORK/update.log" 2>&1 || die "apt-get update failed: $(tail -n 3 "$WORK/update.log" | tr '\n' ' ')"
  "$@" >"$WORK/apt.log" 2>&1 || die "$* failed: $(tail -n 3 "$WORK/apt.log" | tr '\n' ' ')"
}

# fetch PACKAGE...: download and unpack them.
fetch() {
  log "apt-get download $*"
  (cd "$WORK/debs" && apt_run apt-get download "$@")
  local deb
  for deb in "$WORK"/debs/*.deb; do
    dpkg-deb -x "$deb" "$WORK/root"
    printf '%s=%s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" >>"$WORK/versions"
    rm -f "$deb"
  done
}

# library_packages: memcached's direct dependencies that are libraries.
library_packages() {
  apt_run apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances memcached
  awk '$1 ~ /Depends:$/ && $2 ~ /^lib/ {print $2}' "$WORK/apt.log" | sort -u
}

libdirs() {
  local dirs=() d
  for d in "$WORK"/root/usr/lib/*-linux-gnu "$WORK"/root/lib/*-linux-gnu; do
    [[ -d "$d" ]] && dirs+=("$d")
  done
  local IFS=:
  printf '%s' "${dirs[*]}"
}

# loader: the unpacked dynamic loader (ld-linux-*.so.*, a regular file).
loader() {
  find "$WORK/root/lib" "$WORK/root/usr/lib" -type f -name 'ld-linux*.so*' 2>/dev/null | sort | head -n1
}

# outside: the libraries of memcached that the unpacked loader does not find
# in the unpacked tree (not found, or found on the machine).
outside() {
  "$(loader)" --inhibit-cache --library-path "$(libdirs)" --list "$WORK/root/usr/bin/memcached" |
    awk -v root="$WORK/root/" '$2 == "=>" && $1 !~ /^\// && index($3, root) != 1 {print $1}'
}

# shellcheck disable=SC2046 # one package name per word
fetch memcached busybox-static $(library_packages)
[[ -x "$WORK/root/usr/bin/memcached" ]] || die "the memcached package holds no usr/bin/memcached"
[[ -x "$WORK/root/bin/busybox" ]] || die "the busybox-static package holds no bin/busybox"
[[ -n "$(loader)" ]] || die "the unpacked packages hold no dynamic loader (ld-linux*.so*): is libc6 among memcached's dependencies?"
if [[ -n "$(outside)" ]]; then
  die "memcached needs $(outside | tr '\n' ' ')which the unpacked packages do not hold (apt-cache depends memcached lists no package of it)"
fi

# The wrapper finds the unpacked tree beside itself, so the directory may move.
dirs=$(libdirs)
dirs=${dirs//$WORK/\$d}
ld=$(loader)
ld=${ld//$WORK/\$d}
rm -rf "$OUT/root"
mv "$WORK/root" "$OUT/root"
cat >"$OUT/memcached" <<WRAPPER
#!/bin/sh
# Debian's memcached, unpacked by hack/debs.sh, run by the unpacked loader
# with the unpacked libraries only.
d=\$(cd "\$(dirname "\$0")" && pwd)
exec "$ld" --inhibit-cache --library-path "$dirs" "\$d/root/usr/bin/memcached" "\$@"
WRAPPER
chmod 0755 "$OUT/memcached"
"$OUT/memcached" -V >/dev/null || die "the unpacked memcached does not run: $("$OUT/memcached" -V 2>&1 | head -c 300)"
{ echo "$RECIPE"; sort "$WORK/versions"; } >"$STAMP"
log "$("$OUT/memcached" -V), $("$OUT/root/bin/busybox" | head -n1 | cut -d' ' -f1-2) in $OUT"
