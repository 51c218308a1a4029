/**
 * FIFO helpers for s6's fifo protocols (supervise/control, event/ fifodirs, logger pipes), all synchronous
 * and non-blocking on the main thread: never a blocking open, never the libuv thread pool.
 */
import * as fs from 'node:fs';
import { native } from './native';
import { EAGAIN, EPIPE, errnoError, isErrno, SysError } from './errors';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;

/** mkfifo(path, mode) ignoring umask; an existing fifo is fine, anything else in the way throws EEXIST. */
export function makeFifo(path: string, mode = 0o600): void {
  try {
    native().mkfifo(path, mode);
    fs.chmodSync(path, mode);
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw e;
    if (!fs.lstatSync(path).isFIFO()) throw e;
  }
}

/** What is at a control fifo's path and is not a fifo (`dangling`: a symlink to nothing). */
export class NotAFifo extends Error {
  constructor(readonly path: string, readonly dangling: boolean) {
    super(`${path} exists and ${dangling ? 'is a dangling symlink' : 'is not a fifo'}`);
  }
}

/**
 * A supervisor's control fifo (s6-supervise's supervise/control, s6-svscan's .s6-svscan/control), as both
 * set it up: mkfifo 0600 unless something exists there, which must then be a fifo (symlinks followed, else
 * NotAFifo), opened O_RDWR|O_NONBLOCK: one descriptor is both the reader and the writer the supervisor keeps,
 * so it never sees EOF (one fd fewer than a held read + write pair). Other failures throw the system error.
 */
export function openControlFifo(path: string): number {
  try {
    native().mkfifo(path, 0o600);
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw e;
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch {
      throw new NotAFifo(path, true);
    }
    if (!st.isFIFO()) throw new NotAFifo(path, false);
  }
  return fs.openSync(path, fs.constants.O_RDWR | O_NONBLOCK);
}

/** open(path, O_RDONLY|O_NONBLOCK) (close-on-exec): returns at once even with no writer. */
export function openFifoReadNonblock(path: string): number {
  return fs.openSync(path, O_RDONLY | O_NONBLOCK);
}

export interface HeldFifo {
  /** O_RDONLY|O_NONBLOCK: watch it with fdwatch and drain with readAvailable */
  readFd: number;
  /** our own write end, so readers never see EOF between writers */
  writeFd: number;
}

/** A reader that never sees EOF: the non-blocking read end plus a write end we keep (s6-supervise's control). */
export function openFifoReadHeld(path: string): HeldFifo {
  const readFd = openFifoReadNonblock(path);
  try {
    return { readFd, writeFd: fs.openSync(path, O_WRONLY) };
  } catch (e) {
    fs.closeSync(readFd);
    throw e;
  }
}

/**
 * The fifo trick: a *blocking* write end obtained without waiting for a reader (open R|NONBLOCK, open W,
 * close R). Writes block/queue until a reader appears; with no reader at all they fail with EPIPE.
 */
export function openFifoWriteNoReader(path: string): number {
  const r = openFifoReadNonblock(path);
  try {
    return fs.openSync(path, O_WRONLY);
  } finally {
    fs.closeSync(r);
  }
}

export type WriteResult = 'ok' | 'nolistener' | 'notfound' | SysError;

/**
 * One non-blocking open + one write() + close, as s6 clients do: 'nolistener' if nobody reads the fifo
 * (ENXIO, or EPIPE when the reader left in between), 'notfound' if the path (or a parent) is missing,
 * otherwise 'ok' or the error (EAGAIN when the pipe is full).
 */
export function writeNonblock(path: string, bytes: Uint8Array | string): WriteResult {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  let fd: number;
  try {
    fd = fs.openSync(path, O_WRONLY | O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENXIO')) return 'nolistener';
    if (isErrno(e, ['ENOENT', 'ENOTDIR'])) return 'notfound';
    return e as SysError;
  }
  try {
    const n = native().write(fd, buf, 0, buf.length);
    if (n === buf.length) return 'ok';
    if (n === -EPIPE) return 'nolistener';
    return errnoError(n < 0 ? n : -EAGAIN, 'write', path);
  } finally {
    fs.closeSync(fd);
  }
}
