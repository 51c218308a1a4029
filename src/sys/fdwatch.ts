/**
 * Readiness of a raw fd without the libuv thread pool or timers: one uv_poll handle per watched fd (native
 * pollStart), plus a drain loop over the shim's non-blocking read. Used for control fifos, pidfds, pipes.
 * Rules: one watcher per fd (a second one throws EEXIST); stop() before closing the fd; a live watcher keeps
 * the process alive (like a socket), the SIGCHLD listener does not.
 */
import { native, PollHandle } from './native';
import { EAGAIN, errnoError } from './errors';

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
