// The one process-wide reaper: orphans as PID 1 of a pid namespace and as a subreaper, the reap() at
// install that catches deaths from before (re-exec window), error isolation between owners, re-exec.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { native } from '../../src/sys/native';
import { drain, installReaper, onDrained, onExit, orphansReaped, reaperStats, setReaperErrorHandler, uninstallReaper } from '../../src/sys/reaper';
import { watchReadable } from '../../src/sys/fdwatch';
import { decodeWaitStatus } from '../../src/sys/waitstatus';
import { killAll, procStat, runCmd } from '../helpers/sys-proc';

const n = native();
const helpers = path.resolve(__dirname, '..', 'helpers');
const live = new Set<number>();
after(() => killAll(live));

async function run(argv: string[], ms: number): Promise<string> {
  const r = await runCmd(argv, ms);
  assert.equal(r.code, 0, `${argv.join(' ')}: status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** resolve when pid has exited (it stays a zombie: nobody reaps it) */
function deathOf(pid: number, ms = 10_000): Promise<void> {
  const fd = n.pidfdOpen(pid);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      w.stop();
      n.close(fd);
      reject(new Error(`pid ${pid} did not exit within ${ms} ms`));
    }, ms);
    const w = watchReadable(fd, () => {
      w.stop();
      n.close(fd);
      clearTimeout(t);
      resolve();
    });
  });
}

test('installReaper reaps, at once, a child that died before any SIGCHLD listener existed', async () => {
  uninstallReaper();
  const statuses: number[] = [];
  const pid = n.spawn('/bin/sh', ['sh', '-c', 'exit 6'], [], [null, 2, 2]);
  live.add(pid);
  onExit(pid, (st) => statuses.push(st));
  await deathOf(pid);
  assert.equal(procStat(pid)[0], 'Z', 'a zombie before install');
  installReaper();
  assert.deepEqual(statuses.map((s) => decodeWaitStatus(s).code), [6], 'dispatched synchronously by install');
  assert.throws(() => procStat(pid), /ENOENT/, 'zombie gone');
});

test('an owner that throws does not stop the others; unknown pids count as orphans', async () => {
  installReaper();
  const errors: string[] = [];
  setReaperErrorHandler((e, pid) => errors.push(`${pid}:${(e as Error).message}`));
  const a = n.spawn('/bin/true', ['true'], [], [null, 2, 2]);
  const b = n.spawn('/bin/true', ['true'], [], [null, 2, 2]);
  const c = n.spawn('/bin/true', ['true'], [], [null, 2, 2]); // nobody owns c
  const orphansBefore = orphansReaped();
  let bStatus: number | null = null;
  onExit(a, () => {
    throw new Error('owner A is broken');
  });
  onExit(b, (st) => {
    bStatus = st;
  });
  await Promise.all([deathOf(a), deathOf(b), deathOf(c)]);
  drain(); // the SIGCHLD listener may not have run yet; drain is what it calls
  assert.deepEqual(errors, [`${a}:owner A is broken`]);
  assert.equal(bStatus, 0);
  assert.equal(orphansReaped(), orphansBefore + 1);
  assert.equal(reaperStats().owned, 0);
});

test('hasChildren: false with none, true while a child lives or is an unreaped zombie; onDrained runs after the owners', async () => {
  installReaper();
  drain();
  assert.equal(n.hasChildren(), false, 'children left over from earlier tests');
  const pid = n.spawn('/bin/sleep', ['sleep', '100'], [], [null, 2, 2]);
  live.add(pid);
  assert.equal(n.hasChildren(), true, 'alive');
  const order: string[] = [];
  onExit(pid, () => order.push('owner'));
  const off = onDrained(() => order.push(`drained, children left: ${n.hasChildren()}`));
  uninstallReaper(); // so the zombie stays until we drain by hand
  n.kill(pid, 9);
  await deathOf(pid);
  assert.equal(n.hasChildren(), true, 'a zombie not yet reaped still counts (and hasChildren reaps nothing)');
  assert.equal(procStat(pid)[0], 'Z');
  drain();
  off();
  assert.deepEqual(order, ['owner', 'drained, children left: false']);
  assert.equal(n.hasChildren(), false);
  installReaper();
});

test('1000 orphans as PID 1 of a pid namespace: all reaped, 0 zombies', async () => {
  const out = await run(['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, path.join(helpers, 'sys-orphans.js'), 'pid1', '1000'], 200_000);
  const r = JSON.parse(out.trim().split('\n').pop() as string);
  assert.equal(r.why, 'done', out);
  assert.equal(r.pid, 1);
  assert.equal(r.shStatus, 0);
  assert.equal(r.orphans, 1000);
  assert.equal(r.stats.orphans, 1000);
  assert.equal(r.stats.reaped, 1001);
  assert.equal(r.zombiesAll, 0);
});

test('200 orphans as a subreaper (no namespace): all come to us and are reaped', async () => {
  const out = await run([process.execPath, path.join(helpers, 'sys-orphans.js'), 'subreaper', '200'], 200_000);
  const r = JSON.parse(out.trim().split('\n').pop() as string);
  assert.equal(r.why, 'done', out);
  assert.equal(r.subreaper, true);
  assert.equal(r.orphans, 200);
  assert.equal(r.zombiesOurs, 0);
});

test('execve(self) keeps the pid, the children and the subreaper flag; the first reap() catches the death in the window', async () => {
  const out = await run([process.execPath, path.join(helpers, 'sys-reexec.js')], 20_000);
  const r = JSON.parse(out.trim().split('\n').pop() as string);
  assert.equal(r.why, 'done', out);
  assert.equal(r.pid, r.gen0, 'same pid after execve');
  assert.equal(r.subreaper, true);
  const a = r.reaped.find((x: { pid: number }) => x.pid === r.a);
  const b = r.reaped.find((x: { pid: number }) => x.pid === r.b);
  assert.ok(a && b, out);
  assert.equal(decodeWaitStatus(a.status).code, 3);
  assert.equal(a.atInstall, true, 'A was reaped by the reap() at install');
  assert.equal(decodeWaitStatus(b.status).code, 4);
});


test('with no SIGCHLD reaching JS at all, the child watcher alone reaps every child (level-triggered, no timer)', async () => {
  const out = JSON.parse(await run([process.execPath, path.join(helpers, 'sys-watcher.js'), '300'], 60_000));
  assert.equal(out.sigchldCaught, 0, 'the SIGCHLD listener is gone: the signal is not caught');
  assert.equal(out.why, 'done', JSON.stringify(out));
  assert.equal(out.called, 300);
  assert.equal(out.zombies, 0);
});
