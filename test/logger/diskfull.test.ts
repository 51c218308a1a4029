// A full disk (a small tmpfs in a private mount namespace): vigil log warns, keeps the data, retries every
// r ms, and once space returns writes everything, in order, nothing lost. With or without -b it stops
// reading while a logdir holds unwritten data, so the back-pressure reaches the writer (the fifo fills up
// and stays full): what a killed logger would lose stays in the pipe. Only stdout (action 1) may run ahead
// of its reader, up to the cap (VIGIL_LOG_MAX_BUFFERED) without -b.
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

/** a temp dir with a fifo whose two ends are held here (as the scanner holds a log pipe), cleaned up after t */
function heldFifo(t: { after(fn: () => void): void }, prefix: string): { tmp: string; holder: number; writer: number; proc: { p: ChildProcess | null } } {
  const tmp = mkTmp(prefix);
  const fifo = path.join(tmp, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const holder = fs.openSync(fifo, fs.constants.O_RDWR);
  const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  const proc: { p: ChildProcess | null } = { p: null };
  t.after(() => {
    killQuietly(proc.p);
    fs.closeSync(writer);
    fs.closeSync(holder);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  return { tmp, holder, writer, proc };
}

const MODES = [
  { blocking: true, name: 'with -b: back-pressure at once' },
  { blocking: false, name: 'without -b: back-pressure at once too (nothing read while a logdir holds unwritten data)' },
];

for (const { blocking, name } of MODES) {
  test(`full disk ${name}; nothing lost once space returns`, { timeout: 60000 }, async (t) => {
    const { tmp, holder, writer, proc } = heldFifo(t, 'vigil-logfull-');
    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    let p: ChildProcess | null = null;
    // unshare execs sh which execs node: p.pid is the logger, and /proc/PID/root shows its mounts
    p = proc.p = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      'mount -t tmpfs -o size=256k,mode=0755 tmpfs "$0" && cd "$0" && exec "$@"', mnt,
      process.execPath, VIGIL, 'log', '-d', '3', ...(blocking ? ['-b'] : []), '--', 'r100', 's1000000', './d'],
    { stdio: [holder, 'ignore', 'pipe', 'pipe'] });
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
    // the first write to fail is the spool's (the input's way into the logdir: src/logger/spool.ts) or current's
    await waitFor(() => /warning: unable to write to \.\/d\/(current|spool): No space left on device/.test(err()), 10000, `the ENOSPC warning (stderr: ${err()})`);
    // the logger stops reading; the fifo fills up and stays full
    next += writeUntilFull(writer, next, 100000);
    await new Promise((r) => setTimeout(r, 400)); // several retries (r100) go by
    const more = writeUntilFull(writer, next, 100000);
    assert.equal(more, 0, 'the logger must not read while its data is unwritten');
    next += more;
    assert.ok(next > 1000, `the writer was stopped after ${next - 1} lines, once the fifo was full`);
    assert.ok((next - 1) * LINE < 65536 + 2 * 8191, `at most one read beyond the fifo: ${next - 1} lines`);
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

test('stdout (action 1) not read: without -b reading goes on up to VIGIL_LOG_MAX_BUFFERED, then back-pressure; the logdir has everything', { timeout: 60000 }, async (t) => {
  const { tmp, holder, writer, proc } = heldFifo(t, 'vigil-logout-');
  let p: ChildProcess | null = null;
  const cap = 32768;
  // stdout is a fifo this test holds and never reads (its 64 KiB fill up first)
  const outFifo = path.join(tmp, 'out');
  execFileSync('mkfifo', [outFifo]);
  const outHold = fs.openSync(outFifo, fs.constants.O_RDWR);
  t.after(() => fs.closeSync(outHold));
  p = proc.p = spawn(process.execPath, [VIGIL, 'log', '-d', '3', '--', 's1000000', './d', '1'],
    { cwd: tmp, stdio: [holder, outHold, 'pipe', 'pipe'], env: { ...process.env, VIGIL_LOG_MAX_BUFFERED: String(cap) } });
  const err = collect(p.stderr);
  await new Promise<void>((resolve, reject) => {
    const to = setTimeout(() => reject(new Error(`no readiness; stderr: ${err()}`)), 10000);
    (p!.stdio[3] as NodeJS.ReadableStream).once('data', () => { clearTimeout(to); resolve(); });
    p!.once('exit', (c) => { clearTimeout(to); reject(new Error(`exited ${c}: ${err()}`)); });
  });
  let next = 1;
  await waitFor(() => {
    next += writeUntilFull(writer, next, 500);
    return writeUntilFull(writer, next, 0) === 0 && fs.existsSync(path.join(tmp, 'd', 'current')) &&
      fs.statSync(path.join(tmp, 'd', 'current')).size >= (next - 1 - 65536 / LINE) * LINE ? next : 0;
  }, 20000, 'the writer to fill the fifo');
  // the fifo stays full: the logger stopped reading once stdout held the cap
  await new Promise((r) => setTimeout(r, 300));
  const more = writeUntilFull(writer, next, 100000);
  await new Promise((r) => setTimeout(r, 300));
  next += more + writeUntilFull(writer, next + more, 100000);
  assert.equal(writeUntilFull(writer, next, 100000), 0, 'back-pressure once stdout holds the cap');
  const taken = (next - 1) * LINE - 65536; // at most the fifo holds the rest
  assert.ok(taken > 65536 + cap - 2 * 8191, `the logger read past the 64 KiB stdout pipe up to about the cap: ${taken} bytes`);
  assert.ok(taken < 65536 + cap + 4 * 8191 + 65536, `and not much further: ${taken} bytes`);
  // every line it took is already in the logdir
  const cur = fs.readFileSync(path.join(tmp, 'd', 'current'), 'latin1');
  const lines = cur.split('\n').filter(Boolean);
  assert.ok(lines.length >= Math.floor(taken / LINE), `${lines.length} lines in current for ${taken} bytes taken`);
  for (let i = 0; i < lines.length; i++) assert.equal(`${lines[i]}\n`, line(i + 1));
});
