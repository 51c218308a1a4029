// Issue 10 item 3: a restarted `vigil svscan` never doubles a service. The first scanner is SIGKILLed (its
// services live on: they run in their own sessions); a second one over the same directory finds each run in
// supervise/vigil-run (pid + start time, checked against /proc), adopts it through a pidfd — no second copy —
// restarts it when it dies (exit status unknown, said by vigil status), and stops it on SIGTERM: no orphan is
// left behind. Before this, 3 services became 6 processes, and 3 orphans stayed forever.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree } from '../helpers/scandir';
import { procsIn, killAll, adoptRun } from '../helpers/adopt';
import { startVigilSvscan, tool, vigil, VIGIL } from '../helpers/svscan';
import { waitFor, waitUp, statusOf } from '../helpers/wait';
import { bootId, readRunRecord } from '../../src/formats/runrecord';
import { spawnProcess } from '../../src/sys/spawn';
import { readProcStat } from '../../src/sys/procstat';

const RUN = '#!/bin/sh\nexec sleep 1000000\n';

test('SIGKILLed vigil svscan started again: 3 services adopted (3 processes, not 6), restarted on death with exit unknown, stopped on SIGTERM', { timeout: 60000 }, async (t) => {
  const sd = makeTree({ 'a/run!': RUN, 'b/run!': RUN, 'c/run!': RUN });
  t.after(() => { killAll(procsIn(sd)); removeTree(sd); });
  const first = await startVigilSvscan(sd);
  t.after(() => first.kill());
  const pids: Record<string, number> = {};
  for (const s of ['a', 'b', 'c']) pids[s] = (await waitUp(path.join(sd, s), 10000)).pid;
  assert.deepEqual(procsIn(sd), Object.values(pids).sort((x, y) => x - y));
  for (const s of ['a', 'b', 'c']) assert.equal(readRunRecord(path.join(sd, s))?.kind, 'own');

  process.kill(first.pid, 'SIGKILL');
  await first.exited;
  const second = await startVigilSvscan(sd);
  t.after(() => second.kill());
  // each service is up with the pid the first scanner started, and nothing else runs in the tree
  for (const s of ['a', 'b', 'c']) {
    await waitFor(() => readRunRecord(path.join(sd, s))?.kind === 'adopted', 10000, `${s} adopted`);
    assert.equal(statusOf(path.join(sd, s))!.pid, pids[s], `${s}: the same process`);
  }
  assert.deepEqual(procsIn(sd), Object.values(pids).sort((x, y) => x - y), '3 processes, not 6');
  const st = await vigil(['status', '--json', sd]);
  const rows = JSON.parse(st.stdout) as Array<{ name: string; state: string; pid: number; adopted: boolean }>;
  for (const r of rows) assert.deepEqual([r.name, r.state, r.pid, r.adopted], [r.name, 'up', pids[r.name], true]);
  // s6's own reader sees a valid status: up, the same pid, and the uptime carried on from the first scanner
  const sv = await tool('s6-svstat', [path.join(sd, 'c')]);
  assert.equal(sv.code, 0, sv.stderr);
  assert.match(sv.stdout, new RegExp(`^up \\(pid ${pids.c}\\) \\d+ seconds\n$`));

  // an adopted run dies: noticed through its pidfd (it is not the scanner's child), restarted once
  process.kill(pids.b, 'SIGKILL');
  const b2 = (await waitUp(path.join(sd, 'b'), 10000, pids.b)).pid;
  assert.notEqual(b2, pids.b);
  assert.equal(readRunRecord(path.join(sd, 'b'))?.kind, 'own');
  assert.deepEqual(procsIn(sd), [pids.a, b2, pids.c].sort((x, y) => x - y));

  // its exit status is unknown, and vigil status says so once it is down: take a down and look
  const d = await vigil(['svc', '-d', path.join(sd, 'a')]);
  assert.equal(d.code, 0, d.stderr);
  await waitFor(() => statusOf(path.join(sd, 'a'))!.pid === 0, 10000, 'a down (its adopted run stopped through the pidfd)');
  const st2 = await vigil(['status', '--json', sd]);
  const a = (JSON.parse(st2.stdout) as Array<{ name: string; state: string; lastExit: unknown }>).find((r) => r.name === 'a')!;
  assert.equal(a.state, 'down');
  assert.deepEqual(a.lastExit, { exitcode: null, signal: null, signum: null });
  assert.match((await vigil(['status', sd])).stdout, /^a\s+down.*unknown \(adopted\)$/m);
  // s6-svstat reads a valid status file (s6's status cannot say "unknown": wstat 0)
  const sva = await tool('s6-svstat', [path.join(sd, 'a')]);
  assert.equal(sva.code, 0, sva.stderr);
  assert.match(sva.stdout, /^down \(exitcode 0\) \d+ seconds, normally up, ready \d+ seconds\n$/);

  // SIGTERM: every service stops, the adopted ones included: nothing is left behind
  second.signal('SIGTERM');
  await second.exited;
  await waitFor(() => procsIn(sd).length === 0, 5000, `no process left in the tree (left: ${procsIn(sd)})`);
});

test('a run record naming a dead or reused pid is not adopted: the service starts normally', { timeout: 30000 }, async (t) => {
  const sd = makeTree({ 'a/run!': RUN, 'a/supervise/vigil-run': `${process.pid} 1 ${bootId()} own\n` });
  t.after(() => { killAll(procsIn(sd)); removeTree(sd); });
  const sv = await startVigilSvscan(sd);
  t.after(() => sv.kill());
  // our own pid is alive but its start time is not 1: a reused pid, never adopted (nor signalled)
  const pid = (await waitUp(path.join(sd, 'a'), 10000)).pid;
  assert.notEqual(pid, process.pid);
  assert.equal(readRunRecord(path.join(sd, 'a'))?.kind, 'own');
});

test('a run record of another boot is not adopted, even when pid and start time match a live process', { timeout: 30000 }, async (t) => {
  // a sleep of ours, alive, with its true pid and start time: only the boot id differs
  const decoy = spawnProcess({ argv: ['/bin/sleep', '1000000'], fds: [null, null, null] });
  const sd = makeTree({ 'a/run!': RUN, 'a/supervise/vigil-run': `${decoy} ${readProcStat(decoy)!.startTime} 00000000-0000-0000-0000-000000000000 own\n` });
  t.after(() => { killAll([decoy, ...procsIn(sd)]); removeTree(sd); });
  const sv = await startVigilSvscan(sd);
  t.after(() => sv.kill());
  const pid = (await waitUp(path.join(sd, 'a'), 10000)).pid;
  assert.notEqual(pid, decoy);
  assert.equal(readRunRecord(path.join(sd, 'a'))?.kind, 'own');
});

test('100 services, scanner SIGKILLed and started again: every one adopted, none doubled, none left after SIGTERM', { timeout: 120000 }, async () => {
  // the 1000-service run is in the stress script (npm run stress -- adopt)
  const r = await adoptRun(100);
  assert.ok(r.adoptMs >= 0, 'every service adopted');
  assert.deepEqual({ changed: r.changed, processes: r.processes, left: r.leftAfterTerm }, { changed: 0, processes: 100, left: 0 });
});

const WRITER = path.join(__dirname, '..', 'helpers', 'numbered-writer.js');

/** the numbers of the lines in a logdir's current, in order */
function loggedNumbers(logdir: string): number[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(logdir, 'current'), 'latin1');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => /^\d{9} /.test(l)).map((l) => Number(l.slice(0, 9)));
}

test('a logged pair is adopted whole: logging goes on through the dead scanner\'s pipe; the service\'s death moves the pair to the new pipe, no line lost', { timeout: 60000 }, async (t) => {
  // one line every 20 ms; the logger is vigil log
  const sd = makeTree({
    'p/run!': `#!/bin/sh\nexec ${process.execPath} ${WRITER} 1000000000 1 20\n`,
    'p/log/run!': `#!/bin/sh\nexec ${process.execPath} ${VIGIL} log ./main\n`,
  });
  t.after(() => { killAll(procsIn(sd)); removeTree(sd); });
  const logdir = path.join(sd, 'p', 'log', 'main');
  const first = await startVigilSvscan(sd);
  t.after(() => first.kill());
  const p1 = (await waitUp(path.join(sd, 'p'), 10000)).pid;
  const l1 = (await waitUp(path.join(sd, 'p', 'log'), 10000)).pid;
  await waitFor(() => loggedNumbers(logdir).length >= 3, 10000, 'lines in the logdir');
  process.kill(first.pid, 'SIGKILL');
  await first.exited;

  const second = await startVigilSvscan(sd);
  t.after(() => second.kill());
  for (const s of ['p', 'p/log']) await waitFor(() => readRunRecord(path.join(sd, s))?.kind === 'adopted', 10000, `${s} adopted`);
  assert.deepEqual(procsIn(sd), [p1, l1].sort((x, y) => x - y), 'the pair, once');
  // the adopted writer and the adopted logger still share the old pipe
  const n0 = loggedNumbers(logdir).length;
  await waitFor(() => loggedNumbers(logdir).length >= n0 + 10, 10000, 'lines still logged after adoption');

  // the service dies: the adopted logger drains the old pipe, sees EOF, exits; both restart on the new pipe
  process.kill(p1, 'SIGKILL');
  const p2 = (await waitUp(path.join(sd, 'p'), 10000, p1)).pid;
  const l2 = (await waitUp(path.join(sd, 'p', 'log'), 10000, l1)).pid;
  assert.notEqual(l2, l1);
  await waitFor(() => {
    const n = loggedNumbers(logdir);
    return n.lastIndexOf(1) > 0 && n.length > n.lastIndexOf(1) + 3;
  }, 10000, 'the new writer\'s lines in the same logdir, through the new pipe');
  const nums = loggedNumbers(logdir);
  const restart = nums.lastIndexOf(1);
  // the first writer's lines: 1..M with no gap (nothing lost across the adoption), then the second's from 1
  assert.deepEqual(nums.slice(0, restart), Array.from({ length: restart }, (_, i) => i + 1));
  assert.deepEqual(nums.slice(restart), Array.from({ length: nums.length - restart }, (_, i) => i + 1));
  assert.deepEqual(procsIn(sd), [p2, l2].sort((x, y) => x - y));

  second.signal('SIGTERM');
  await second.exited;
  await waitFor(() => procsIn(sd).length === 0, 5000, 'no process left');
});
