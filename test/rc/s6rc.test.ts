// The `s6-rc` executable s6-overlay's scripts call (compat/s6-overlay/command/s6-rc) against a running
// `vigil svscan --rc` tree, with real processes: change/list/listall/diff, s6-rc's messages under its own
// name and its exit codes, and a service that calls `s6-rc -b -u change X` at run time from the tree's PATH.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { rcTree, longrun, oneshot, bundle, startRcTree, RcTree } from '../helpers/rctree';
import { ROOT } from '../helpers/svscan';
import { waitFor } from '../helpers/wait';

const COMMAND = path.join(ROOT, 'compat', 's6-overlay', 'command');
const S6RC = path.join(COMMAND, 's6-rc');
const trees: RcTree[] = [];
const dirs: string[] = [];
after(() => {
  for (const t of trees) t.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Out { code: number | null; stdout: string; stderr: string }
function s6rc(t: RcTree | null, args: string[], env: NodeJS.ProcessEnv = {}, ms = 30000): Promise<Out> {
  return new Promise((resolve) => {
    execFile(S6RC, args, { env: { PATH: process.env.PATH, ...(t ? { VIGIL_RUNDIR: t.rundir } : {}), ...env }, timeout: ms, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

test('s6-rc: change, list, listall, diff, s6-rc\'s messages and exit codes, against vigil\'s engine', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-s6rc-'));
  dirs.push(out);
  const src = rcTree({
    ...oneshot('init-config', `sh -c "echo configured > ${out}/config"\n`),
    ...longrun('svc-web', `sh -c 'cat ${out}/config > ${out}/web.tmp && mv ${out}/web.tmp ${out}/web.seen; exec sleep 1000000'`, { 'dependencies.d/init-config': '' }),
    ...oneshot('bad', 'sh -c "exit 3"\n'),
    ...oneshot('after-bad', 'true\n', { deps: ['bad'] }),
    ...oneshot('hang', 'sleep 1000\n'),
    ...bundle('user', ['svc-web']),
  });
  dirs.push(src);
  const t = await startRcTree(src);
  trees.push(t);

  let r = await s6rc(t, ['-v2', '-u', 'change', 'user']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, [
    's6-rc: info: service init-config: starting', 's6-rc: info: service init-config successfully started',
    's6-rc: info: service svc-web: starting', 's6-rc: info: service svc-web successfully started', '',
  ].join('\n'));
  await waitFor(() => fs.existsSync(path.join(out, 'web.seen')), 10000, 'svc-web ran after init-config');
  assert.equal(fs.readFileSync(path.join(out, 'web.seen'), 'utf8'), 'configured\n');
  assert.equal((await s6rc(t, ['-a', 'list'])).stdout, 'svc-web\ninit-config\n');
  assert.equal((await s6rc(t, ['listall', 'user'])).stdout, 'svc-web\ninit-config\n');
  assert.equal((await s6rc(t, ['-d', 'listall', 'init-config'])).stdout, 'svc-web\ninit-config\n');
  r = await s6rc(t, ['diff']);
  assert.deepEqual([r.code, r.stdout], [0, ''], 'supervision agrees with the service manager');

  r = await s6rc(t, ['-u', 'change', 'after-bad']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 's6-rc: warning: unable to start service bad: command exited 3\ns6-rc: warning: not started because bad failed: after-bad\n');
  r = await s6rc(t, ['-u', 'change', 'nope']);
  assert.deepEqual([r.code, r.stderr], [3, 's6-rc: fatal: nope is not a recognized identifier\n']);
  r = await s6rc(t, ['-t', '300', '-u', 'change', 'hang']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^s6-rc: fatal: timed out after 300 ms \(the -t limit\)/);
  r = await s6rc(t, ['-z', 'change']);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /^s6-rc: usage: s6-rc \[ -v verbosity \]/);
  r = await s6rc(null, ['-l', path.join(out, 'nowhere'), 'list']);
  assert.equal(r.code, 111);
  assert.match(r.stderr, /^s6-rc: fatal: unable to connect to /);

  r = await s6rc(t, ['-v2', '-d', 'change', 'init-config']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /s6-rc: info: service svc-web: stopping\n.*s6-rc: info: service svc-web successfully stopped\n/s);
  assert.equal((await s6rc(t, ['-a', 'list'])).stdout, '', 'bad and hang failed, so nothing is up');
});

test('s6-rc at run time: a longrun calls `s6-rc -b -u change X` from the tree\'s PATH, as s6-overlay scripts do', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-s6rc-'));
  dirs.push(out);
  const src = rcTree({
    ...oneshot('late', `sh -c "echo late up > ${out}/late"\n`),
    ...longrun('starter', `sh -c 's6-rc -b -u change late; echo "exit $?" > ${out}/starter.tmp && mv ${out}/starter.tmp ${out}/starter; exec sleep 1000000'`),
  });
  dirs.push(src);
  const t = await startRcTree(src, [], { ...process.env, PATH: `${COMMAND}:${process.env.PATH}` });
  trees.push(t);
  const r = await s6rc(t, ['-u', 'change', 'starter']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => fs.existsSync(path.join(out, 'starter')), 20000, 'the starter\'s s6-rc call returned');
  assert.equal(fs.readFileSync(path.join(out, 'starter'), 'utf8'), 'exit 0\n');
  assert.equal(fs.readFileSync(path.join(out, 'late'), 'utf8'), 'late up\n');
  assert.equal((await s6rc(t, ['-a', 'list'])).stdout.split('\n').sort().join(' '), ' late starter');
});
