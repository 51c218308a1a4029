/**
 * Readiness of a raw fd without the libuv thread pool or timers: one uv_poll handle per watched fd (native
 * pollStart), plus a drain loop over the shim's non-blocking read. Used for control fifos, pidfds, pipes.
 * Rules: one watcher per fd (a second one throws EEXIST); stop() before closing the fd; a live watcher keeps
 * the process alive (like a socket), the SIGCHLD listener does not.
 */
import { native, PollHandle } from './native';
import * as fs from 'node:fs';
import { EAGAIN, errnoError } from './errors';
import { closeQuiet, pipeHeldTwice } from './fds';

export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;

export interface FdWatch {
  /** stop watching; idempotent, safe inside the callback. Does not close the fd. */
  stop(): void;
  readonly active: boolean;
}

/**
 * cb(events) on the loop each time fd is ready (level-triggered: it fires again while data is left).
 * events < 0 is an error status (negative errno). Exceptions in cb become uncaught exceptions.
 */
export function watchFd(fd: number, events: number, cb: (events: number) => void): FdWatch {
  let h: PollHandle | null = native().pollStart(fd, events, cb);
  return {
    stop(): void {
      if (h === null) return;
      const x = h;
      h = null;
      native().pollStop(x);
    },
    get active(): boolean {
      return h !== null;
    },
  };
}

export function watchReadable(fd: number, cb: (events: number) => void): FdWatch {
  return watchFd(fd, POLL_READABLE, cb);
}

export interface ReadAvailable {
  /** a copy of everything read this call (may be empty) */
  bytes: Buffer;
  /** read returned 0: every writer is gone */
  eof: boolean;
}

/**
 * Read from a non-blocking fd until EAGAIN or EOF (at most maxBytes, so a flooding writer cannot hog the
 * loop; the level-triggered watcher fires again for the rest). `buf` is scratch space. Throws on other errors.
 */
export function readAvailable(fd: number, buf: Buffer, maxBytes = 1 << 20): ReadAvailable {
  const n = native();
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < maxBytes) {
    const r = n.read(fd, buf, 0, Math.min(buf.length, maxBytes - total));
    if (r > 0) {
      chunks.push(Buffer.from(buf.subarray(0, r)));
      total += r;
      continue;
    }
    if (r === 0) return { bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total), eof: true };
    if (r === -EAGAIN) break;
    throw errnoError(r, 'read');
  }
  return { bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total), eof: false };
}

/**
 * cb(null) once the pipe, fifo or socket fd inherited from whoever started us signals EOF (every writer gone;
 * what it carries is read and dropped), then fd is closed: s6-linux-init's -W, the container manager's start
 * barrier. cb(Error) at once, fd left alone, when fd is not open, not a pipe/fifo/socket, or a pipe whose
 * other end this process holds too (then it is one of the runtime's own, which must not be read; Node marks
 * inherited fds close-on-exec, so that flag tells nothing).
 */
export function awaitEof(fd: number, cb: (err: Error | null) => void): void {
  let rd = -1;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFIFO() && !st.isSocket()) throw new Error(`fd ${fd} is not a pipe, fifo or socket`);
    if (pipeHeldTwice(fd)) throw new Error(`fd ${fd} is a pipe this process also writes to (the runtime's own)`);
    // a pipe or fifo: a description of our own, non-blocking (the writer's side is left as it is)
    if (st.isFIFO()) rd = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    else native().setNonblock(fd, true);
  } catch (e) {
    closeQuiet(rd);
    return cb(e instanceof Error ? e : new Error(String(e)));
  }
  const r = rd >= 0 ? rd : fd;
  const buf = Buffer.allocUnsafe(4096);
  const w = watchReadable(r, () => {
    let done = false;
    try {
      done = readAvailable(r, buf).eof;
    } catch {
      done = true; // a read error ends the wait as EOF would: nothing more can come
    }
    if (!done) return;
    w.stop();
    if (rd >= 0) closeQuiet(rd);
    closeQuiet(fd);
    cb(null);
  });
}
