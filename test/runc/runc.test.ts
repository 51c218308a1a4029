// `vigil init --container` as the entrypoint of a real OCI runtime (runc, as under Docker/containerd/k8s):
// read-only root made of the host's /usr and /etc, the project bound read-only, tmpfs /run and /tmp,
// runc's default spec (no CAP_SYS_ADMIN, no_new_privs). Exit codes come from `runc run` in the foreground.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runOnPty } from '../helpers/pty';
import { Bundle, CREPO, exitWithin, initArgs, makeBasedir, makeBundle, runcKill, runForeground, waitFor } from './bundle';

const VIGIL = path.join(CREPO, 'bin', 'vigil');

/** A basedir whose stage 2 and one service leave traces in /out. */
function basedir(rcInitTail = ''): string {
  return makeBasedir({
    'rc.init': `#!/bin/sh\necho "rc.init uid=$(id -u)" > /out/rc-init\n${rcInitTail}`,
    'rc.shutdown': '#!/bin/sh\necho ran > /out/rc-shutdown\n',
    'service/ticker/run': '#!/bin/sh\necho "up $$" > /out/ticker-up\nexec sleep 1000\n',
  });
}

function setup(t: import('node:test').TestContext, cmd: string[] | null, opts: { uid?: number; extra?: string[]; rcInitTail?: string } = {}): Bundle {
  const base = basedir(opts.rcInitTail);
  const b = makeBundle({ args: initArgs(cmd, opts.extra), uid: opts.uid, basedir: base });
  t.after(() => { b.cleanup(); fs.rmSync(base, { recursive: true, force: true }); });
  return b;
}

const has = (b: Bundle, f: string) => () => fs.existsSync(path.join(b.out, f));
const read = (b: Bundle, f: string) => fs.readFileSync(path.join(b.out, f), 'utf8');
const why = (b: Bundle, h: { stdout(): string; stderr(): string }, what: string) => () =>
  `${what} (files in /out: ${fs.readdirSync(b.out).join(', ') || 'none'})\n--- stdout ---\n${h.stdout()}\n--- stderr ---\n${h.stderr()}`;

test('CMD exit code is the container exit code (sh -c "exit 5" → 5), after stage 2 ran', { timeout: 30000 }, async (t) => {
  const b = setup(t, ['/bin/sh', '-c', 'test -e /out/rc-init && touch /out/cmd-saw-stage2; exit 5']);
  const h = runForeground(b);
  const code = await exitWithin(b, h, 20000);
  assert.equal(code, 5, why(b, h, `exit code ${code}`)());
  assert.ok(has(b, 'rc-init')(), why(b, h, 'rc.init never ran')());
  assert.ok(has(b, 'cmd-saw-stage2')(), why(b, h, 'CMD started before rc.init had run')());
});

test('WORKDIR: CMD starts in the container\'s working directory (a name with a space), stage 2 in /', { timeout: 30000 }, async (t) => {
  const base = basedir('pwd -P > /out/rc-init-pwd\n');
  const b = makeBundle({ args: initArgs(['./server.sh', 'arg']), basedir: base, cwd: '/out/my app' });
  t.after(() => { b.cleanup(); fs.rmSync(base, { recursive: true, force: true }); });
  fs.mkdirSync(path.join(b.out, 'my app'), { mode: 0o755 });
  fs.writeFileSync(path.join(b.out, 'my app', 'server.sh'), '#!/bin/sh\npwd -P > /out/cmd-pwd\nexit 5\n', { mode: 0o755 });
  const h = runForeground(b);
  const code = await exitWithin(b, h, 20000);
  assert.equal(code, 5, why(b, h, `exit code ${code}`)());
  assert.equal(read(b, 'cmd-pwd').trim(), '/out/my app');
  assert.equal(read(b, 'rc-init-pwd').trim(), '/');
});

test('-it: with process.terminal, CMD reads the terminal and ^C reaches it from the terminal driver', { timeout: 40000 }, async (t) => {
  const base = basedir();
  const cmd = 'trap "echo got-INT; exit 7" INT; echo "tty=$(tty)"; read x; echo "got=$x"; while :; do sleep 1; done';
  const b = makeBundle({ args: initArgs(['/bin/sh', '-c', cmd]), basedir: base, terminal: true });
  t.after(() => { b.cleanup(); fs.rmSync(base, { recursive: true, force: true }); });
  const p = runOnPty(t, ['runc', '--root', b.state, 'run', '--bundle', b.dir, b.id]);
  await p.waitOutput(/tty=\/dev\/pts\/[0-9]+/, 20000, 'CMD to start on the container\'s terminal');
  await p.send('hello-from-the-keyboard\n', 'got=hello-from-the-keyboard', 10000, 'CMD to read the line');
  await p.send('\x03', 'got-INT', 10000, 'CMD\'s INT trap');
  assert.equal(await p.exited(20000), 7, p.output());
});

test('missing CMD → 127', { timeout: 30000 }, async (t) => {
  const b = setup(t, ['/nonexistent/program', 'arg']);
  const h = runForeground(b);
  const code = await exitWithin(b, h, 20000);
  assert.equal(code, 127, why(b, h, `exit code ${code}`)());
});

test('runc kill TERM: CMD killed by TERM → 143, services stopped, within the grace time', { timeout: 30000 }, async (t) => {
  const b = setup(t, ['/bin/sh', '-c', 'touch /out/cmd-ready; exec sleep 1000']);
  const h = runForeground(b);
  await waitFor(() => has(b, 'cmd-ready')() && has(b, 'ticker-up')(), 15000, why(b, h, 'CMD and the ticker service to start'));
  const t0 = Date.now();
  runcKill(b, 'TERM');
  const code = await exitWithin(b, h, 15000);
  const ms = Date.now() - t0;
  assert.equal(code, 143, why(b, h, `exit code ${code}`)());
  t.diagnostic(`TERM → container gone in ${ms} ms`);
  assert.ok(ms < 10000, `stop took ${ms} ms`);
});

test('runc kill TERM: CMD that traps TERM and exits 7 → 7 (its own status kept)', { timeout: 30000 }, async (t) => {
  const b = setup(t, ['/bin/sh', '-c', 'trap "echo trapped > /out/trapped; exit 7" TERM; touch /out/cmd-ready; while :; do sleep 0.05; done']);
  const h = runForeground(b);
  await waitFor(has(b, 'cmd-ready'), 15000, why(b, h, 'CMD to start'));
  runcKill(b, 'TERM');
  const code = await exitWithin(b, h, 15000);
  assert.equal(code, 7, why(b, h, `exit code ${code}`)());
  assert.ok(has(b, 'trapped')(), 'CMD never saw TERM');
});

test('non-root UID 4321 with a read-only root: boots, exit code propagated, TERM stops it', { timeout: 40000 }, async (t) => {
  const b1 = setup(t, ['/bin/sh', '-c', 'id -u > /out/uid; touch /rootfs-write-test 2>/out/ro-err; cat /run/uncaught-logs/current > /out/uncaught; exit 3'],
    { uid: 4321, rcInitTail: 'echo "stage 2 says hello as $(id -u)"\n' });
  const h1 = runForeground(b1);
  const code1 = await exitWithin(b1, h1, 20000);
  assert.equal(code1, 3, why(b1, h1, `exit code ${code1}`)());
  assert.equal(read(b1, 'uid').trim(), '4321');
  assert.match(read(b1, 'rc-init'), /uid=4321/);
  assert.match(read(b1, 'ro-err'), /Read-only file system/);
  // the catch-all logger ran as 4321 too and stage 2's stdout (the fifo) reached it
  assert.match(read(b1, 'uncaught'), /stage 2 says hello as 4321/, why(b1, h1, 'stage 2 line not in uncaught-logs/current')());

  const b2 = setup(t, ['/bin/sh', '-c', 'touch /out/cmd-ready; exec sleep 1000'], { uid: 4321 });
  const h2 = runForeground(b2);
  await waitFor(() => has(b2, 'cmd-ready')() && has(b2, 'ticker-up')(), 15000, why(b2, h2, 'CMD and the ticker service to start'));
  runcKill(b2, 'TERM');
  const code2 = await exitWithin(b2, h2, 15000);
  assert.equal(code2, 143, why(b2, h2, `exit code ${code2}`)());
});

test('no CMD: the exit code comes from <rundir>/vigil/exitcode written by stage 2, then halt', { timeout: 30000 }, async (t) => {
  const b = setup(t, null, { rcInitTail: `mkdir -p /run/vigil; echo 9 > /run/vigil/exitcode\nexec ${VIGIL} halt\n` });
  const h = runForeground(b);
  const code = await exitWithin(b, h, 20000);
  assert.equal(code, 9, why(b, h, `exit code ${code}`)());
  assert.ok(has(b, 'rc-shutdown')(), why(b, h, 'rc.shutdown did not run')());
});

test('runc kill TERM with a service that ignores TERM: KILLed after --grace, exit code still CMD\'s', { timeout: 30000 }, async (t) => {
  const base = makeBasedir({
    'rc.init': '#!/bin/sh\ntrue\n',
    'service/stubborn/run': '#!/bin/sh\ntrap "" TERM\necho "up $$" > /out/stubborn-up\nexec sleep 1000\n',
  });
  const b = makeBundle({ args: initArgs(['/bin/sh', '-c', 'touch /out/cmd-ready; exec sleep 1000'], ['--grace', '1500']), basedir: base });
  t.after(() => { b.cleanup(); fs.rmSync(base, { recursive: true, force: true }); });
  const h = runForeground(b);
  await waitFor(() => has(b, 'cmd-ready')() && has(b, 'stubborn-up')(), 15000, why(b, h, 'CMD and the stubborn service to start'));
  const t0 = Date.now();
  runcKill(b, 'TERM');
  const code = await exitWithin(b, h, 15000);
  const ms = Date.now() - t0;
  assert.equal(code, 143, why(b, h, `exit code ${code}`)());
  t.diagnostic(`TERM → container gone in ${ms} ms with a 1500 ms grace`);
  assert.ok(ms >= 1400, `the container was gone after ${ms} ms, before the 1500 ms grace had passed`);
  assert.ok(ms < 10000, `stop took ${ms} ms`);
});
