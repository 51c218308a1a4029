// vigil init --container re-executes itself instead of dying (issue 10 item 2): an injected fault (a preloaded
// test module, test/helpers/fault-inject.ts) in PID 1 of a PID namespace with CMD, services logged by s6-log,
// in the supervisor (log-dir) and by the catch-all logger: nothing restarts, no line is lost, a service
// SIGKILLed during the exec is reaped and restarted, CMD stays CMD and its exit code is still the container's
// (also when CMD itself dies during the exec: 128+9); `vigil reexec` does it on request; a second fault within
// the repeat window ends the container as a fault did before (111).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit, VIGIL } from '../helpers/init-ns';
import { SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { waitFor, statusOf } from '../helpers/wait';
import { spawnSync } from 'node:child_process';
import { tool } from '../helpers/svscan';
import {
  assertContiguous, FAULT_PRELOAD as FAULT, faultDirs as dirs, holdingCmd as cmdIn, injectFault as fault, lineNumbers as numbers, logdirLines, nsPidOf, releaseCmd as release, WRITER,
} from '../helpers/reexec';

/** the catch-all log, archives included (a current the previous image could not close cleanly is archived) */
const caught = (b: { rundir: string }): string[] => logdirLines(path.join(b.rundir, 'uncaught-logs'));

test('container: a fault and a vigil reexec keep CMD and every service; lines all logged; CMD\'s code is the container\'s', { timeout: 120000 }, async (t) => {
  const [faults, d] = dirs(t);
  const b = await bootInit(t, {
    tree: {
      'service/w/run!': WRITER,
      'service/w/log/run!': '#!/bin/sh\nexec s6-log ./main\n',
      'service/i/run!': WRITER,
      'service/i/log-dir': 'logdir\n',
      'service/u/run!': WRITER,
      'service/k/run!': SLEEP_RUN,
      'service/k/finish!': '#!/bin/sh\necho "$1 $2" > finished\n',
      'service/s/run!': SLEEP_RUN,
    },
    nodeArgs: ['-r', FAULT],
    env: { VIGIL_TEST_FAULT_DIR: faults },
    cmd: cmdIn(d),
  });
  const sd = path.join(b.rundir, 'service');
  const names = ['w', 'w/log', 'i', 'u', 'k', 's'];
  await waitFor(() => fs.existsSync(path.join(d, 'cmdpid')) && names.every((n) => (statusOf(path.join(sd, n))?.pid ?? 0) > 0), 20000, 'CMD and every service up');
  const logs = {
    w: () => numbers(logdirLines(path.join(sd, 'w', 'log', 'main'))),
    i: () => numbers(logdirLines(path.join(sd, 'i', 'logdir'))),
    u: () => numbers(caught(b)),
  };
  await waitFor(() => Object.values(logs).every((f) => f().length >= 5), 20000, 'every writer logged 5 lines');
  const before = new Map(names.map((n) => [n, statusOf(path.join(sd, n))!.pid]));

  fault(faults, 'throw', [before.get('k')!]);
  await waitFor(() => caught(b).some((l) => /re-executed after an internal fault: [0-9]+ supervisions and CMD \(pid [0-9]+\) carried over/.test(l)), 15000, 're-exec after the fault');
  await waitFor(() => fs.existsSync(path.join(sd, 'k', 'finished')) && fs.readFileSync(path.join(sd, 'k', 'finished'), 'utf8') === '256 9\n', 10000, 'k: finish after its SIGKILL');
  await waitFor(() => {
    const s = statusOf(path.join(sd, 'k'));
    return s && s.pid > 0 && s.pid !== before.get('k') && !s.finishing;
  }, 10000, 'k restarted');
  for (const n of names) if (n !== 'k') assert.equal(statusOf(path.join(sd, n))!.pid, before.get(n), `${n} kept its pid`);
  assert.equal(nsPidOf(b.pid1), 1);

  const mid = Object.values(logs).map((f) => Math.max(0, ...f()));
  const r = await tool(process.execPath, [VIGIL, 'reexec', sd]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => caught(b).some((l) => /re-executed on request: [0-9]+ supervisions and CMD \(pid [0-9]+\) carried over/.test(l)), 15000, 're-exec on request');
  for (const n of names) if (n !== 'k') assert.equal(statusOf(path.join(sd, n))!.pid, before.get(n), `${n} kept its pid across vigil reexec`);
  await waitFor(() => Object.values(logs).every((f, i) => Math.max(0, ...f()) >= mid[i] + 10), 20000, 'every writer logged 10 more lines');

  release(d, 42);
  const end = await b.exited(20000);
  assert.equal(end.code, 42, b.stderr());
  assertContiguous('w (s6-log)', logs.w(), 15);
  assertContiguous('i (log-dir)', logs.i(), 15);
  assertContiguous('u (catch-all)', logs.u(), 15);
  // handed over closed cleanly: appended to, not archived as unfinished at each re-exec
  for (const d of [path.join(b.rundir, 'uncaught-logs'), path.join(sd, 'i', 'logdir')]) {
    assert.deepEqual(fs.readdirSync(d).filter((f) => f.startsWith('@')), [], `${d}: no archive`);
  }
  assert.ok(!caught(b).some((l) => /not re-executing|unable to re-execute/.test(l)), caught(b).join('\n'));
});

test('container: CMD SIGKILLed during the re-exec: the new image reaps it and exits 137', { timeout: 60000 }, async (t) => {
  const [faults, d] = dirs(t);
  const b = await bootInit(t, { tree: { 'service/s/run!': SLEEP_RUN }, nodeArgs: ['-r', FAULT], env: { VIGIL_TEST_FAULT_DIR: faults }, cmd: cmdIn(d) });
  const cmdpid = await waitFor(() => Number(fs.readFileSync(path.join(d, 'cmdpid'), 'utf8').trim()), 20000, 'CMD started');
  await waitFor(() => (statusOf(path.join(b.rundir, 'service', 's'))?.pid ?? 0) > 0, 10000, 's up');
  fault(faults, 'throw', [cmdpid]);
  const end = await b.exited(20000);
  assert.equal(end.code, 137, b.stderr());
  assert.ok(caught(b).some((l) => /re-executed after an internal fault/.test(l)), `${caught(b).join('\n')}\n--- stdout ---\n${b.stdout()}\n--- stderr ---\n${b.stderr()}`);
});

test('container: a second fault within the repeat window ends the container with 111, as before', { timeout: 60000 }, async (t) => {
  const [faults, d] = dirs(t);
  const b = await bootInit(t, { tree: { 'service/s/run!': SLEEP_RUN }, nodeArgs: ['-r', FAULT], env: { VIGIL_TEST_FAULT_DIR: faults }, cmd: cmdIn(d) });
  await waitFor(() => fs.existsSync(path.join(d, 'cmdpid')) && (statusOf(path.join(b.rundir, 'service', 's'))?.pid ?? 0) > 0, 20000, 'CMD and s up');
  fault(faults, 'reject');
  await waitFor(() => caught(b).some((l) => /re-executed after an internal fault/.test(l)), 15000, 're-exec after the rejection');
  fault(faults, 'throw');
  const end = await b.exited(20000);
  assert.equal(end.code, 111);
  assert.match(b.stdout() + b.stderr() + caught(b).join('\n'), /not re-executing: the previous fault re-exec was [0-9]+ ms ago/);
});

test('machine mode (forced, in a namespace): a fault re-execs PID 1, the services stay, poweroff still works', { timeout: 60000 }, async (t) => {
  const [faults] = dirs(t);
  const con = path.join(tmpdir('vigil-con-'), 'console');
  fs.writeFileSync(con, '');
  t.after(() => fs.rmSync(path.dirname(con), { recursive: true, force: true }));
  const b = await bootInit(t, {
    tree: {
      'rc.shutdown.final!': '#!/bin/sh\necho "final $1" >> /dev/console\n',
      'service/s/run!': SLEEP_RUN,
      'service/k/run!': SLEEP_RUN,
      'service/k/finish!': '#!/bin/sh\necho "$1 $2" > finished\n',
    },
    args: ['--machine', '--grace', '2000'],
    fakeConsole: con,
    nodeArgs: ['-r', FAULT],
    env: { VIGIL_TEST_FAULT_DIR: faults },
  });
  // the rundir is a tmpfs inside the namespace: seen through PID 1's root
  const sd = `/proc/${b.pid1}/root${b.rundir}/service`;
  const nsLog = `/proc/${b.pid1}/root${b.rundir}/uncaught-logs/current`;
  await waitFor(() => ['s', 'k'].every((n) => (statusOf(path.join(sd, n))?.pid ?? 0) > 0), 20000, 's and k up');
  const s0 = statusOf(path.join(sd, 's'))!.pid;
  fault(faults, 'throw', [statusOf(path.join(sd, 'k'))!.pid]);
  await waitFor(() => fs.readFileSync(nsLog, 'utf8').includes('re-executed after an internal fault'), 15000, `re-exec after the fault\n${b.stderr()}`);
  await waitFor(() => fs.existsSync(path.join(sd, 'k', 'finished')), 10000, 'k: finish after its SIGKILL');
  assert.equal(fs.readFileSync(path.join(sd, 'k', 'finished'), 'utf8'), '256 9\n');
  assert.equal(statusOf(path.join(sd, 's'))!.pid, s0);
  assert.equal(nsPidOf(b.pid1), 1);
  const r0 = spawnSync(process.execPath, [VIGIL, 'poweroff', '--rundir', `/proc/${b.pid1}/root${b.rundir}`], { encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  const r = await b.exited(15000);
  assert.ok(r.signal === 'SIGINT' || r.code === 130, `ended with ${JSON.stringify(r)}\n${b.stderr()}`);
  assert.match(fs.readFileSync(con, 'utf8'), /final poweroff/);
});
