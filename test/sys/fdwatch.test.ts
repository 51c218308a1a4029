// uv_poll watchers from the shim: readiness, stop inside the callback (twice), level-triggering, the
// non-throwing read, readAvailable's EAGAIN/EOF handling, pidfd exit notification, and thrown callbacks.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../../src/sys/native';
import { awaitEof, readAvailable, watchReadable } from '../../src/sys/fdwatch';
import { EAGAIN } from '../../src/sys/errors';
import { exitOf, killAll, runCmd } from '../helpers/sys-proc';

const n = native();
const live = new Set<number>();
after(() => killAll(live));

function nextEvent<T>(what: string, arm: (done: (v: T) => void) => void, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    arm((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

test('read on an empty non-blocking pipe returns -EAGAIN; 0 at EOF; write returns a count', () => {
  const [r, w] = n.pipe(true);
  const buf = Buffer.alloc(16);
  assert.equal(n.read(r, buf, 0, buf.length), -EAGAIN);
  assert.equal(n.read(r, buf, 0, buf.length), -11);
  assert.equal(n.write(w, Buffer.from('hey'), 0, 3), 3);
  assert.equal(n.read(r, buf, 4, 10), 3);
  assert.equal(buf.toString('utf8', 4, 7), 'hey');
  n.close(w);
  assert.equal(n.read(r, buf, 0, buf.length), 0);
  assert.equal(n.read(12345, buf, 0, 1), -9, 'EBADF, not a throw');
  assert.throws(() => n.read(r, buf, 10, 10), /bounds/);
  n.close(r);
});

test('pollStart fires on readability; pollStop inside the callback, twice, is safe; no more callbacks', async () => {
  const [r, w] = n.pipe(true);
  let calls = 0;
  const events = await nextEvent<number>('readable', (done) => {
    const h = n.pollStart(r, 1, (ev) => {
      calls++;
      n.pollStop(h);
      n.pollStop(h);
      done(ev);
    });
    n.write(w, Buffer.from('a'), 0, 1);
  });
  assert.equal(events & 1, 1);
  // data still unread: a live level-triggered watcher would fire again. A new watcher on the same fd is
  // allowed (the old one is gone from the loop) and fires; the stopped one stays silent.
  const again = await nextEvent<number>('second watcher', (done) => {
    const w2 = watchReadable(r, (ev) => {
      w2.stop();
      w2.stop();
      assert.equal(w2.active, false);
      done(ev);
    });
  });
  assert.equal(again & 1, 1);
  await new Promise((res) => setImmediate(res));
  assert.equal(calls, 1);
  n.close(r);
  n.close(w);
});

test('a second watcher on the same fd is refused with EEXIST', () => {
  const [r, w] = n.pipe(true);
  const first = watchReadable(r, () => {});
  try {
    assert.throws(() => watchReadable(r, () => {}), (e: NodeJS.ErrnoException) => e.code === 'EEXIST' && e.errno === -17);
  } finally {
    first.stop();
    n.close(r);
    n.close(w);
  }
});

test('a watcher on a regular file is refused with an errno error', () => {
  const fd = fs.openSync(__filename, 'r');
  try {
    assert.throws(() => n.pollStart(fd, 1, () => {}), (e: NodeJS.ErrnoException) => e.code === 'EPERM' && e.syscall === 'uv_poll_init');
  } finally {
    fs.closeSync(fd);
  }
});

test('readAvailable drains until EAGAIN, reports EOF, and respects maxBytes', () => {
  const [r, w] = n.pipe(true);
  const data = Buffer.alloc(50_000, 'z');
  assert.equal(n.write(w, data, 0, data.length), data.length);
  const scratch = Buffer.alloc(4096);
  const part = readAvailable(r, scratch, 10_000);
  assert.equal(part.bytes.length, 10_000);
  assert.equal(part.eof, false);
  const rest = readAvailable(r, scratch);
  assert.equal(rest.bytes.length, 40_000);
  assert.equal(rest.eof, false);
  n.close(w);
  const end = readAvailable(r, scratch);
  assert.deepEqual([end.bytes.length, end.eof], [0, true]);
  n.close(r);
});

test('pidfd + poll: fires when a process exits; pidfdSendSignal delivers', async () => {
  const pid = n.spawn('/bin/sleep', ['sleep', '30'], [], [null, 2, 2]);
  live.add(pid);
  const exited = exitOf(pid);
  const fd = n.pidfdOpen(pid);
  const fired = nextEvent<number>('pidfd readable', (done) => {
    const w = watchReadable(fd, (ev) => {
      w.stop();
      done(ev);
    });
  });
  n.pidfdSendSignal(fd, 15);
  assert.equal((await fired) & 1, 1);
  assert.equal(await exited, 15);
  n.close(fd);
  assert.throws(() => n.pidfdOpen(2 ** 22 + 12345), (e: NodeJS.ErrnoException) => e.code === 'ESRCH' || e.code === 'EINVAL');
});

function runFixture(mode: string): ReturnType<typeof runCmd> {
  return runCmd([process.execPath, path.resolve(__dirname, '..', 'helpers', 'sys-pollthrow.js'), mode], 15_000);
}

test('an exception thrown in a poll callback is an ordinary uncaught exception', async () => {
  const caught = await runFixture('catch');
  assert.equal(caught.stdout, 'caught boom-from-poll-callback\n');
  assert.equal(caught.code, 0);
  const uncaught = await runFixture('nocatch');
  assert.equal(uncaught.code, 1, `exit code 1 like any uncaught exception (not an abort): ${uncaught.stderr}`);
  assert.match(uncaught.stderr, /boom-from-poll-callback/);
});

test('awaitEof: EOF once the other process holding the write end exits (its bytes dropped), fd closed; refused for our own pipe or a file', async () => {
  const [r, w] = n.pipe(false);
  // a writer in another process: sh writes a line, then holds the pipe 0.2 s
  const pid = n.spawn('/bin/sh', ['sh', '-c', 'echo ready; sleep 0.2'], [], [null, w, 2]);
  live.add(pid);
  const exited = exitOf(pid);
  n.close(w);
  const t0 = Date.now();
  const err = await nextEvent<Error | null>('EOF', (done) => awaitEof(r, done));
  assert.equal(err, null);
  assert.equal(await exited, 0);
  assert.ok(Date.now() - t0 >= 150, 'returned before the writer was gone');
  assert.throws(() => fs.fstatSync(r), /EBADF/);
  // both ends here: the runtime's own kind of pipe, which never reads EOF - refused, left open
  const [r2, w2] = n.pipe(false);
  const own = await nextEvent<Error | null>('refusal', (done) => awaitEof(r2, done));
  assert.match(String(own?.message), /also writes to/);
  n.close(r2);
  n.close(w2);
  const f = fs.openSync(__filename, 'r');
  const file = await nextEvent<Error | null>('refusal', (done) => awaitEof(f, done));
  assert.match(String(file?.message), /not a pipe, fifo or socket/);
  fs.closeSync(f);
});
