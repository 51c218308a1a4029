// vigil svscan re-executes itself instead of dying (issue 10 item 2): an injected fault (a preloaded test
// module, test/helpers/fault-inject.ts) in a tree of 100 services — loggers as processes (s6-log, vigil log)
// and in the supervisor (log-dir) — as PID 1 of a PID namespace: no service or logger restarts, no log line
// is lost or doubled, services SIGKILLed while the image is being replaced are reaped and restarted by the new
// one (finish gets "256 9"), PID 1 stays PID 1; `vigil reexec` does the same on request; a second fault within
// the repeat window falls back to the crash script, as a fault did before.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { startBg, startVigilSvscan, tool, VIGIL, waitListening, Bg } from '../helpers/svscan';
import { killAll, procsIn } from '../helpers/adopt';
import { readRunRecord } from '../../src/formats/runrecord';
import { waitFor, statusOf } from '../helpers/wait';
import { cleanup, exitOf } from '../helpers/pid1ns';
import { assertContiguous, FAULT_PRELOAD as FAULT, injectFault as fault, lineNumbers, logdirLines, nsPidOf, WRITER } from '../helpers/reexec';

const linesOf = (logdir: string): number[] => lineNumbers(logdirLines(logdir));

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test('100 services as PID 1: a fault and a vigil reexec restart nothing, lose no line, handle exits during the exec', { timeout: 180000 }, async () => {
  const tree: Record<string, string> = {};
  const logged: string[] = [];
  const inproc: string[] = [];
  const victims: string[] = [];
  const idle: string[] = [];
  for (let i = 0; i < 20; i++) {
    const n = `w${i}`;
    tree[`${n}/run!`] = WRITER;
    // 17 loggers are s6-log, 3 are vigil log
    tree[`${n}/log/run!`] = i < 17 ? '#!/bin/sh\nexec s6-log ./main\n' : `#!/bin/sh\nexec ${process.execPath} ${VIGIL} log ./main\n`;
    logged.push(n);
  }
  for (let i = 0; i < 20; i++) {
    const n = `i${i}`;
    tree[`${n}/run!`] = WRITER;
    tree[`${n}/log-dir`] = 'logdir\n';
    inproc.push(n);
  }
  for (let i = 0; i < 10; i++) {
    const n = `k${i}`;
    tree[`${n}/run!`] = SLEEP_RUN;
    tree[`${n}/finish!`] = '#!/bin/sh\necho "$1 $2" > finished\n';
    victims.push(n);
  }
  for (let i = 0; i < 50; i++) {
    tree[`s${i}/run!`] = SLEEP_RUN;
    idle.push(`s${i}`);
  }
  const sd = makeTree(tree);
  cleanup.push(() => removeTree(sd));
  const faultDir = tmpdir('vigil-fault-');
  cleanup.push(() => removeTree(faultDir));
  const bg: Bg = startBg('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-r', FAULT, VIGIL, 'svscan', sd], {
    env: { ...process.env, VIGIL_TEST_FAULT_DIR: faultDir },
  });
  cleanup.push(() => bg.kill());
  const pid1 = await waitFor(() => {
    const kids = fs.readFileSync(`/proc/${bg.pid}/task/${bg.pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(' ')[0]) : 0;
  }, 5000, 'PID 1 of the namespace');
  await waitListening(sd, bg, 10000);
  const dirs = [...Object.keys(tree).map((k) => k.split('/')[0]), ...logged.map((n) => `${n}/log`)];
  const uniq = [...new Set(dirs)];
  assert.equal(uniq.length, 120);
  const pids = (): Map<string, number> => new Map(uniq.map((d) => [d, statusOf(path.join(sd, d))?.pid ?? 0]));
  await waitFor(() => [...pids().values()].every((p) => p > 0), 30000, 'all 120 supervisions up');
  const logdirOf = (n: string) => (logged.includes(n) ? path.join(sd, n, 'log', 'main') : path.join(sd, n, 'logdir'));
  const writers = [...logged, ...inproc];
  await waitFor(() => writers.every((n) => linesOf(logdirOf(n)).length >= 5), 20000, 'every writer logged 5 lines');
  const before = pids();
  const stamps = new Map(uniq.map((d) => [d, statusOf(path.join(sd, d))!.stamp.sec]));

  // 1. a fault, with the 10 victims SIGKILLed while the image is replaced
  const killed = victims.map((n) => before.get(n)!);
  fault(faultDir, 'throw', killed);
  await waitFor(() => /re-executed after an internal fault: 120 supervisions carried over/.test(bg.stderr()), 15000, 're-exec after the fault');
  assert.match(bg.stderr(), /vigil svscan: fatal: internal error \(uncaught exception\): Error: injected fault \(test\)/);
  // the victims' deaths were reaped by the new image and acted on: finish ran, then a restart
  for (const n of victims) {
    const f = path.join(sd, n, 'finished');
    await waitFor(() => fs.existsSync(f) && fs.readFileSync(f, 'utf8') === '256 9\n', 10000, `${n}: finish after its SIGKILL`);
    const s = await waitFor(() => {
      const st = statusOf(path.join(sd, n));
      return st && st.pid > 0 && st.pid !== before.get(n) && !st.finishing ? st : null;
    }, 10000, `${n} restarted`);
    assert.ok(s.wantUp);
  }
  // nothing else restarted: same pids, same stamps; PID 1 is the same process, still PID 1
  const after1 = pids();
  for (const d of uniq) {
    if (victims.includes(d)) continue;
    assert.equal(after1.get(d), before.get(d), `${d} kept its pid`);
    assert.equal(statusOf(path.join(sd, d))!.stamp.sec, stamps.get(d), `${d} kept its stamp`);
  }
  assert.equal(nsPidOf(pid1), 1);
  assert.match(fs.readFileSync(`/proc/${pid1}/cmdline`, 'latin1'), /svscan/);

  // 2. on request (as after an upgrade): the same, and it does not count as a fault
  const mid = writers.map((n) => Math.max(0, ...linesOf(logdirOf(n))));
  const r = await tool(process.execPath, [VIGIL, 'reexec', sd]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => /re-executed on request: 120 supervisions carried over/.test(bg.stderr()), 15000, 're-exec on request');
  const after2 = pids();
  for (const d of uniq) assert.equal(after2.get(d), after1.get(d), `${d} kept its pid across vigil reexec`);
  assert.equal(nsPidOf(pid1), 1);
  // the services are still supervised by the new image: a command works
  assert.equal((await tool('s6-svc', ['-r', path.join(sd, 's0')])).code, 0);
  await waitFor(() => (statusOf(path.join(sd, 's0'))?.pid ?? 0) > 0 && statusOf(path.join(sd, 's0'))!.pid !== after2.get('s0'), 10000, 's0 restarted by s6-svc -r');
  // lines kept flowing through both re-execs
  await waitFor(() => writers.every((n, i) => Math.max(0, ...linesOf(logdirOf(n))) >= mid[i] + 10), 20000, 'every writer logged 10 more lines');

  // 3. stop cleanly; every logdir holds 1..N, each once, no gap
  assert.equal((await tool(process.execPath, [VIGIL, 'svscanctl', '-t', sd])).code, 0);
  await exitOf(bg, 30000);
  for (const n of writers) assertContiguous(n, linesOf(logdirOf(n)), 15);
  // the in-supervisor logdirs were handed over closed cleanly: appended to, not archived as unfinished
  for (const n of inproc) assert.deepEqual(fs.readdirSync(logdirOf(n)).filter((f) => f.startsWith('@')), [], `${n}: no archive`);
  assert.equal(count(bg.stderr(), /re-executed/g), 2);
  assert.doesNotMatch(bg.stderr(), /not re-executing|unable to re-execute/);
});

test('a second fault within the repeat window runs .s6-svscan/crash (an unhandled rejection first)', { timeout: 60000 }, async () => {
  const sd = makeTree({
    'a/run!': SLEEP_RUN,
    'b/run!': SLEEP_RUN,
    '.s6-svscan/crash!': '#!/bin/sh\necho crashed > crash-ran\nexit 0\n',
  });
  cleanup.push(() => removeTree(sd));
  const faultDir = tmpdir('vigil-fault-');
  cleanup.push(() => removeTree(faultDir));
  const bg = startBg(process.execPath, ['-r', FAULT, VIGIL, 'svscan', sd], { env: { ...process.env, VIGIL_TEST_FAULT_DIR: faultDir } });
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
  fault(faultDir, 'reject');
  await waitFor(() => /re-executed after an internal fault: 2 supervisions carried over/.test(bg.stderr()), 15000, 're-exec after the rejection');
  assert.match(bg.stderr(), /internal error \(unhandled rejection\): Error: injected rejection \(test\)/);
  assert.equal(statusOf(path.join(sd, 'a'))!.pid, a);
  fault(faultDir, 'throw');
  const [code] = await exitOf(bg, 15000);
  assert.equal(code, 0);
  assert.equal(fs.readFileSync(path.join(sd, 'crash-ran'), 'utf8'), 'crashed\n');
  assert.match(bg.stderr(), /not re-executing: the previous fault re-exec was [0-9]+ ms ago \(less than 30000 ms\)/);
  assert.equal(count(bg.stderr(), /re-executed/g), 1);
});

test('a run adopted from a SIGKILLed scanner stays watched across a re-exec (its pidfd is carried): its exit is seen', { timeout: 60000 }, async () => {
  const sd = makeTree({ 'a/run!': SLEEP_RUN, 'b/run!': SLEEP_RUN });
  cleanup.push(() => {
    killAll(procsIn(sd));
    removeTree(sd);
  });
  const first = await startVigilSvscan(sd);
  await waitFor(() => (statusOf(path.join(sd, 'a'))?.pid ?? 0) > 0 && (statusOf(path.join(sd, 'b'))?.pid ?? 0) > 0, 10000, 'a and b up');
  const a0 = statusOf(path.join(sd, 'a'))!.pid;
  const b0 = statusOf(path.join(sd, 'b'))!.pid;
  process.kill(first.pid, 'SIGKILL');
  await first.exited;
  const second = await startVigilSvscan(sd);
  cleanup.push(() => second.kill());
  await waitFor(() => ['a', 'b'].every((n) => readRunRecord(path.join(sd, n))?.kind === 'adopted'), 10000, 'a and b adopted');
  const r = await tool(process.execPath, [VIGIL, 'reexec', sd]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => /re-executed on request: 2 supervisions carried over/.test(second.stderr()), 15000, 're-exec on request');
  assert.equal(statusOf(path.join(sd, 'a'))!.pid, a0);
  // the adopted a dies: the new image hears it through the carried pidfd, and starts a again (once)
  process.kill(a0, 'SIGKILL');
  await waitFor(() => {
    const st = statusOf(path.join(sd, 'a'));
    return st && st.pid > 0 && st.pid !== a0 && !st.finishing;
  }, 10000, 'a restarted by the re-executed scanner');
  assert.equal(statusOf(path.join(sd, 'b'))!.pid, b0);
  assert.equal(procsIn(sd).length, 2, 'one process per service');
  assert.doesNotMatch(second.stderr(), /unable to re-execute|not re-executing/);
});
