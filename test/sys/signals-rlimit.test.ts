// Signal names/numbers as s6 spells them, wait-status decoding against real deaths, NOFILE raising,
// and the small system calls' error shape.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { native } from '../../src/sys/native';
import { parseSignal, signalName, SIGNALS } from '../../src/sys/signals';
import { decodeWaitStatus, describeWaitStatus, waitStatusToExitCode } from '../../src/sys/waitstatus';
import { getNofileLimit, raiseNofileLimit } from '../../src/sys/rlimit';
import { errnoError, errnoName, isErrno, isSysError } from '../../src/sys/errors';
import { exitOf } from '../helpers/sys-proc';

const n = native();

test('parseSignal accepts s6 down-signal spellings', () => {
  for (const s of ['TERM', 'SIGTERM', 'sigterm', 'term', ' 15 ', '15', 'SigTerm']) assert.equal(parseSignal(s), 15, s);
  assert.equal(parseSignal('HUP'), 1);
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('USR1'), 10);
  assert.equal(parseSignal('WINCH'), 28);
  assert.equal(parseSignal('IO'), 29);
  assert.equal(parseSignal('POLL'), 29);
  assert.equal(parseSignal('PWR'), 30);
  assert.equal(parseSignal('RTMIN'), 34);
  assert.equal(parseSignal('RTMIN+2'), 36);
  assert.equal(parseSignal('SIGRTMAX-1'), 63);
  for (const bad of ['', 'SIG', 'TERMX', '0', '65', '-1', '1.5', 'RTMAX+1']) assert.equal(parseSignal(bad), undefined, bad);
  assert.equal(parseSignal(9), 9);
  assert.equal(parseSignal(0), undefined);
});

test('signalName/parseSignal agree with the numbering bash\'s kill -l reports on this machine', () => {
  assert.equal(signalName(15), 'SIGTERM');
  assert.equal(signalName(29), 'SIGPOLL');
  assert.equal(signalName(36), 'SIGRTMIN+2');
  assert.equal(signalName(99), '99');
  const r = spawnSync('bash', ['-c', 'for i in $(seq 1 31); do echo "$i $(kill -l $i)"; done'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 31);
  for (const line of lines) {
    const [num, name] = line.split(' ');
    assert.equal(parseSignal(name), Number(num), line);
    assert.equal(parseSignal(signalName(Number(num))), Number(num), line);
  }
  for (const [name, num] of Object.entries(SIGNALS)) assert.equal(parseSignal(`SIG${name}`), num);
});

test('wait statuses of real deaths decode like s6 prints them', async () => {
  const spawnSh = (script: string): number => n.spawn('/bin/sh', ['sh', '-c', script], [], [null, 2, 2]);
  const byTerm = await exitOf(spawnSh('kill -TERM $$'));
  assert.deepEqual(decodeWaitStatus(byTerm), { exited: false, code: null, signaled: true, signal: 15, coreDumped: false });
  assert.equal(describeWaitStatus(byTerm), 'signal SIGTERM');
  assert.equal(waitStatusToExitCode(byTerm), 143);
  const byExit = await exitOf(spawnSh('exit 3'));
  assert.equal(byExit, 3 << 8);
  assert.equal(describeWaitStatus(byExit), 'exitcode 3');
  assert.equal(waitStatusToExitCode(byExit), 3);
  assert.deepEqual(decodeWaitStatus(0x80 | 11), { exited: false, code: null, signaled: true, signal: 11, coreDumped: true });
});

test('raiseNofileLimit lifts the soft limit to the hard one', () => {
  const c = n.constants;
  const before = getNofileLimit();
  n.setrlimit(c.RLIMIT_NOFILE, 256, before.hard);
  assert.equal(getNofileLimit().soft, 256);
  const after = raiseNofileLimit();
  assert.equal(after.hard, before.hard);
  assert.equal(after.soft, Number.isFinite(before.hard) ? before.hard : after.soft);
  assert.ok(after.soft > 256);
});

test('errors carry code/errno/syscall like Node; helpers recognise them', () => {
  const fd = fs.openSync('/dev/null', 'r');
  try {
    n.tiocnotty(fd);
    assert.fail('TIOCNOTTY on /dev/null must fail');
  } catch (e) {
    assert.ok(isSysError(e));
    assert.ok(isErrno(e, 'ENOTTY'));
    assert.equal((e as NodeJS.ErrnoException).errno, -25);
    assert.equal((e as NodeJS.ErrnoException).syscall, 'ioctl');
  } finally {
    fs.closeSync(fd);
  }
  assert.ok(isErrno(Object.assign(new Error('x'), { code: 'ENXIO' }), ['ENOENT', 'ENXIO']));
  assert.equal(isErrno(new Error('x'), 'ENOENT'), false);
  assert.equal(errnoName(-11), 'EAGAIN');
  const e = errnoError(-32, 'write', '/x');
  assert.deepEqual([e.code, e.errno, e.syscall, e.path], ['EPIPE', -32, 'write', '/x']);
  assert.equal(n.kill(2 ** 22 + 777, 0), -3, 'ESRCH as a return value');
});

test('clock, process name, subreaper flag round-trip', () => {
  const [s, ns] = n.clockGettime(n.constants.CLOCK_REALTIME);
  assert.ok(Math.abs(s + ns / 1e9 - Date.now() / 1000) < 5);
  const [m1] = n.clockGettime(n.constants.CLOCK_MONOTONIC);
  assert.ok(m1 >= 0);
  const old = fs.readFileSync('/proc/self/comm', 'utf8').trim();
  n.setProcessName('vigil-test-name-too-long-for-comm');
  assert.equal(fs.readFileSync(`/proc/self/task/${process.pid}/comm`, 'utf8').trim(), 'vigil-test-name');
  n.setProcessName(old);
  const was = n.getSubreaper();
  n.setSubreaper(true);
  assert.equal(n.getSubreaper(), true);
  n.setSubreaper(was);
  assert.equal(n.getSubreaper(), was);
});
