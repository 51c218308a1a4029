// A full disk (a small tmpfs in a private mount namespace): vigil log warns, keeps the data, retries every
// r ms, and once space returns writes everything, in order, nothing lost. With -b it stops reading, so the
// back-pressure reaches the writer (the fifo fills up and stays full); without -b it keeps reading into
// memory (bounded by its cap) and the writer is never stopped.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkTmp, VIGIL, killQuietly, waitExit, collect } from './harness';
import { waitFor } from '../helpers/wait';

const LINE = 50;
const line = (i: number): string => `n${String(i).padStart(7, '0')} ${'d'.repeat(LINE - 10)}\n`;

/** Write as much as the fifo takes right now (non-blocking); returns the number of whole lines written. */
function writeUntilFull(fd: number, from: number, max: number): number {
  let i = from;
  for (; i < from + max; i++) {
    try {
      fs.writeSync(fd, line(i)); // 50 bytes < PIPE_BUF: all or nothing
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw e;
    }
  }
  return i - from;
}

const MODES = [
  { blocking: true, cap: 0, name: 'with -b: back-pressure at once' },
  { blocking: false, cap: 0, name: 'without -b: keeps reading into memory' },
  { blocking: false, cap: 32768, name: 'without -b, VIGIL_LOG_MAX_BUFFERED=32768: back-pressure at the cap' },
];

for (const { blocking, cap, name } of MODES) {
  test(`full disk ${name}; nothing lost once space returns`, { timeout: 60000 }, async (t) => {
    const tmp = mkTmp('vigil-logfull-');
    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    const fifo = path.join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const holder = fs.openSync(fifo, fs.constants.O_RDWR);
    const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    let p: ChildProcess | null = null;
    t.after(() => {
      killQuietly(p);
      fs.closeSync(writer);
      fs.closeSync(holder);
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    // unshare execs sh which execs node: p.pid is the logger, and /proc/PID/root shows its mounts
    p = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      'mount -t tmpfs -o size=256k,mode=0755 tmpfs "$0" && cd "$0" && exec "$@"', mnt,
      process.execPath, VIGIL, 'log', '-d', '3', ...(blocking ? ['-b'] : []), '--', 'r100', 's1000000', './d'],
    { stdio: [holder, 'ignore', 'pipe', 'pipe'], env: { ...process.env, VIGIL_LOG_MAX_BUFFERED: cap ? String(cap) : '' } });
    const err = collect(p.stderr);
    await new Promise<void>((resolve, reject) => {
      const to = setTimeout(() => reject(new Error(`no readiness; stderr: ${err()}`)), 10000);
      (p!.stdio[3] as NodeJS.ReadableStream).once('data', () => { clearTimeout(to); resolve(); });
      p!.once('exit', (c) => { clearTimeout(to); reject(new Error(`exited ${c}: ${err()}`)); });
    });
    const root = `/proc/${p.pid}/root${mnt}`;
    const current = path.join(root, 'd', 'current');
    // fill the tmpfs
    const filler = path.join(root, 'filler');
    const ff = fs.openSync(filler, 'w');
    const block = Buffer.alloc(4096, 0x66);
    try {
      for (;;) fs.writeSync(ff, block);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      fs.closeSync(ff);
    }
    // the logger's first write fails: warning, data kept
    let next = 1;
    next += writeUntilFull(writer, next, 100);
    await waitFor(() => /warning: unable to write to \.\/d\/current: No space left on device/.test(err()), 10000, `the ENOSPC warning (stderr: ${err()})`);
    if (blocking || cap) {
      // -b: the logger stops reading; the fifo fills up and stays full (with a cap: once the cap is reached)
      next += writeUntilFull(writer, next, 100000);
      await new Promise((r) => setTimeout(r, 400)); // several retries (r100) go by
      const more = writeUntilFull(writer, next, 100000);
      assert.equal(more, 0, 'the logger must not read while its data is unwritten (-b) or over the cap');
      next += more;
      assert.ok(next > 1000, `the writer was stopped after ${next - 1} lines, once the fifo was full`);
      if (cap) assert.ok((next - 1) * LINE > cap + 50000, `the logger took about the cap (${cap}) before stopping: ${next - 1} lines`);
      else assert.ok((next - 1) * LINE < 65536 + 2 * 8191, `-b: at most one read beyond the fifo: ${next - 1} lines`);
    } else {
      // without -b: reading goes on (into memory) although nothing can be written
      const before = next;
      next += writeUntilFull(writer, next, 1000);
      await waitFor(() => {
        next += writeUntilFull(writer, next, 200);
        return next - before > 64 * 1024 / LINE + 200;
      }, 10000, 'the logger to keep reading while the disk is full');
    }
    assert.equal(fs.statSync(current).size, 0, 'nothing reached current while the disk was full');
    const total = next - 1;
    // space returns: everything is written, in order
    fs.unlinkSync(filler);
    const want = Array.from({ length: total }, (_, i) => line(i + 1)).join('');
    await waitFor(() => fs.readFileSync(current, 'latin1').length === want.length, 20000, `${total} lines in current`);
    assert.equal(fs.readFileSync(current, 'latin1'), want);
    p.kill('SIGTERM');
    const r = await waitExit(p, 10000, 'vigil log');
    assert.equal(r.code, 0, err());
  });
}
