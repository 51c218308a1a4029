// vigil init re-executes itself with its service manager (issue 10 item 2): PID 1 of a PID namespace with an
// rc.d tree (longruns, oneshots, a bundle) and CMD, a fault injected by the preloaded test module
// (test/helpers/fault-inject.ts). After the re-exec: the same longrun pids (0 restarts), every oneshot ran its
// `up` once (each appends a line), `vigil rc` still answers (list, status, a new change), CMD's exit code is
// still the container's and the managed services still go down in reverse order. A fault while `default` is
// coming up (a oneshot running, the longrun after it waiting): the new image reaps that oneshot and finishes
// the transition. A fault while a `vigil rc change` client waits on a oneshot with a timeout-up: the client
// gets its answer from the new image when the handed-over deadline fires. A second fault within the repeat
// window: exit 111, as before. --external-logger: the logger keeps its pid and every line.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { bootInit, orderLines, VIGIL } from '../helpers/init-ns';
import { waitFor, statusOf } from '../helpers/wait';
import { tool } from '../helpers/svscan';
import { native } from '../../src/sys/native';
import {
  assertContiguous, FAULT_PRELOAD as FAULT, faultDirs, holdingCmd, injectFault, lineNumbers, logdirLines, nsPidOf, releaseCmd, WRITER,
} from '../helpers/reexec';

const caught = (rundir: string): string[] => logdirLines(path.join(rundir, 'uncaught-logs'));
const count = (lines: string[], l: string): number => lines.filter((x) => x === l).length;
const rc = (rundir: string, ...args: string[]) => tool(process.execPath, [VIGIL, 'rc', '-l', path.join(rundir, 's6-rc'), ...args], 20000);

/** setup (oneshot) ← web (longrun) ← default; db (longrun) in default; extra (oneshot) not in default */
function tree(extra: Record<string, string> = {}): Record<string, string> {
  const note = (what: string): string => `sh -c "echo ${what} >> $VIGIL_RUNDIR/order"\n`;
  return {
    'rc.d/setup/type': 'oneshot\n',
    'rc.d/setup/up': note('setup-up'),
    'rc.d/setup/down': note('setup-down'),
    'rc.d/web/type': 'longrun\n',
    'rc.d/web/dependencies.d/setup': '',
    'rc.d/web/run!': '#!/bin/sh\necho web-up >> "$VIGIL_RUNDIR/order"\nexec sleep 100000\n',
    'rc.d/web/finish!': '#!/bin/sh\necho web-down >> "$VIGIL_RUNDIR/order"\n',
    'rc.d/db/type': 'longrun\n',
    'rc.d/db/run!': '#!/bin/sh\nexec sleep 100000\n',
    'rc.d/extra/type': 'oneshot\n',
    'rc.d/extra/up': note('extra-up'),
    'rc.d/default/type': 'bundle\n',
    'rc.d/default/contents.d/web': '',
    'rc.d/default/contents.d/db': '',
    ...extra,
  };
}

const reexecuted = (rundir: string, why = 'after an internal fault'): boolean => caught(rundir).some((l) => l.includes(`re-executed ${why}`));

test('rc.d: a fault and a vigil reexec keep every longrun, run no oneshot twice; vigil rc answers; CMD\'s code is the container\'s', { timeout: 120000 }, async (t) => {
  const [faults, d] = faultDirs(t);
  const b = await bootInit(t, { tree: tree(), nodeArgs: ['-r', FAULT], env: { VIGIL_TEST_FAULT_DIR: faults }, cmd: holdingCmd(d) });
  const sd = path.join(b.rundir, 'service');
  await waitFor(() => fs.existsSync(path.join(d, 'cmdpid')) && ['web', 'db'].every((n) => (statusOf(path.join(sd, n))?.pid ?? 0) > 0), 20000, 'CMD, web and db up');
  const before = { web: statusOf(path.join(sd, 'web'))!.pid, db: statusOf(path.join(sd, 'db'))!.pid };

  injectFault(faults, 'throw');
  await waitFor(() => reexecuted(b.rundir), 15000, 're-exec after the fault');
  assert.ok(caught(b.rundir).some((l) => /re-executed after an internal fault: [0-9]+ supervisions and CMD \(pid [0-9]+\), the service manager carried over/.test(l)), caught(b.rundir).join('\n'));
  const list = await rc(b.rundir, '-a', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n').sort(), ['db', 'setup', 'web']);
  const st = await rc(b.rundir, 'status', '--json');
  assert.equal(st.code, 0, st.stderr);
  const rows = JSON.parse(st.stdout).services as Array<{ name: string; state: string; supervise: { pid: number } | null }>;
  const row = (n: string) => rows.find((r) => r.name === n)!;
  assert.deepEqual(['setup', 'web', 'db', 'extra'].map((n) => row(n).state), ['up', 'up', 'up', 'down']);
  assert.equal(row('web').supervise!.pid, before.web);
  // a new transition after the re-exec, then vigil reexec, then one more
  const ch = await rc(b.rundir, '-u', 'change', 'extra');
  assert.equal(ch.code, 0, ch.stderr);
  const r = await tool(process.execPath, [VIGIL, 'reexec', sd]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => reexecuted(b.rundir, 'on request'), 15000, 're-exec on request');
  const ch2 = await rc(b.rundir, '-u', 'change', 'extra', 'default');
  assert.equal(ch2.code, 0, ch2.stderr);
  assert.equal(statusOf(path.join(sd, 'web'))!.pid, before.web, 'web kept its pid');
  assert.equal(statusOf(path.join(sd, 'db'))!.pid, before.db, 'db kept its pid');
  assert.equal(nsPidOf(b.pid1), 1);

  releaseCmd(d, 42);
  const end = await b.exited(20000);
  assert.equal(end.code, 42, b.stderr());
  const order = orderLines(b.rundir);
  assert.equal(count(order, 'setup-up'), 1, order.join('\n'));
  assert.equal(count(order, 'web-up'), 1, order.join('\n'));
  assert.equal(count(order, 'extra-up'), 1, order.join('\n'));
  // stage 3 still brings the managed services down in reverse order, once
  assert.deepEqual(order.slice(-2), ['web-down', 'setup-down']);
  assert.ok(!caught(b.rundir).some((l) => /not re-executing|unable to re-execute|internal error/.test(l)), caught(b.rundir).join('\n'));
});

test('rc.d: a fault while default comes up (a oneshot running): the new image reaps it and finishes the transition; a second fault within the window: 111', { timeout: 120000 }, async (t) => {
  const [faults, d] = faultDirs(t);
  const gate = path.join(d, 'gate');
  native().mkfifo(gate, 0o600);
  const b = await bootInit(t, {
    tree: tree({
      // setup holds default's transition until the test writes to the gate, with a handed-over timeout-up
      'rc.d/setup/up': `sh -c "echo setup-start >> $VIGIL_RUNDIR/order; read x < ${gate}; echo setup-up >> $VIGIL_RUNDIR/order"\n`,
      'rc.d/setup/timeout-up': '60000\n',
    }),
    nodeArgs: ['-r', FAULT],
    env: { VIGIL_TEST_FAULT_DIR: faults },
    cmd: ['sh', '-c', 'echo cmd-ran >> "$VIGIL_RUNDIR/order"; exec sleep 100000'],
  });
  await waitFor(() => orderLines(b.rundir).includes('setup-start'), 20000, 'setup running');
  injectFault(faults, 'reject');
  await waitFor(() => reexecuted(b.rundir), 15000, 're-exec after the fault');
  assert.ok(caught(b.rundir).some((l) => /the service manager with a transition in flight \(1 oneshot running\) carried over/.test(l)), caught(b.rundir).join('\n'));
  assert.ok(!orderLines(b.rundir).includes('cmd-ran'), 'CMD waits for default');
  const st = await rc(b.rundir, 'status', '--json');
  assert.equal(st.code, 0, st.stderr);
  assert.equal((JSON.parse(st.stdout).services as Array<{ name: string; state: string }>).find((r) => r.name === 'setup')!.state, 'starting');
  const fd = fs.openSync(gate, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.writeSync(fd, 'go\n');
  fs.closeSync(fd);
  await waitFor(() => orderLines(b.rundir).includes('cmd-ran'), 20000, 'default up, then CMD');
  const order = orderLines(b.rundir);
  assert.deepEqual(order.slice(0, 4), ['setup-start', 'setup-up', 'web-up', 'cmd-ran'], order.join('\n'));
  const list = await rc(b.rundir, '-a', 'list');
  assert.deepEqual(list.stdout.trim().split('\n').sort(), ['db', 'setup', 'web']);

  injectFault(faults, 'throw');
  const end = await b.exited(20000);
  assert.equal(end.code, 111);
  assert.match(b.stdout() + b.stderr() + caught(b.rundir).join('\n'), /not re-executing: the previous fault re-exec was [0-9]+ ms ago/);
  assert.equal(count(orderLines(b.rundir), 'setup-start'), 1, 'setup\'s up ran once');
});

test('rc.d: a fault while a vigil rc client waits on a oneshot: the new image answers it when the handed-over timeout-up fires', { timeout: 120000 }, async (t) => {
  const [faults] = faultDirs(t);
  const b = await bootInit(t, {
    tree: tree({
      'rc.d/hang/type': 'oneshot\n',
      'rc.d/hang/up': 'sh -c "echo hang-start >> $VIGIL_RUNDIR/order; exec sleep 100000"\n',
      'rc.d/hang/timeout-up': '4000\n',
    }),
    nodeArgs: ['-r', FAULT],
    env: { VIGIL_TEST_FAULT_DIR: faults },
    cmd: ['sleep', '100000'],
  });
  const sd = path.join(b.rundir, 'service');
  await waitFor(() => (statusOf(path.join(sd, 'web'))?.pid ?? 0) > 0, 20000, 'web up');
  const client = spawn(process.execPath, [VIGIL, 'rc', '-l', path.join(b.rundir, 's6-rc'), '-u', 'change', 'hang'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  client.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const t0 = Date.now();
  const exited = new Promise<number | null>((resolve) => client.on('exit', (code) => resolve(code)));
  t.after(() => client.kill('SIGKILL'));
  await waitFor(() => orderLines(b.rundir).includes('hang-start'), 10000, 'hang running');
  injectFault(faults, 'throw');
  await waitFor(() => reexecuted(b.rundir), 15000, 're-exec after the fault');
  const code = await exited;
  assert.equal(code, 1, err);
  assert.match(err, /vigil rc: warning: unable to start service hang: timed out after 4000 ms \(timeout-up\); sent SIGTERM to its process group/);
  assert.ok(Date.now() - t0 >= 3500, `answered after ${Date.now() - t0} ms (the deadline is 4000 ms after the start, not after the re-exec)`);
  assert.ok(Date.now() - t0 < 9000, `answered after ${Date.now() - t0} ms`);
  assert.equal(count(orderLines(b.rundir), 'hang-start'), 1);
  const st = await rc(b.rundir, 'status', '--json');
  assert.equal((JSON.parse(st.stdout).services as Array<{ name: string; state: string }>).find((r) => r.name === 'hang')!.state, 'failed');
});

test('--external-logger: a fault keeps the logger (same pid) and every line', { timeout: 120000 }, async (t) => {
  const [faults, d] = faultDirs(t);
  const b = await bootInit(t, {
    tree: { 'service/u/run!': WRITER },
    args: ['--external-logger'],
    nodeArgs: ['-r', FAULT],
    env: { VIGIL_TEST_FAULT_DIR: faults },
    cmd: holdingCmd(d),
  });
  const sd = path.join(b.rundir, 'service');
  const logger = (): number => statusOf(path.join(sd, 's6-svscan-log'))?.pid ?? 0;
  const lines = (): number[] => lineNumbers(caught(b.rundir));
  await waitFor(() => logger() > 0 && lines().length >= 5, 20000, 'the logger up, 5 lines logged');
  const before = { logger: logger(), u: statusOf(path.join(sd, 'u'))!.pid };
  injectFault(faults, 'throw');
  await waitFor(() => reexecuted(b.rundir), 15000, 're-exec after the fault');
  const mid = Math.max(...lines());
  await waitFor(() => Math.max(...lines()) >= mid + 10, 20000, '10 more lines');
  assert.equal(logger(), before.logger, 'the logger kept its pid');
  assert.equal(statusOf(path.join(sd, 'u'))!.pid, before.u);
  releaseCmd(d, 7);
  const end = await b.exited(20000);
  assert.equal(end.code, 7, b.stderr());
  assertContiguous('u (external catch-all logger)', lines(), 15);
});
