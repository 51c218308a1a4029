// The npm package installed with no compiler, and the example image (examples/docker): `npm pack` of this
// checkout, then every instruction of examples/docker/Dockerfile carried out on node:24-slim's file system
// (Debian bookworm minbase + node 24 + npm, no python3/make/g++; test/pkg/cache.sh builds and caches it), then
// the image run under runc with a read-only root as the pod spec (examples/docker/pod.yaml) runs it.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exitWithin, runcKill, waitFor } from '../runc/bundle';
import { REPO, Image, build, imageBundle, runImageForeground } from './image';

const EXAMPLE = path.join(REPO, 'examples', 'docker');
const PKG_DIR = '/usr/local/lib/node_modules/vigil';
let tmp: string;
let img: Image;
let packed: { filename: string; files: { path: string }[] };

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-pkg-'));
  fs.chmodSync(tmp, 0o755);
  // the build context: the example directory plus the packed tarball, as its README says
  const ctx = path.join(tmp, 'context');
  fs.cpSync(EXAMPLE, ctx, { recursive: true, filter: (s) => !s.endsWith('.tgz') });
  const json = execFileSync('npm', ['pack', '--json', '--pack-destination', ctx], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  packed = JSON.parse(json.slice(json.indexOf('[')))[0];
  img = await build(path.join(ctx, 'Dockerfile'), ctx, path.join(tmp, 'build'));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Run the image: ENTRYPOINT + (cmd ?? CMD), read-only root, tmpfs /run and /tmp, as pod.yaml does. */
function run(t: import('node:test').TestContext, cmd: string[] | null, uid: number) {
  const merged = fs.mkdtempSync(path.join(tmp, 'root-'));
  const b = imageBundle({ rootfs: merged, readonly: true, args: [...img.entrypoint, ...(cmd ?? img.cmd)], env: img.env, cwd: img.workdir, uid, tmpfs: ['/run', '/tmp'] });
  t.after(() => b.cleanup());
  const h = runImageForeground(b, img.layers, merged);
  let gone = false;
  void h.exited.then(() => { gone = true; });
  const why = (what: string) => () => `${what}\n--- stdout ---\n${h.stdout()}\n--- stderr ---\n${h.stderr()}`;
  /** wait for cond; fail at once if the container has exited meanwhile */
  const until = (cond: () => boolean, ms: number, what: string) =>
    waitFor(() => { if (!cond() && gone) throw new Error(why(`the container exited before ${what}`)()); return cond(); }, ms, why(what));
  return { b, h, why, until };
}

test('npm pack: the tarball carries the prebuilt shim for x64/arm64 × glibc/musl, the sources, and no build output', () => {
  const files = packed.files.map((f) => f.path);
  for (const t of ['linux-x64-glibc', 'linux-arm64-glibc', 'linux-x64-musl', 'linux-arm64-musl']) {
    assert.ok(files.includes(`prebuilds/${t}/vigil.node`), `prebuilds/${t}/vigil.node not in ${packed.filename}`);
  }
  for (const f of ['prebuilds/SHA256SUMS', 'native/shim.c', 'native/binding.gyp', 'native/install.js', 'bin/vigil', 'dist/src/cli/main.js', 'dist/src/sys/native.js', 'package.json']) {
    assert.ok(files.includes(f), `${f} not in ${packed.filename}`);
  }
  assert.deepEqual(files.filter((f) => /^(native\/build|dist\/test|dist\/bench|test|src)\//.test(f)), []);
  assert.ok(!fs.existsSync(path.join(REPO, 'prebuilds')), 'postpack left prebuilds/ in the checkout');
});

test('the image has no compiler, and its npm install used the prebuilt shim (nothing compiled)', () => {
  for (const tool of ['python3', 'make', 'g++', 'gcc', 'cc', 'c++']) {
    for (const layer of img.layers) {
      for (const dir of ['usr/bin', 'usr/local/bin', 'bin']) {
        assert.ok(!fs.existsSync(path.join(layer, dir, tool)), `${tool} is in the image (${path.join(layer, dir)})`);
      }
    }
  }
  const top = img.layers[0];
  assert.ok(fs.existsSync(path.join(top, PKG_DIR, 'prebuilds', 'linux-x64-glibc', 'vigil.node')), 'the package was not installed under /usr/local/lib/node_modules');
  assert.ok(!fs.existsSync(path.join(top, PKG_DIR, 'native', 'build')), 'npm install built the shim from source');
  assert.equal(fs.readlinkSync(path.join(top, 'usr/local/bin/vigil')), '../lib/node_modules/vigil/bin/vigil');
});

test('no prebuild and no compiler: npm install fails with one message saying what is missing', { timeout: 120_000 }, async (t) => {
  // the same tarball, forced to build from source in the compiler-less image (as on a platform with no prebuild)
  const layer = fs.mkdtempSync(path.join(tmp, 'layer-'));
  const upper = { upper: path.join(layer, 'upper'), work: path.join(layer, 'work') };
  fs.mkdirSync(upper.upper);
  fs.mkdirSync(upper.work);
  const merged = path.join(layer, 'merged');
  fs.mkdirSync(merged);
  const b = imageBundle({
    rootfs: merged, readonly: false, cwd: '/', uid: 0, env: [...img.env, 'VIGIL_BUILD_FROM_SOURCE=1'],
    args: ['npm', 'install', '--global', '--foreground-scripts', '--no-audit', '--no-fund', `/pkg/${packed.filename}`],
    binds: { [path.join(tmp, 'context', packed.filename)]: `/pkg/${packed.filename}` },
  });
  t.after(() => b.cleanup());
  const h = runImageForeground(b, img.layers, merged, upper);
  const code = await exitWithin(b, h, 110_000);
  const all = h.stdout() + h.stderr();
  assert.notEqual(code, 0, `npm install succeeded without a compiler?\n${all}`);
  assert.match(all, /vigil install: building the shim from source \(asked to\)/);
  assert.match(all, /vigil install: node-gyp rebuild --directory=native .*failed \(exit \d+\)\. Asked to build from source; building native\/shim\.c needs python3, make and a C compiler/, all);
});

test('vigil init --container -- node -e …: read-only root, the prebuilt shim loaded, TERM → 143', { timeout: 60_000 }, async (t) => {
  const script = [
    `const n = require('${PKG_DIR}/dist/src/sys/native.js'); n.native();`,
    "let ro = 'writable'; try { require('fs').writeFileSync('/probe', 'x') } catch (e) { ro = e.code }",
    "console.log('CMD ' + JSON.stringify({ shim: n.nativePath(), target: n.prebuildTarget(), root: ro, pid: process.pid, node: process.version }));",
    'setInterval(() => {}, 1e9);',
  ].join('\n');
  const { b, h, why, until } = run(t, ['node', '-e', script], 0);
  await until(() => /^CMD /m.test(h.stdout()), 30_000, 'CMD reported');
  const got = JSON.parse(/^CMD (.*)$/m.exec(h.stdout())![1]);
  assert.equal(got.shim, `${PKG_DIR}/prebuilds/linux-x64-glibc/vigil.node`, why('wrong shim')());
  assert.equal(got.target, 'linux-x64-glibc');
  assert.equal(got.root, 'EROFS', why('the root is not read-only')());
  assert.match(got.node, /^v24\./);
  assert.notEqual(got.pid, 1, 'CMD is PID 1: vigil is not the entrypoint');
  runcKill(b, 'TERM');
  const code = await exitWithin(b, h, 15_000);
  assert.equal(code, 143, why(`exit code ${code}`)());
});

test('the example as pod.yaml runs it (uid 10001, read-only root): CMD in WORKDIR, logs on stdout, HUP forwarded, TERM → its exit code', { timeout: 60_000 }, async (t) => {
  const { b, h, why, until } = run(t, null, 10001);
  // WORKDIR: CMD is ["node", "server.js"], a path relative to WORKDIR /app; "Cannot find module '/server.js'"
  // below means CMD ran in / (issue 11 item 1: vigil init must start CMD in its own working directory)
  await until(() => /server: listening on 8080/.test(h.stdout()), 30_000, 'the server listened (WORKDIR /app + CMD node server.js)');
  // WORKDIR: CMD ["node", "server.js"] found server.js relative to /app, and reports it
  assert.match(h.stdout(), /server: listening on 8080 in \/app as uid 10001/, why('CMD not in WORKDIR')());
  // logs: stage 2 and a service (through the catch-all logger) reach the container's stdout too
  await until(() => /rc\.init: stage 2 in container mode/.test(h.stdout()) && /worker: up as uid 10001/.test(h.stdout()), 15_000,
    'stage 2 and the worker service showed in the container output');
  runcKill(b, 'HUP');
  await until(() => /server: SIGHUP: configuration reloaded \(generation 2\)/.test(h.stdout()), 10_000, 'HUP reached the server');
  const t0 = Date.now();
  runcKill(b, 'TERM');
  const code = await exitWithin(b, h, 15_000);
  const ms = Date.now() - t0;
  assert.equal(code, 0, why(`exit code ${code} (server.js exits 0 after closing on TERM)`)());
  assert.match(h.stdout(), /server: SIGTERM: closing/, why('TERM did not reach the server')());
  t.diagnostic(`TERM → container gone in ${ms} ms`);
  assert.ok(ms < 10_000, `stop took ${ms} ms`);
});
