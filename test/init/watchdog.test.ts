// The event-loop watchdog in vigil init --container (issue 10 item 2): a preloaded test hook
// (test/helpers/fault-inject.ts, `block`) blocks PID 1's loop for good; the native thread re-executes it with
// no state, only a note (CMD's pid, the phase, the console's fds): CMD is not started again but taken back
// (its exit code is still the container's, also when it dies during the block: 128+9), the services are
// taken back from supervise/vigil-run (a service SIGKILLed during the block is reaped with its real status),
// PID 1 stays PID 1; a second block within the repeat window ends the container with 111, as a fault does.
// Machine mode (forced, in a namespace) takes the same path: the services stay, poweroff still works.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit, VIGIL } from '../helpers/init-ns';
import { SLEEP_RUN } from '../helpers/scandir';
import { waitFor, statusOf } from '../helpers/wait';
import { tool } from '../helpers/svscan';
import { assertContiguous, caughtLines, faultDirs as faultAndCmdDirs, holdingCmd as cmdIn, machineModeCase, releaseCmd, FAULT_PRELOAD as FAULT, injectFault as fault, lineNumbers as numbers, logdirLines, nsPidOf, WRITER } from '../helpers/reexec';

const COLD = /vigil init: re-executed after a blocked event loop \([0-9]+ ms, no state\): taking back the running services and CMD \(pid ([0-9]+)\)/;
const FIRED = /vigil init: fatal: the event loop has not turned for [0-9]+ ms \([0-9]+ ms of it waiting for a CPU; the watchdog allows 1000 ms\)/;

test('container: a blocked loop re-execs PID 1 cold; CMD taken back, not restarted, its code is the container\'s', { timeout: 120000 }, async (t) => {
  const [faults, d] = faultAndCmdDirs(t);
  const b = await bootInit(t, {
    tree: {
      'service/w/run!': WRITER,
      'service/w/log/run!': '#!/bin/sh\nexec s6-log ./main\n',
      'service/u/run!': WRITER,
      'service/k/run!': SLEEP_RUN,
      'service/k/finish!': '#!/bin/sh\necho "$1 $2" > finished\n',
      'service/s/run!': SLEEP_RUN,
    },
    nodeArgs: ['-r', FAULT],
    env: { VIGIL_TEST_FAULT_DIR: faults, VIGIL_WATCHDOG_MS: '1000' },
    cmd: cmdIn(d),
  });
  const sd = path.join(b.rundir, 'service');
  const names = ['w', 'w/log', 'u', 'k', 's'];
  await waitFor(() => fs.existsSync(path.join(d, 'cmdpid')) && names.every((n) => (statusOf(path.join(sd, n))?.pid ?? 0) > 0), 20000, 'CMD and every service up');
  const cmdpid = Number(fs.readFileSync(path.join(d, 'cmdpid'), 'utf8').trim());
  const logs = {
    w: () => numbers(logdirLines(path.join(sd, 'w', 'log', 'main'))),
    u: () => numbers(caughtLines(b)),
  };
  await waitFor(() => Object.values(logs).every((f) => f().length >= 5), 20000, 'every writer logged 5 lines');
  const before = new Map(names.map((n) => [n, statusOf(path.join(sd, n))!.pid]));

  fault(faults, 'block', [before.get('k')!]);
  const m = await waitFor(() => caughtLines(b).map((l) => COLD.exec(l)).find((x) => x), 30000, 'the cold re-exec');
  assert.ok(caughtLines(b).some((l) => FIRED.test(l)), caughtLines(b).join('\n'));
  // CMD was taken back (the note carried its pid), not started again: the same process, the same pid file
  assert.equal(nsPidOf(cmdpid), Number(m![1]));
  assert.equal(Number(fs.readFileSync(path.join(d, 'cmdpid'), 'utf8').trim()), cmdpid, 'CMD not started again');
  // k died during the block: reaped by the new image with its real status, restarted
  await waitFor(() => fs.existsSync(path.join(sd, 'k', 'finished')) && fs.readFileSync(path.join(sd, 'k', 'finished'), 'utf8') === '256 9\n', 10000, 'k: finish after its SIGKILL');
  await waitFor(() => {
    const s = statusOf(path.join(sd, 'k'));
    return s && s.pid > 0 && s.pid !== before.get('k') && !s.finishing;
  }, 10000, 'k restarted');
  for (const n of names) if (n !== 'k') assert.equal(statusOf(path.join(sd, n))!.pid, before.get(n), `${n} kept its pid`);
  assert.equal(nsPidOf(b.pid1), 1);
  // the taken-back tree is controlled as before
  assert.equal((await tool('s6-svc', ['-r', path.join(sd, 's')])).code, 0);
  await waitFor(() => (statusOf(path.join(sd, 's'))?.pid ?? 0) > 0 && statusOf(path.join(sd, 's'))!.pid !== before.get('s'), 10000, 's restarted by s6-svc -r');
  const mid = Object.values(logs).map((f) => Math.max(0, ...f()));
  await waitFor(() => Object.values(logs).every((f, i) => Math.max(0, ...f()) >= mid[i] + 10), 20000, 'every writer logged 10 more lines');

  releaseCmd(d, 42);
  const end = await b.exited(20000);
  assert.equal(end.code, 42, b.stderr());
  assertContiguous('w (s6-log)', logs.w(), 15);
  assertContiguous('u (catch-all)', logs.u(), 15);
  assert.ok(!caughtLines(b).some((l) => /not re-executing|unable to re-execute|unable to resume/.test(l)), caughtLines(b).join('\n'));
});

test('container: CMD SIGKILLed while the loop is blocked: the cold image reaps it and exits 137', { timeout: 120000 }, async (t) => {
  const [faults, d] = faultAndCmdDirs(t);
  const b = await bootInit(t, { tree: { 'service/s/run!': SLEEP_RUN }, nodeArgs: ['-r', FAULT], env: { VIGIL_TEST_FAULT_DIR: faults, VIGIL_WATCHDOG_MS: '1000' }, cmd: cmdIn(d) });
  const cmdpid = await waitFor(() => Number(fs.readFileSync(path.join(d, 'cmdpid'), 'utf8').trim()), 20000, 'CMD started');
  await waitFor(() => (statusOf(path.join(b.rundir, 'service', 's'))?.pid ?? 0) > 0, 10000, 's up');
  fault(faults, 'block', [cmdpid]);
  const end = await b.exited(30000);
  assert.equal(end.code, 137, b.stderr());
  assert.ok(caughtLines(b).some((l) => COLD.test(l)), `${caughtLines(b).join('\n')}\n--- stderr ---\n${b.stderr()}`);
});

test('container: a second blocked loop within the repeat window ends the container with 111, as a fault does', { timeout: 120000 }, async (t) => {
  const [faults, d] = faultAndCmdDirs(t);
  const b = await bootInit(t, { tree: { 'service/s/run!': SLEEP_RUN }, nodeArgs: ['-r', FAULT], env: { VIGIL_TEST_FAULT_DIR: faults, VIGIL_WATCHDOG_MS: '1000' }, cmd: cmdIn(d) });
  await waitFor(() => fs.existsSync(path.join(d, 'cmdpid')) && (statusOf(path.join(b.rundir, 'service', 's'))?.pid ?? 0) > 0, 20000, 'CMD and s up');
  fault(faults, 'block');
  await waitFor(() => caughtLines(b).some((l) => COLD.test(l)), 30000, 'the first cold re-exec');
  fault(faults, 'block');
  const end = await b.exited(30000);
  assert.equal(end.code, 111);
  assert.match(b.stdout() + b.stderr() + caughtLines(b).join('\n'), /not re-executing: the previous fault re-exec was [0-9]+ ms ago/);
});

test('machine mode (forced, in a namespace): a blocked loop re-execs PID 1 cold, the services stay, poweroff still works', { timeout: 120000 }, async (t) => {
  await machineModeCase(t, 'block', /re-executed after a blocked event loop/, { VIGIL_WATCHDOG_MS: '1000' });
});
