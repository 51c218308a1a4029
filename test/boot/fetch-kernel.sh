#!/bin/bash
# Download Debian's cloud kernel (linux-image-6.1.0-N-cloud-amd64, newest N apt knows) and extract it with
# dpkg-deb -x into a cache folder: nothing is installed on the host, no initramfs-tools run.
# Idempotent: a kernel already extracted is reused. Prints the path of the vmlinuz on stdout (only that).
# Env: VIGIL_BOOT_CACHE (default /var/cache/vigil-test), VIGIL_KERNEL_PKG (force a package name).
set -euo pipefail
cache="${VIGIL_BOOT_CACHE:-/var/cache/vigil-test}"
mkdir -p "$cache/kernel"
cd "$cache/kernel"
# one fetch at a time (a test and a bench may start together)
exec 9>"$cache/kernel/.lock"
flock -w 600 9 || { echo "fetch-kernel: could not lock $cache/kernel/.lock" >&2; exit 1; }

pick() {
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null \
    | awk '{print $1}' | sort -V | tail -n 1
}

pkg="${VIGIL_KERNEL_PKG:-}"
if [ -z "$pkg" ]; then
  # a kernel already extracted wins: no apt lookup at all (offline, fast)
  have=$(ls -d linux-image-6.1.0-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$have" ] && [ -e "$have/.done" ]; then
    pkg="$have"
  else
    pkg=$(pick)
    if [ -z "$pkg" ]; then
      echo "fetch-kernel: apt knows no linux-image-6.1.0-*-cloud-amd64; running apt-get update" >&2
      apt-get update -qq >&2
      pkg=$(pick)
    fi
  fi
fi
[ -n "$pkg" ] || { echo "fetch-kernel: no cloud kernel package found by apt-cache" >&2; exit 1; }

dir="$cache/kernel/$pkg"
if [ ! -e "$dir/.done" ]; then
  echo "fetch-kernel: downloading $pkg" >&2
  tmp=$(mktemp -d "$cache/kernel/dl.XXXXXX")
  chmod 755 "$tmp"  # apt drops to _apt for the download
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
  deb=$(ls "$tmp"/*.deb | head -n 1)
  rm -rf "$dir"
  mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  touch "$dir/.done"
fi
vmlinuz=$(ls "$dir"/boot/vmlinuz-* | head -n 1)
[ -f "$vmlinuz" ] || { echo "fetch-kernel: no vmlinuz in $dir/boot" >&2; exit 1; }
echo "$vmlinuz"
