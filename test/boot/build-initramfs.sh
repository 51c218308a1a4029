#!/bin/bash
# Build the QEMU test guest's initramfs (an uncompressed newc cpio: boots fastest under TCG):
#   /bin/node (stripped copy, cached) + the libraries ldd lists, busybox-static as /bin/sh and friends,
#   the project under /vigil (dist/, bin/, native/build/Release/shim.node, package.json: zero runtime deps),
#   the example basedir test/boot/guest/basedir as /etc/vigil, /dev/console + /dev/null, and /init.
# Usage: build-initramfs.sh OUT.cpio      Env: VIGIL_BOOT_CACHE (default /var/cache/vigil-test).
# Idempotent; needs root (mknod), strip (binutils), cpio.
set -euo pipefail
out="${1:?usage: build-initramfs.sh OUT.cpio}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${VIGIL_BOOT_CACHE:-/var/cache/vigil-test}"
mkdir -p "$cache"

for f in dist/src/cli/main.js native/build/Release/shim.node package.json bin/vigil; do
  [ -e "$repo/$f" ] || { echo "build-initramfs: $repo/$f missing (run npm install && npx tsc -p .)" >&2; exit 1; }
done
busybox=$(command -v busybox) || { echo "build-initramfs: busybox-static not installed" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' \
  || { echo "build-initramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

# stripped node, cached by the real binary's identity
node_bin=$(readlink -f "$(command -v node)")
key=$(stat -c '%s-%Y-%i' "$node_bin")
node_strip="$cache/node-stripped-$key"
if [ ! -x "$node_strip" ]; then
  strip -o "$node_strip.tmp.$$" "$node_bin"
  mv "$node_strip.tmp.$$" "$node_strip"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/vigil-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,vigil/native/build/Release,lib64}
chmod 1777 "$root/tmp"
cp "$node_strip" "$root/bin/node"
ln -s ../../bin/node "$root/usr/bin/node"
# the libraries the dynamic loader needs, at the paths ldd prints
ldd "$node_bin" | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$busybox" "$root/bin/busybox"
for app in $("$busybox" --list); do
  case "$app" in init|linuxrc) continue ;; esac  # a failed /init must panic, not fall back to busybox init
  [ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"
done
ln -sf ../../bin/busybox "$root/usr/bin/env"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

cp -r "$repo/dist" "$root/vigil/dist"
rm -rf "$root/vigil/dist/test" "$root/vigil/dist/bench" "$root/vigil/dist/.tsbuildinfo"
cp -r "$repo/bin" "$root/vigil/bin"
cp "$repo/native/build/Release/shim.node" "$root/vigil/native/build/Release/shim.node"
cp "$repo/package.json" "$root/vigil/package.json"
ln -s ../vigil/bin/vigil "$root/bin/vigil"
cp -r "$here/guest/basedir" "$root/etc/vigil"
echo 'root:x:0:0:root:/:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
cp "$here/guest/init-vigil.js" "$root/init"
chmod 755 "$root/init"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0 > "$out.tmp")
mv "$out.tmp" "$out"
echo "build-initramfs: $out ($(du -h "$out" | cut -f1))" >&2
