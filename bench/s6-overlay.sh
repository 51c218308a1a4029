#!/bin/bash
# A real s6-overlay v3 for the boot bench (bench/boot.ts, "s6-overlay" rows), built once and cached:
#
#   bench/s6-overlay.sh     prints the directory of the tree (a file-system layer: /init, /package, /command,
#                           /opt/s6-rc, /usr/lib/...), or exits 1 with one line on stderr saying why it cannot
#
# The version is 3.1.5.0 (the issue's anchor), the one whose skarnet pins are exactly Debian 12's packages
# (skalibs 2.13.1.1, execline 2.9.3.0, s6 2.11.3.2) and s6-rc 0.5.4.1, which /opt/s6-rc holds (built from source
# against those). What Debian does not package is built here from the projects' git repositories (mirrors
# under $S6O_MIRRORS, default /work/.mirror, as fetched by the search tool: just-containers/s6-overlay,
# just-containers/s6-overlay-helpers, skarnet/s6-linux-init, skarnet/s6-portable-utils), dynamically linked
# against Debian's skalibs-dev / libs6-dev (the official tarballs are static musl builds). The tree is laid out
# as s6-overlay's Makefile lays out its tarballs: layout/rootfs-overlay with @VERSION@ and @SHEBANGDIR@
# (/command) substituted, /package/admin/s6-overlay -> s6-overlay-3.1.5.0, and every program in /command.
# Debian's s6 and execline programs and the three shared libraries are copied in, so that the tree works over
# any glibc root (the bench uses Debian minbase from test/pkg/cache.sh).
# Cached under $VIGIL_TEST_CACHE (default /var/cache/vigil-test) as s6-overlay-<versions>, complete when
# <dir>.done exists; built in a temp dir renamed into place, under a lock.
set -euo pipefail
cache="${VIGIL_TEST_CACHE:-/var/cache/vigil-test}"
mirrors="${S6O_MIRRORS:-/work/.mirror}"
S6O=v3.1.5.0 SLI=v1.1.1.1 SPU=v2.3.0.2 HELPERS=v0.1.0.1 S6RC=/opt/s6-rc
dir="$cache/s6-overlay-${S6O#v}-sli${SLI#v}-spu${SPU#v}-h${HELPERS#v}"
why() { echo "s6-overlay.sh: $*" >&2; exit 1; }
if [ -e "$dir.done" ]; then echo "$dir"; exit 0; fi

# what it needs, each said once
mirror() { local m="$mirrors/$1/repo"; git --git-dir="$m" rev-parse -q --verify "$2^{commit}" >/dev/null 2>&1 || why "no $2 in $m (a git mirror of github $1)"; echo "$m"; }
m_ovl=$(mirror just-containers+s6-overlay "$S6O")
m_help=$(mirror just-containers+s6-overlay-helpers "$HELPERS")
m_sli=$(mirror skarnet+s6-linux-init "$SLI")
m_spu=$(mirror skarnet+s6-portable-utils "$SPU")
[ -x "$S6RC/bin/s6-rc-compile" ] || why "no s6-rc 0.5.4.1 in $S6RC (build skarnet/s6-rc v0.5.4.1 there: ./configure --prefix=$S6RC)"
for p in gcc make; do command -v "$p" >/dev/null || why "$p is not installed"; done
sysdeps=/usr/lib/x86_64-linux-gnu/skalibs/sysdeps
[ -d "$sysdeps" ] || why "skalibs-dev is not installed (no $sysdeps)"
[ -e /usr/include/x86_64-linux-gnu/s6/config.h ] || why "libs6-dev is not installed"
[ -e /usr/include/x86_64-linux-gnu/execline/config.h ] || why "libexecline-dev is not installed"
command -v s6-svscan >/dev/null && [ -x /usr/bin/execlineb ] || why "Debian's s6 and execline are not installed"

mkdir -p "$cache"
exec 9>"$cache/.lock-s6-overlay"
flock -w 1800 9 || why "could not lock $cache/.lock-s6-overlay"
if [ -e "$dir.done" ]; then echo "$dir"; exit 0; fi
tmp=$(mktemp -d "$cache/.s6o.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
mkdir -p "$root/command" "$tmp/src"
log="$tmp/build.log"
echo "s6-overlay.sh: building s6-overlay ${S6O#v} (s6-linux-init ${SLI#v}, s6-portable-utils ${SPU#v}, s6-overlay-helpers ${HELPERS#v}) into $dir" >&2

# the skarnet-style packages Debian lacks: configure against Debian's skalibs, programs into /command
build() { # build NAME MIRROR TAG
  local src="$tmp/src/$1"
  mkdir -p "$src"
  git --git-dir="$2" archive "$3" | tar -x -C "$src"
  ( cd "$src" &&
    ./configure --bindir=/command --libexecdir=/command --with-sysdeps="$sysdeps" \
      --with-include=/usr/include/x86_64-linux-gnu --with-lib=/usr/lib/x86_64-linux-gnu &&
    make -j2 && make install DESTDIR="$tmp/inst-$1" ) >>"$log" 2>&1 || { tail -n 15 "$log" >&2; why "building $1 $3 failed (log above)"; }
  cp -a "$tmp/inst-$1/command/." "$root/command/"
}
build s6-linux-init "$m_sli" "$SLI"
build s6-portable-utils "$m_spu" "$SPU"
build s6-overlay-helpers "$m_help" "$HELPERS"

# s6-overlay's own files, as its Makefile makes the noarch tarball
ver=${S6O#v}
git --git-dir="$m_ovl" archive "$S6O" layout/rootfs-overlay | tar -x -C "$tmp/src"
cp -a "$tmp/src/layout/rootfs-overlay/." "$root/"
find "$root" -depth -name '*@VERSION@*' | while read -r n; do mv "$n" "${n%/*}/$(basename "$n" | sed "s/@VERSION@/$ver/")"; done
find "$root/package" "$root/init" "$root/etc" -type f -size +0c -print0 | xargs -0 sed -i -e "s|@SHEBANGDIR@|/command|g; s/@VERSION@/$ver/g" --
ln -s "s6-overlay-$ver" "$root/package/admin/s6-overlay"

# Debian's s6 and execline, s6-rc from /opt/s6-rc (its programs name their libexec by absolute path), the libraries
mkdir -p "$root/usr/bin" "$root/usr/lib/execline/bin" "$root/usr/lib/x86_64-linux-gnu" "$root/opt"
# execline's own programs first (Debian's /usr/bin/execlineb is a wrapper script around its own)
for f in $(dpkg -L s6 execline | grep -E '^/usr/(bin|lib/execline/bin)/[^/]+$' | sort -t/ -k3,3r); do
  [ -f "$f" ] || continue
  cp -a "$f" "$root$f"
  [ -e "$root/command/${f##*/}" ] || ln -s "$f" "$root/command/${f##*/}"
done
cp -a "$S6RC" "$root/opt/"
for f in "$S6RC"/bin/*; do ln -sf "$f" "$root/command/${f##*/}"; done
for f in /usr/lib/execline/bin/execlineb /usr/bin/s6-svscan "$S6RC/bin/s6-rc" "$root/command/s6-linux-init" "$root/command/s6-overlay-suexec"; do
  ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p'
done | sort -u | grep -E 'lib(skarnet|s6|execline)\.so' | while read -r l; do cp -L "$l" "$root/usr/lib/x86_64-linux-gnu/${l##*/}"; done
chmod 4755 "$root/command/s6-overlay-suexec"
chmod 755 "$root"
# it works: the tree's suexec, s6-linux-init-maker and s6-rc-compile run against these libraries
for p in s6-linux-init-maker s6-rc-compile s6-overlay-suexec s6-rmrf s6-dumpenv; do [ -x "$root/command/$p" ] || why "the tree has no /command/$p"; done
rm -rf "$dir"
mv "$root" "$dir"
cp "$log" "$dir.build.log"
touch "$dir.done"
echo "$dir"
