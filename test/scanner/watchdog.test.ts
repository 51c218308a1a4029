// The event-loop watchdog (issue 10 item 2: "an event loop blocked longer than a watchdog allows"): a
// preloaded test hook (test/helpers/fault-inject.ts, `block`) blocks vigil svscan's loop for good; the native
// thread re-executes the process with no state and the new image takes every service back through
// supervise/vigil-run: no restart, the services' own exits (during the block and after) handled with their
// real wait status, the service → logger pipes taken back from the loggers (no line lost, none doubled), PID 1
// still PID 1. A second block
// within the repeat window runs .s6-svscan/crash, as a second fault does. And the watchdog costs an idle
// supervisor no wake-up (the method of the bench's idle row: context switches of every thread).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { startBg, tool, VIGIL, waitListening, Bg } from '../helpers/svscan';
import { waitFor, statusOf } from '../helpers/wait';
import { cleanup, exitOf } from '../helpers/pid1ns';
import { assertContiguous, FAULT_PRELOAD as FAULT, injectFault as fault, lineNumbers, logdirLines, nsPidOf, WRITER } from '../helpers/reexec';

const linesOf = (logdir: string): number[] => lineNumbers(logdirLines(logdir));
const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;
const FIRED = /vigil svscan: fatal: the event loop has not turned for [0-9]+ ms \([0-9]+ ms of it waiting for a CPU; the watchdog allows 1000 ms\): re-executing without a state file, services kept/g;

/** voluntary + nonvoluntary context switches of every thread of pid (the bench's idle measure) */
function switches(pid: number): number {
  let n = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)![1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)![1]);
    } catch {
      /* a thread that ended */
    }
  }
  return n;
}

test('a blocked loop as PID 1: a cold re-exec restarts nothing, exits keep their real status, logs lose no line', { timeout: 180000 }, async () => {
  const tree: Record<string, string> = {};
  const writers: string[] = [];
  const early: string[] = [];
  const late: string[] = [];
  for (let i = 0; i < 15; i++) {
    tree[`w${i}/run!`] = WRITER;
    tree[`w${i}/log/run!`] = i < 12 ? '#!/bin/sh\nexec s6-log ./main\n' : `#!/bin/sh\nexec ${process.execPath} ${VIGIL} log ./main\n`;
    writers.push(`w${i}`);
  }
  for (let i = 0; i < 10; i++) {
    tree[`k${i}/run!`] = SLEEP_RUN;
    tree[`k${i}/finish!`] = '#!/bin/sh\necho "$1 $2" > finished\n';
    (i < 5 ? early : late).push(`k${i}`);
  }
  for (let i = 0; i < 20; i++) tree[`s${i}/run!`] = SLEEP_RUN;
  const sd = makeTree(tree);
  cleanup.push(() => removeTree(sd));
  const faultDir = tmpdir('vigil-fault-');
  cleanup.push(() => removeTree(faultDir));
  const bg: Bg = startBg('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-r', FAULT, VIGIL, 'svscan', sd], {
    env: { ...process.env, VIGIL_TEST_FAULT_DIR: faultDir, VIGIL_WATCHDOG_MS: '1000' },
  });
  cleanup.push(() => bg.kill());
  const pid1 = await waitFor(() => {
    const kids = fs.readFileSync(`/proc/${bg.pid}/task/${bg.pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(' ')[0]) : 0;
  }, 5000, 'PID 1 of the namespace');
  await waitListening(sd, bg, 10000);
  const dirs = [...new Set([...Object.keys(tree).map((k) => k.split('/')[0]), ...writers.map((n) => `${n}/log`)])];
  assert.equal(dirs.length, 60);
  const pids = (): Map<string, number> => new Map(dirs.map((d) => [d, statusOf(path.join(sd, d))?.pid ?? 0]));
  await waitFor(() => [...pids().values()].every((p) => p > 0), 30000, 'all 60 supervisions up');
  const logdir = (n: string) => path.join(sd, n, 'log', 'main');
  await waitFor(() => writers.every((n) => linesOf(logdir(n)).length >= 5), 20000, 'every writer logged 5 lines');
  const before = pids();
  const stamps = new Map(dirs.map((d) => [d, statusOf(path.join(sd, d))!.stamp.sec]));

  // the loop blocks for good; 5 services are SIGKILLed just before, so they die while it is blocked
  fault(faultDir, 'block', early.map((n) => before.get(n)!));
  await waitFor(() => /re-executed after a blocked event loop \([0-9]+ ms, no state\): 60 running services taken back/.test(bg.stderr()), 30000, 'the cold re-exec');
  assert.equal(count(bg.stderr(), FIRED), 1, bg.stderr());
  // the deaths during the block: reaped by the new image with their real status (a SIGKILL), then restarted
  for (const n of early) {
    const f = path.join(sd, n, 'finished');
    await waitFor(() => fs.existsSync(f) && fs.readFileSync(f, 'utf8') === '256 9\n', 10000, `${n}: finish got its SIGKILL`);
    await waitFor(() => {
      const st = statusOf(path.join(sd, n));
      return st && st.pid > 0 && st.pid !== before.get(n) && !st.finishing;
    }, 10000, `${n} restarted`);
  }
  // nothing else restarted: same pids, same stamps; PID 1 is the same process, still PID 1
  const after = pids();
  for (const d of dirs) {
    if (early.includes(d)) continue;
    assert.equal(after.get(d), before.get(d), `${d} kept its pid`);
    assert.equal(statusOf(path.join(sd, d))!.stamp.sec, stamps.get(d), `${d} kept its stamp`);
  }
  assert.equal(nsPidOf(pid1), 1);
  assert.match(fs.readFileSync(`/proc/${pid1}/cmdline`, 'latin1'), /svscan/);

  // taken-back services are controlled as before; their exits after the re-exec keep their real status too
  for (const n of late) assert.equal((await tool('s6-svc', ['-t', path.join(sd, n)])).code, 0);
  for (const n of late) {
    const f = path.join(sd, n, 'finished');
    await waitFor(() => fs.existsSync(f) && fs.readFileSync(f, 'utf8') === '256 15\n', 10000, `${n}: finish got its SIGTERM`);
  }
  assert.equal((await tool('s6-svc', ['-d', path.join(sd, 's1')])).code, 0);
  await waitFor(() => statusOf(path.join(sd, 's1'))?.pid === 0, 10000, 's1 down');
  assert.equal((await tool('s6-svc', ['-r', path.join(sd, 's0')])).code, 0);
  await waitFor(() => (statusOf(path.join(sd, 's0'))?.pid ?? 0) > 0 && statusOf(path.join(sd, 's0'))!.pid !== before.get('s0'), 10000, 's0 restarted by s6-svc -r');
  // a writer restarted after the re-exec writes into the same pipe its (taken back) logger reads
  const all = writers;
  const mid = all.map((n) => Math.max(0, ...linesOf(logdir(n))));
  assert.equal((await tool('s6-svc', ['-r', path.join(sd, 'w0')])).code, 0);
  await waitFor(() => all.every((n, i) => Math.max(0, ...linesOf(logdir(n))) >= mid[i] + 10 || n === 'w0'), 20000, 'every writer logged 10 more lines');
  await waitFor(() => linesOf(logdir('w0')).indexOf(1, 1) > 0, 20000, 'w0\'s second run logged through the same logger');
  assert.equal(statusOf(path.join(sd, 'w0/log'))!.pid, before.get('w0/log'), 'w0\'s logger kept (its pipe was taken back)');

  // stop cleanly; every logdir holds 1..N, each once, no gap (w0 restarted: a second run counts from 1)
  assert.equal((await tool(process.execPath, [VIGIL, 'svscanctl', '-t', sd])).code, 0);
  await exitOf(bg, 30000);
  for (const n of writers) {
    const got = linesOf(logdir(n));
    if (n === 'w0') {
      const second = got.indexOf(1, 1);
      assert.ok(second > 0, 'w0: its second run logged');
      assertContiguous('w0 (first run)', got.slice(0, second), 5);
      assertContiguous('w0 (second run)', got.slice(second), 1);
    } else assertContiguous(n, got, 15);
  }
  assert.doesNotMatch(bg.stderr(), /not re-executing|unable to re-execute/);
});

test('a second blocked loop within the repeat window runs .s6-svscan/crash, as a second fault does', { timeout: 120000 }, async () => {
  const sd = makeTree({
    'a/run!': SLEEP_RUN,
    'b/run!': SLEEP_RUN,
    '.s6-svscan/crash!': '#!/bin/sh\necho crashed > crash-ran\nexit 0\n',
  });
  cleanup.push(() => removeTree(sd));
  const faultDir = tmpdir('vigil-fault-');
  cleanup.push(() => removeTree(faultDir));
  const bg = startBg(process.execPath, ['-r', FAULT, VIGIL, 'svscan', sd], { env: { ...process.env, VIGIL_TEST_FAULT_DIR: faultDir, VIGIL_WATCHDOG_MS: '1000' } });
  cleanup.push(() => bg.kill());
  await waitListening(sd, bg);
  await waitFor(() => (statusOf(path.join(sd, 'a'))?.pid ?? 0) > 0 && (statusOf(path.join(sd, 'b'))?.pid ?? 0) > 0, 10000, 'a and b up');
  const a = statusOf(path.join(sd, 'a'))!.pid;
  const b = statusOf(path.join(sd, 'b'))!.pid;
  // once the crash script has replaced the scanner, a and b are nobody's: kill them at the end
  cleanup.push(() => {
    for (const p of [a, b]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  fault(faultDir, 'block');
  await waitFor(() => /re-executed after a blocked event loop/.test(bg.stderr()), 30000, 'the first cold re-exec');
  assert.equal(statusOf(path.join(sd, 'a'))!.pid, a);
  // the new image's watchdog is armed once it runs: the control fifo answers
  await waitListening(sd, bg);
  fault(faultDir, 'block');
  const [code] = await exitOf(bg, 30000);
  assert.equal(code, 0);
  assert.equal(fs.readFileSync(path.join(sd, 'crash-ran'), 'utf8'), 'crashed\n');
  assert.equal(count(bg.stderr(), FIRED), 2);
  assert.match(bg.stderr(), /vigil svscan: not re-executing: the previous fault re-exec was [0-9]+ ms ago \(less than 30000 ms\)/);
  assert.equal(count(bg.stderr(), /re-executed after/g), 1);
});

test('the watchdog costs an idle supervisor no wake-up (context switches of every thread), and still fires', { timeout: 120000 }, async () => {
  const tree: Record<string, string> = {};
  for (let i = 0; i < 30; i++) tree[`s${i}/run!`] = SLEEP_RUN;
  const sd = makeTree(tree);
  cleanup.push(() => removeTree(sd));
  const faultDir = tmpdir('vigil-fault-');
  cleanup.push(() => removeTree(faultDir));
  const bg = startBg(process.execPath, ['-r', FAULT, VIGIL, 'svscan', sd], { env: { ...process.env, VIGIL_TEST_FAULT_DIR: faultDir, VIGIL_WATCHDOG_MS: '1000' } });
  cleanup.push(() => bg.kill());
  await waitListening(sd, bg);
  await waitFor(() => Object.keys(tree).every((k) => (statusOf(path.join(sd, k.split('/')[0]))?.pid ?? 0) > 0), 20000, '30 services up');
  // settle as the bench does (2 s: the watchdog thread is back asleep within 200 ms of the loop's last turn)
  await new Promise((r) => setTimeout(r, 2000));
  const threads = fs.readdirSync(`/proc/${bg.pid}/task`).length;
  const c0 = switches(bg.pid);
  await new Promise((r) => setTimeout(r, 4000));
  const c1 = switches(bg.pid);
  assert.equal(c1 - c0, 0, `idle for 4 s: ${c1 - c0} context switches over ${threads} threads`);
  // it was armed all along: block the loop, and it fires
  fault(faultDir, 'block');
  await waitFor(() => /re-executed after a blocked event loop \([0-9]+ ms, no state\): 30 running services taken back/.test(bg.stderr()), 30000, 'the cold re-exec');
  assert.equal((await tool(process.execPath, [VIGIL, 'svscanctl', '-t', sd])).code, 0);
  await exitOf(bg, 20000);
});
