// The native fork/exec path: fd maps (including swaps), no leaked fds, clean signal state, sessions,
// cwd/argv/env, errors with stage, and stage 2's blocking fifo open. Real processes throughout.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../src/sys/native';
import { spawnProcess, which } from '../../src/sys/spawn';
import { isErrno, SysError } from '../../src/sys/errors';
import { decodeWaitStatus } from '../../src/sys/waitstatus';
import { exitOf, killAll, procStat, procStatus, readAll, until } from '../helpers/sys-proc';

const n = native();
const live = new Set<number>();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-spawn-'));
after(() => {
  killAll(live);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function track(pid: number): number {
  live.add(pid);
  return pid;
}

/**
 * sleep has exec'd and is in its sleep (nanosleep/clock_nanosleep), past the dynamic loader: right after
 * execve ld.so briefly holds libc.so.6 open as fd 3, which a too-early look at /proc/PID/fd would see.
 */
function asleep(pid: number): boolean {
  if (!fs.readlinkSync(`/proc/${pid}/exe`).endsWith('/sleep')) return false;
  return ['35', '230'].includes(fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0]);
}

function pipeIno(fd: number): string {
  return `pipe:[${fs.fstatSync(fd).ino}]`;
}

test('fd map: swapped high fds land right, stdio mapped, nothing else leaks, signal state clean', async () => {
  const [ar, aw] = n.pipe();
  const [br, bw] = n.pipe();
  // A and B at fixed numbers 40/41, then map child 40 <- B and child 41 <- A: a true swap.
  const A = n.dupCloexec(aw, 40);
  const B = n.dupCloexec(bw, 41);
  assert.deepEqual([A, B], [40, 41]);
  // a non-CLOEXEC fd in the parent must not reach the child
  const leak = fs.openSync('/dev/null', 'r');
  n.setCloexec(leak, false);
  const devnull = fs.openSync('/dev/null', 'r');
  const fdmap: Array<number | null> = new Array(42).fill(null);
  fdmap[0] = devnull;
  fdmap[1] = bw;
  fdmap[2] = aw;
  fdmap[40] = B;
  fdmap[41] = A;
  const pid = track(n.spawn('/bin/sleep', ['sleep', '30'], [], fdmap));
  const exited = exitOf(pid);
  try {
    // the child execs quickly; /proc/PID/exe turns into sleep once it has
    await until('sleep to exec and sleep', () => asleep(pid));
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((x, y) => x - y);
    assert.deepEqual(fds, [0, 1, 2, 40, 41]);
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/0`), '/dev/null');
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/1`), pipeIno(bw));
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/2`), pipeIno(aw));
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/40`), pipeIno(bw));
    assert.equal(fs.readlinkSync(`/proc/${pid}/fd/41`), pipeIno(aw));
    assert.equal(procStatus(pid, 'SigIgn'), '0000000000000000');
    assert.equal(procStatus(pid, 'SigBlk'), '0000000000000000');
    // and the parent still has its own signal state (Node ignores SIGPIPE)
    assert.notEqual(procStatus(process.pid, 'SigIgn'), '0000000000000000');
  } finally {
    n.kill(pid, 9);
    for (const fd of [ar, aw, br, bw, A, B, leak, devnull]) fs.closeSync(fd);
  }
  assert.equal(decodeWaitStatus(await exited).signal, 9);
});

test('fd map: permutation of the low fds through a shell (1 and 2 swapped, 0 closed)', async () => {
  const [ar, aw] = n.pipe();
  const [br, bw] = n.pipe();
  const pid = track(n.spawn('/bin/sh', ['sh', '-c', 'echo out; echo err >&2; if read x; then echo stdin-open; else echo stdin-closed >&2; fi'], [], [null, bw, aw]));
  const exited = exitOf(pid);
  n.close(aw);
  n.close(bw);
  const [errText, outText] = await Promise.all([readAll(ar), readAll(br)]);
  n.close(ar);
  n.close(br);
  assert.equal(outText, 'out\n');
  assert.match(errText, /^err\n/);
  assert.match(errText, /stdin-closed|Bad file descriptor/);
  await exited;
});

test('resetSignals:false keeps ignored signals (SIGPIPE); the mask is empty either way', async () => {
  const pid = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [0, 1, 2], { resetSignals: false }));
  const exited = exitOf(pid);
  try {
    await until('sleep to exec and sleep', () => asleep(pid));
    const ign = BigInt(`0x${procStatus(pid, 'SigIgn')}`);
    assert.equal(ign & (1n << 12n), 1n << 12n, 'SIGPIPE (13) stays ignored');
    assert.equal(procStatus(pid, 'SigBlk'), '0000000000000000');
  } finally {
    n.kill(pid, 9);
  }
  await exited;
});

test('setsid by default; setsid:false with pgid 0 gives an own group in our session', async () => {
  const a = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [0, 1, 2]));
  const ea = exitOf(a);
  const b = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [0, 1, 2], { setsid: false, pgid: 0 }));
  const eb = exitOf(b);
  try {
    await until('children to exec and sleep', () => asleep(a) && asleep(b));
    const sa = procStat(a);
    assert.equal(Number(sa[2]), a, 'pgrp == pid');
    assert.equal(Number(sa[3]), a, 'session == pid');
    const sb = procStat(b);
    assert.equal(Number(sb[2]), b, 'own process group');
    assert.equal(Number(sb[3]), Number(procStat(process.pid)[3]), 'our session');
  } finally {
    n.kill(a, 9);
    n.kill(b, 9);
  }
  await Promise.all([ea, eb]);
});

test('cwd, argv[0] independent of file, env exactly as given', async () => {
  const [r, w] = n.pipe();
  const pid = track(n.spawn('/bin/sh', ['my-name', '-c', 'echo "$0|$(pwd)|$FOO|${HOME-unset}"'], ['FOO=bar baz'], [0, w, 2], { cwd: tmp }));
  const exited = exitOf(pid);
  n.close(w);
  const out = await readAll(r);
  n.close(r);
  const [argv0, cwd, foo, home] = out.trim().split('|');
  assert.equal(argv0, 'my-name');
  assert.equal(cwd, fs.realpathSync(tmp));
  assert.equal(foo, 'bar baz');
  assert.equal(home, 'unset', 'nothing from our environment leaks in');
  assert.equal(decodeWaitStatus(await exited).code, 0);
});

function spawnError(fn: () => unknown): SysError {
  try {
    fn();
  } catch (e) {
    assert.ok(isErrno(e, (e as SysError).code), `not an errno error: ${String(e)}`);
    return e as SysError;
  }
  assert.fail('expected spawn to throw');
}

function zombieChildren(): number[] {
  let list = '';
  for (const tid of fs.readdirSync(`/proc/${process.pid}/task`)) {
    try {
      list += ` ${fs.readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8')}`;
    } catch {
      // thread gone
    }
  }
  return list.trim().split(/\s+/).filter(Boolean).map(Number).filter((p) => {
    try {
      return procStat(p)[0] === 'Z';
    } catch {
      return false;
    }
  });
}

test('exec failures throw with code, errno, syscall, stage and path, and leave no zombie', () => {
  const before = zombieChildren();
  let e = spawnError(() => n.spawn('/nonexistent/prog', ['x'], [], [0, 1, 2]));
  assert.equal(e.code, 'ENOENT');
  assert.equal(e.errno, -2);
  assert.equal(e.syscall, 'spawn');
  assert.equal(e.stage, 'execve');
  assert.equal(e.path, '/nonexistent/prog');

  const notExec = path.join(tmp, 'not-executable');
  fs.writeFileSync(notExec, '#!/bin/sh\n', { mode: 0o644 });
  e = spawnError(() => n.spawn(notExec, ['x'], [], [0, 1, 2]));
  assert.equal(e.code, 'EACCES');
  assert.equal(e.errno, -13);
  assert.equal(e.stage, 'execve');

  e = spawnError(() => n.spawn('/bin/true', ['true'], [], [0, 1, 2], { cwd: path.join(tmp, 'missing-dir') }));
  assert.equal(e.code, 'ENOENT');
  assert.equal(e.stage, 'chdir');

  e = spawnError(() => n.spawn('/bin/true', ['true'], [], [0, 1, 987]));
  assert.equal(e.code, 'EBADF');
  assert.equal(e.stage, 'dup2');

  e = spawnError(() => spawnProcess({ argv: ['surely-no-such-program-xyz'], env: { PATH: '/usr/bin:/bin' } }));
  assert.equal(e.code, 'ENOENT');
  assert.equal(e.stage, 'path');

  assert.throws(() => n.spawn('true', ['true'], [], [0, 1, 2]), (x: unknown) => x instanceof TypeError && /no PATH search/.test(x.message));
  e = spawnError(() => n.spawn('./no-such-run', ['./no-such-run'], [], [0, 1, 2], { cwd: tmp }));
  assert.deepEqual([e.code, e.stage], ['ENOENT', 'execve']);
  assert.deepEqual(zombieChildren().filter((p) => !before.includes(p)), []);
});

test('spawnProcess: PATH search in TS, env object, onExit registered in the same turn', async () => {
  assert.equal(which('sh', '/nonexistent:/bin'), '/bin/sh');
  assert.equal(which('sh', '/nonexistent'), null);
  const [r, w] = n.pipe();
  const status = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no exit within 10 s')), 10_000);
    const pid = spawnProcess({
      argv: ['sh', '-c', 'echo "$V"; exit 7'],
      env: { PATH: '/usr/bin:/bin', V: 'value' },
      fds: [null, w, 2],
      onExit: (st) => {
        clearTimeout(t);
        resolve(st);
      },
    });
    track(pid);
    n.close(w);
  });
  assert.equal(await readAll(r), 'value\n');
  n.close(r);
  assert.equal(decodeWaitStatus(status).code, 7);
});

test('fifoWrite: spawn returns, the child blocks in open until a reader comes, then its output arrives', async () => {
  const fifo = path.join(tmp, 'log-fifo');
  n.mkfifo(fifo, 0o600);
  const pid = track(n.spawn('/bin/sh', ['sh', '-c', 'echo line-one; echo line-two >&2'], [], [0, 1, 2], { fifoWrite: fifo }));
  const exited = exitOf(pid);
  await until('the child to block opening the fifo', () => fs.readFileSync(`/proc/${pid}/wchan`, 'utf8') === 'wait_for_partner');
  assert.equal(fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0], '257', 'blocked in openat');
  assert.equal(fs.readlinkSync(`/proc/${pid}/exe`), fs.realpathSync(process.execPath), 'not exec\'d yet');
  const rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const out = await readAll(rfd);
  fs.closeSync(rfd);
  assert.deepEqual(out.split('\n').filter(Boolean).sort(), ['line-one', 'line-two']);
  assert.equal(decodeWaitStatus(await exited).code, 0);
});

test('fifoWrite to a missing path: spawn succeeds, the child exits 127', async () => {
  const pid = track(n.spawn('/bin/true', ['true'], [], [0, 1, 2], { fifoWrite: path.join(tmp, 'no-such-fifo') }));
  assert.equal(decodeWaitStatus(await exitOf(pid)).code, 127);
});

test('fifoWrite onto chosen fds only (fifoFds [2])', async () => {
  const fifo = path.join(tmp, 'err-fifo');
  n.mkfifo(fifo, 0o600);
  const rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const [r, w] = n.pipe();
  const pid = track(n.spawn('/bin/sh', ['sh', '-c', 'echo to-stdout; echo to-stderr >&2'], [], [0, w, 2], { fifoWrite: fifo, fifoFds: [2] }));
  const exited = exitOf(pid);
  n.close(w);
  const [fifoText, pipeText] = await Promise.all([readAll(rfd), readAll(r)]);
  fs.closeSync(rfd);
  n.close(r);
  assert.equal(fifoText, 'to-stderr\n');
  assert.equal(pipeText, 'to-stdout\n');
  await exited;
});

test('a relative file is resolved in the child after chdir, as s6 execs ./run (the script sees $0 = ./run)', async () => {
  const svc = path.join(tmp, 'svc-rel');
  fs.mkdirSync(svc);
  fs.writeFileSync(path.join(svc, 'run'), '#!/bin/sh\necho "$0 $(pwd)"\n', { mode: 0o755 });
  const [r, w] = n.pipe();
  const pid = track(n.spawn('./run', ['./run'], [], [null, w, 2], { cwd: svc }));
  const exited = exitOf(pid);
  n.close(w);
  assert.equal(await readAll(r), `./run ${fs.realpathSync(svc)}\n`);
  n.close(r);
  assert.equal(decodeWaitStatus(await exited).code, 0);
});

test('pgid joins an existing group of our session; a group in another session fails at stage setpgid', async () => {
  const leader = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [null, 2, 2], { setsid: false, pgid: 0 }));
  const el = exitOf(leader);
  const member = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [null, 2, 2], { setsid: false, pgid: leader }));
  const em = exitOf(member);
  const other = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [null, 2, 2]));
  const eo = exitOf(other);
  try {
    assert.equal(Number(procStat(member)[2]), leader);
    const e = spawnError(() => n.spawn('/bin/true', ['true'], [], [null, 2, 2], { setsid: false, pgid: other }));
    assert.deepEqual([e.code, e.stage], ['EPERM', 'setpgid']);
  } finally {
    n.kill(-leader, 9);
    n.kill(other, 9);
  }
  await Promise.all([el, em, eo]);
});

test('uid/gid: the child runs unprivileged with only its own group', async () => {
  const pid = track(n.spawn('/bin/sleep', ['sleep', '30'], [], [null, 2, 2], { uid: 65534, gid: 65534 }));
  const exited = exitOf(pid);
  try {
    await until('sleep to exec and sleep', () => asleep(pid));
    assert.deepEqual(procStatus(pid, 'Uid').split(/\s+/), ['65534', '65534', '65534', '65534']);
    assert.deepEqual(procStatus(pid, 'Gid').split(/\s+/), ['65534', '65534', '65534', '65534']);
    assert.equal(procStatus(pid, 'Groups'), '65534');
    // the child shares our memory until its execve (clone CLONE_VM): its setuid/setgid must not have
    // reached any of our threads (glibc's setuid() would broadcast to the thread list the child shares)
    for (const tid of fs.readdirSync(`/proc/${process.pid}/task`)) {
      let uid: string;
      let gid: string;
      try {
        const st = fs.readFileSync(`/proc/${process.pid}/task/${tid}/status`, 'utf8');
        uid = /^Uid:\s+(.*)$/m.exec(st)![1].trim();
        gid = /^Gid:\s+(.*)$/m.exec(st)![1].trim();
      } catch {
        continue; // thread gone
      }
      assert.deepEqual(uid.split(/\s+/), ['0', '0', '0', '0'], `our thread ${tid} uid`);
      assert.deepEqual(gid.split(/\s+/), ['0', '0', '0', '0'], `our thread ${tid} gid`);
    }
  } finally {
    n.kill(pid, 9);
  }
  await exited;
});

test('200 spawns in a row: every child runs (its exit code is its index) and is reaped, no zombie left', async () => {
  const before = zombieChildren();
  const exits: Array<Promise<number>> = [];
  for (let i = 0; i < 200; i++) {
    const pid = track(n.spawn('/bin/sh', ['sh', '-c', 'exit "$1"', 'sh', String(i % 256)], [], [null, 2, 2]));
    exits.push(exitOf(pid));
  }
  const codes = (await Promise.all(exits)).map((st) => decodeWaitStatus(st).code);
  assert.deepEqual(codes, Array.from({ length: 200 }, (_, i) => i % 256));
  assert.deepEqual(zombieChildren().filter((p) => !before.includes(p)), []);
});

test('both spawn paths report errors with their stage: clone path (ENOENT execve/chdir), fork path with fifoWrite', async () => {
  const before = zombieChildren();
  // no fifoWrite: the vfork-style clone child
  let e = spawnError(() => n.spawn(path.join(tmp, 'no-such-prog'), ['x'], [], [0, 1, 2]));
  assert.deepEqual([e.code, e.errno, e.syscall, e.stage], ['ENOENT', -2, 'spawn', 'execve']);
  e = spawnError(() => n.spawn('/bin/true', ['true'], [], [0, 1, 2], { cwd: path.join(tmp, 'no-such-dir') }));
  assert.deepEqual([e.code, e.stage], ['ENOENT', 'chdir']);
  // fifoWrite: the forked child reports every step before the fifo open through the pipe ...
  const fifo = path.join(tmp, 'stage-fifo');
  n.mkfifo(fifo, 0o600);
  e = spawnError(() => n.spawn('/bin/true', ['true'], [], [0, 1, 2], { fifoWrite: fifo, cwd: path.join(tmp, 'no-such-dir') }));
  assert.deepEqual([e.code, e.errno, e.syscall, e.stage], ['ENOENT', -2, 'spawn', 'chdir']);
  // ... and an execve ENOENT after it (spawn has already returned) shows as exit 127 once a reader opens
  const rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const pid = track(n.spawn(path.join(tmp, 'no-such-prog'), ['x'], [], [0, 1, 2], { fifoWrite: fifo }));
    assert.equal(decodeWaitStatus(await exitOf(pid)).code, 127);
  } finally {
    fs.closeSync(rfd);
  }
  // and the clone path still works after all that
  const ok = track(n.spawn('/bin/true', ['true'], [], [0, 1, 2]));
  assert.equal(decodeWaitStatus(await exitOf(ok)).code, 0);
  assert.deepEqual(zombieChildren().filter((p) => !before.includes(p)), []);
});
