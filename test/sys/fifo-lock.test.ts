// FIFO helpers (s6 client writes, the fifo trick, held readers) and whole-file OFD locks as the real
// s6-svok sees them, across processes.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../src/sys/native';
import { makeFifo, openFifoReadHeld, openFifoReadNonblock, openFifoWriteNoReader, writeNonblock } from '../../src/sys/fifo';
import { isLocked, lockFile, lockHolderPid, unlockFile } from '../../src/sys/lock';
import { isErrno, isSysError } from '../../src/sys/errors';
import { readAvailable, watchReadable } from '../../src/sys/fdwatch';
import { killAll, runCmd } from '../helpers/sys-proc';
import { isNonblocking, pipeForChild, reopenFresh } from '../../src/sys/fds';

const n = native();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-fifolock-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const live = new Set<number>();
after(() => killAll(live));

async function svok(dir: string): Promise<number | null> {
  return (await runCmd(['s6-svok', dir], 10_000)).code;
}

test('makeFifo: mode without umask, idempotent on a fifo, EEXIST on a regular file', () => {
  const f = path.join(tmp, 'f1');
  makeFifo(f, 0o620);
  const st = fs.statSync(f);
  assert.ok(st.isFIFO());
  assert.equal(st.mode & 0o777, 0o620);
  makeFifo(f, 0o620);
  const reg = path.join(tmp, 'regular');
  fs.writeFileSync(reg, '');
  assert.throws(() => makeFifo(reg), (e: unknown) => isErrno(e, 'EEXIST'));
});

test('writeNonblock: notfound, nolistener, ok (bytes arrive in one piece)', () => {
  const f = path.join(tmp, 'control');
  assert.equal(writeNonblock(f, 'x'), 'notfound');
  assert.equal(writeNonblock(path.join(tmp, 'no-dir', 'control'), 'x'), 'notfound');
  makeFifo(f);
  assert.equal(writeNonblock(f, 'x'), 'nolistener');
  const r = openFifoReadNonblock(f);
  assert.equal(writeNonblock(f, 'du'), 'ok');
  const got = readAvailable(r, Buffer.alloc(64));
  assert.equal(got.bytes.toString(), 'du');
  assert.equal(got.eof, true, 'the writer closed after its one write');
  fs.closeSync(r);
});

test('writeNonblock on a full fifo returns an EAGAIN SysError instead of blocking', () => {
  const f = path.join(tmp, 'full');
  makeFifo(f);
  const r = openFifoReadNonblock(f);
  const big = Buffer.alloc(1 << 20, 1);
  const res = writeNonblock(f, big);
  assert.ok(res !== 'ok' && isSysError(res), `expected an error, got ${String(res)}`);
  assert.equal((res as NodeJS.ErrnoException).code, 'EAGAIN');
  fs.closeSync(r);
});

test('openFifoReadHeld: no EOF when outside writers come and go', () => {
  const f = path.join(tmp, 'held');
  makeFifo(f);
  const h = openFifoReadHeld(f);
  assert.equal(writeNonblock(f, 'one'), 'ok');
  const buf = Buffer.alloc(64);
  const a = readAvailable(h.readFd, buf);
  assert.deepEqual([a.bytes.toString(), a.eof], ['one', false]);
  assert.equal(n.read(h.readFd, buf, 0, 64), -11, 'EAGAIN, not EOF');
  fs.closeSync(h.writeFd);
  fs.closeSync(h.readFd);
});

test('the fifo trick gives a write end at once; with no reader, writes fail EPIPE; a later reader gets data', () => {
  const f = path.join(tmp, 'trick');
  makeFifo(f);
  const w = openFifoWriteNoReader(f);
  assert.equal(n.write(w, Buffer.from('lost'), 0, 4), -32, 'EPIPE (SIGPIPE is ignored by Node)');
  const r = openFifoReadNonblock(f);
  assert.equal(n.write(w, Buffer.from('kept'), 0, 4), 4);
  assert.equal(readAvailable(r, Buffer.alloc(16)).bytes.toString(), 'kept');
  fs.closeSync(w);
  fs.closeSync(r);
});

test('OFD lock on supervise/lock is what the real s6-svok sees; unlock and it is gone', async () => {
  const svc = path.join(tmp, 'svc');
  fs.mkdirSync(path.join(svc, 'supervise'), { recursive: true });
  const lockPath = path.join(svc, 'supervise', 'lock');
  assert.equal(isLocked(lockPath), 'missing');
  assert.equal(await svok(svc), 1, 's6-svok: no lock file, not running');
  const fd = lockFile(lockPath);
  assert.equal(typeof fd, 'number');
  assert.equal(fs.statSync(lockPath).mode & 0o777, 0o644);
  assert.equal(await svok(svc), 0, 's6-svok: running');
  assert.equal(isLocked(lockPath), true);
  assert.equal(lockHolderPid(lockPath), -1, 'OFD locks report pid -1');
  assert.equal(lockFile(lockPath), 'busy', 'a second open file description in the same process conflicts');
  // another process sees it busy too
  const other = await runCmd([process.execPath, '-e', `const l=require(${JSON.stringify(path.resolve(__dirname, '../../src/sys/lock.js'))}); process.stdout.write(String(l.lockFile(${JSON.stringify(lockPath)})))`], 10_000);
  assert.equal(other.stdout, 'busy', other.stderr);
  // closing an unrelated fd on the same file does not drop an OFD lock
  fs.closeSync(fs.openSync(lockPath, 'r'));
  assert.equal(await svok(svc), 0);
  unlockFile(fd as number);
  assert.equal(await svok(svc), 1, 's6-svok: not running after unlock');
  assert.equal(isLocked(lockPath), false);
  const again = lockFile(lockPath, 'exclusive', { create: false });
  assert.equal(typeof again, 'number');
  unlockFile(again as number);
});

test('a classic POSIX lock held by another process is reported with its pid', async () => {
  const p = path.join(tmp, 'classic');
  fs.writeFileSync(p, '');
  // a child takes a classic F_SETLK write lock, says so, and sleeps until killed
  const script = `const n=require(${JSON.stringify(path.resolve(__dirname, '../../../native/build/Release/shim.node'))}); const fs=require('fs'); const fd=fs.openSync(${JSON.stringify(p)}, 'r+'); n.lock(fd, true, false); process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`;
  const [r, w] = n.pipe(true);
  const pid = n.spawn(process.execPath, ['node', '-e', script], [], [null, w, 2]);
  live.add(pid);
  n.close(w);
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        watch.stop();
        reject(new Error('child did not lock within 10 s'));
      }, 10_000);
      let text = '';
      const watch = watchReadable(r, () => {
        const got = readAvailable(r, Buffer.alloc(256));
        text += got.bytes.toString();
        if (text.includes('locked') || got.eof) {
          watch.stop();
          clearTimeout(t);
          if (text.includes('locked')) resolve();
          else reject(new Error(`child ended without locking: ${text}`));
        }
      });
    });
    assert.equal(lockHolderPid(p), pid);
    assert.equal(lockFile(p), 'busy');
  } finally {
    n.kill(pid, 9);
    n.close(r);
  }
});

test('reopenFresh gives a blocking description of the same pipe; the shared one keeps its O_NONBLOCK', () => {
  const [r, w] = n.pipe(false);
  n.setNonblock(w, true);
  assert.equal(isNonblocking(w), true);
  const w2 = reopenFresh(w, 'w');
  assert.equal(isNonblocking(w2), false);
  assert.equal(isNonblocking(w), true);
  assert.equal(n.write(w2, Buffer.from('via-fresh'), 0, 9), 9);
  n.setNonblock(r, true);
  assert.equal(readAvailable(r, Buffer.alloc(64)).bytes.toString(), 'via-fresh');
  for (const fd of [r, w, w2]) n.close(fd);
  const [pr, pw] = pipeForChild();
  assert.deepEqual([isNonblocking(pr), isNonblocking(pw)], [true, false]);
  n.close(pr);
  n.close(pw);
});
