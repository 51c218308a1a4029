// "Nothing lost, nothing doubled": vigil log SIGKILLed at random moments over a numbered stream (the pipe
// held by the test, as the scanner holds it), restarted at once each time. vigil log takes its input through
// the logdir's spool (src/logger/spool.ts: splice, write, settle; cut back and written again at start-up), so
// no line can be lost or written twice, whatever instant the kill falls on. The long version (1 000 000
// lines, 100 kills, 20 runs in a row) is in the stress script (test/stress/).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { killStream, logdirLines, audit } from '../helpers/logkill';
import { makeTree, removeTree } from '../helpers/scandir';
import { startVigilSvscan } from '../helpers/svscan';
import { waitFor, waitUp, statusOf, sleep } from '../helpers/wait';
import { mkTmp } from './harness';

test('vigil log: 20 SIGKILLs spread over 100 000 numbered lines: 0 lost, 0 doubled, in order', { timeout: 180000 }, async (t) => {
  const dir = mkTmp('vigil-logkills-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // 100 000 lines in about 8 s: 125 lines every 10 ms
  const r = await killStream({ kind: 'vigil', lines: 100000, kills: 20, batch: 125, intervalMs: 10, dir });
  assert.ok(r.kills >= 15, `most kills hit a running logger (${r.kills})`);
  assert.deepEqual({ lost: r.lost, duplicated: r.duplicated, outOfOrder: r.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 }, r.examples.join('; '));
});

test('vigil log with a rotation every 200 kB: 20 SIGKILLs over 100 000 lines: 0 lost, 0 doubled, in order', { timeout: 180000 }, async (t) => {
  const dir = mkTmp('vigil-logkills-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await killStream({ kind: 'vigil', lines: 100000, kills: 20, batch: 125, intervalMs: 10, dir, script: ['t', 's200000', 'n1000'] });
  assert.ok(r.kills >= 15, `most kills hit a running logger (${r.kills})`);
  assert.deepEqual({ lost: r.lost, duplicated: r.duplicated, outOfOrder: r.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 }, r.examples.join('; '));
  assert.ok(fs.readdirSync(path.join(dir, 'd')).filter((n) => n.endsWith('.s')).length >= 10, 'it did rotate');
});

// Under vigil svscan: a slow writer (one line every 20 ms) whose `vigil log` is SIGKILLed between lines 5
// times (the pipe, held by the scanner, keeps the lines while no logger runs): every line is in the logdir
// within 2 s of the writer's end, none twice. The logger declares readiness (-d 3, notification-fd), so a
// logger that was ready for a second restarts at once after a crash (s6's throttle) instead of 1 s later.

const WRITER = path.join(__dirname, '..', 'helpers', 'numbered-writer.js');

test('vigil svscan: a slow writer whose vigil log is SIGKILLed 5 times between lines: every line logged within 2 s of its end, none twice', { timeout: 120000 }, async (t) => {
  const N = 400; // 8 s at one line per 20 ms
  const sd = makeTree({
    'w/run!': `#!/bin/sh\n"${process.execPath}" "${WRITER}" ${N} 1 20 && : > ../written\nexec sleep 1000000\n`,
    'w/log/run!': `#!/bin/sh\nexec "${process.execPath}" "${path.resolve(__dirname, '..', '..', '..', 'bin', 'vigil')}" log -d 3 t ./main\n`,
    'w/log/notification-fd': '3\n',
  });
  t.after(() => removeTree(sd));
  const sv = await startVigilSvscan(sd);
  t.after(() => sv.kill());
  const logDir = path.join(sd, 'w', 'log');
  let pid = (await waitUp(logDir, 10000)).pid;
  for (let k = 0; k < 5; k++) {
    // between two lines: right after one was written (the writer then sleeps 20 ms)
    const before = logdirLines(path.join(logDir, 'main')).length;
    await waitFor(() => logdirLines(path.join(logDir, 'main')).length > before, 5000, `a new line before kill #${k + 1}`);
    process.kill(pid, 'SIGKILL');
    pid = (await waitUp(logDir, 10000, pid)).pid;
    await sleep(300);
  }
  await waitFor(() => fs.existsSync(path.join(sd, 'written')), 30000, 'the writer to finish');
  const end = Date.now();
  await waitFor(() => audit(logdirLines(path.join(logDir, 'main')), N).lost === 0, 2000, `all ${N} lines within 2 s of the writer's end`);
  const a = audit(logdirLines(path.join(logDir, 'main')), N);
  assert.deepEqual({ lost: a.lost, duplicated: a.duplicated, outOfOrder: a.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 }, a.examples.join('; '));
  assert.ok(Date.now() - end < 2500);
  assert.equal(statusOf(path.join(sd, 'w'))!.pid > 0, true);
});

// In-supervisor logging (log-dir): the scanner itself is SIGSTOPped and SIGCONTed 10 times while a service
// writes; nothing is lost (the writer just blocks on the full pipe), nothing doubled, all within 2 s.
test('in-supervisor logging across 10 SIGSTOP/SIGCONT of the scanner: 0 lost, 0 duplicated, all within 2 s of the end', { timeout: 120000 }, async (t) => {
  const N = 60000; // 60 lines every 10 ms: about 10 s
  const sd = makeTree({
    'w/run!': `#!/bin/sh\n"${process.execPath}" "${WRITER}" ${N} 60 10 && : > ../written\nexec sleep 1000000\n`,
    'w/log-dir': '../logs/w\n',
    'w/log-script': 't\ns4000000\nn1000\n',
  });
  t.after(() => removeTree(sd));
  const sv = await startVigilSvscan(sd);
  t.after(() => { sv.signal('SIGCONT'); sv.kill(); });
  await waitUp(path.join(sd, 'w'), 10000);
  for (let k = 0; k < 10; k++) {
    await sleep(200 + Math.random() * 400);
    sv.signal('SIGSTOP');
    await sleep(100 + Math.random() * 400);
    sv.signal('SIGCONT');
  }
  await waitFor(() => fs.existsSync(path.join(sd, 'written')), 60000, 'the writer to finish');
  const dir = path.join(sd, 'logs', 'w');
  await waitFor(() => audit(logdirLines(dir), N).lost === 0, 2000, `all ${N} lines within 2 s of the writer's end`);
  const a = audit(logdirLines(dir), N);
  assert.deepEqual({ lost: a.lost, duplicated: a.duplicated, outOfOrder: a.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 }, a.examples.join('; '));
});
