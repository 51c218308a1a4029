/**
 * What every s6-style client needs (s6-protocol.md §1.2, §3.4, §6): the "is a supervisor running" lock test,
 * the one-write control fifo protocol with its tri-state answer, and s6's message conventions.
 *
 * Messages: skalibs prints `PROG: fatal: TEXT` (and `: strerror` for system errors), `PROG: warning: TEXT`,
 * `PROG: usage: USAGE`. vigil's tools print the same text with `vigil svc` etc. as PROG, so a script that
 * greps s6's wording keeps working. The text after PROG is kept byte for byte, including the stray `: ` that
 * s6 2.11.3.2 (built against skalibs 2.13) puts before `unable to ...` in its `diefu3x` messages
 * (`s6-svc: fatal: : unable to control DIR: supervisor not listening`).
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import { strerror } from '../sys/errors';
import { ParsedOpts, subgetopt } from './clientopts';
import { CONTROL_FIFO, LOCK_FILE, SUPERVISE_DIR, SVSCAN_DIR } from './paths';

/** A fatal error that carries its exit code; the tools print it and return the code. */
export class Fatal extends Error {
  constructor(readonly exitCode: number, readonly text: string) {
    super(text);
  }
}

/** s6's message conventions with one program name (`vigil svc`). */
export class Messages {
  constructor(readonly prog: string, readonly usageLine: string) {}
  usage(): Fatal {
    return new Fatal(100, `${this.prog}: usage: ${this.usageLine}`);
  }
  /** skalibs' subgetopt over argv; bad options throw the usage error, as every s6 client does */
  getopt(argv: readonly string[], spec: string): ParsedOpts {
    try {
      return subgetopt(argv, spec);
    } catch {
      throw this.usage();
    }
  }
  /** strerr_dief: `PROG: fatal: TEXT` */
  fatal(code: number, text: string): Fatal {
    return new Fatal(code, `${this.prog}: fatal: ${text}`);
  }
  /** strerr_diefsys: `PROG: fatal: TEXT: strerror` */
  fatalSys(code: number, text: string, e: unknown): Fatal {
    return new Fatal(code, `${this.prog}: fatal: ${text}: ${strerror(e)}`);
  }
  warn(text: string): void {
    process.stderr.write(`${this.prog}: warning: ${text}\n`);
  }
  /** Print a Fatal and return its code; anything else is rethrown. */
  report(e: unknown): number {
    if (e instanceof Fatal) {
      process.stderr.write(e.text + '\n');
      return e.exitCode;
    }
    throw e;
  }
}

/**
 * s6_svc_ok: open DIR/supervise/lock read-only and ask F_GETLK whether someone holds it.
 * true = a supervisor holds the lock; false = not locked, or the lock file (or DIR) is missing (ENOENT).
 * Other errors (ENOTDIR, EACCES...) are thrown.
 */
export function supervisorRunning(dir: string, lockRel: string = LOCK_FILE): boolean {
  let fd: number;
  try {
    fd = fs.openSync(joinS6(dir, lockRel), fs.constants.O_RDONLY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    return native().lockHolder(fd) !== 0;
  } finally {
    fs.closeSync(fd);
  }
}

/** s6 builds paths by plain concatenation with '/': keep the user's spelling (no normalisation). */
export function joinS6(dir: string, rel: string): string {
  return `${dir}/${rel}`;
}

export type WriteResult =
  | { kind: 'sent' }
  /** ENXIO: the fifo exists but nobody reads it (or `supervise/` is missing) */
  | { kind: 'not-listening' }
  /** the control dir is broken (missing fifo, not a directory ...) */
  | { kind: 'broken'; error: unknown }
  /** any other system error (DIR missing, EACCES ...) */
  | { kind: 'error'; error: unknown };

/**
 * s6_svc_writectl: open DIR/SUBDIR/control O_WRONLY|O_NONBLOCK, make it blocking, and write all the bytes in
 * one write (nothing is written when `bytes` is empty: the open alone tells whether someone listens).
 * ENOENT/ENOTDIR/EISDIR on open means "look closer": DIR itself unusable → error; SUBDIR missing →
 * not listening; otherwise the SUBDIR is broken.
 */
export function writeControl(dir: string, subdir: string, bytes: Uint8Array): WriteResult {
  const fifo = joinS6(dir, `${subdir}/control`);
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO') return { kind: 'not-listening' };
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') return { kind: 'error', error: e };
    return investigate(dir, subdir, e);
  }
  try {
    native().setNonblock(fd, false);
    if (bytes.length > 0) {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    }
    return { kind: 'sent' };
  } catch (e) {
    return { kind: 'error', error: e };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * s6-svscanctl's write and its messages: the bytes to DIR/.s6-svscan/control in one write, or the Fatal
 * s6-svscanctl would die with (100 nobody listening or a broken .s6-svscan, 111 system error).
 */
export function writeScannerControl(msg: Messages, dir: string, bytes: Uint8Array): void {
  const r = writeControl(dir, SVSCAN_DIR, bytes);
  switch (r.kind) {
    case 'sent':
      return;
    case 'not-listening':
      throw msg.fatal(100, `: unable to control ${dir}: supervisor not listening`);
    case 'broken':
      throw msg.fatalSys(100, `something is wrong with the ${dir}/${SVSCAN_DIR} directory. errno reported`, r.error);
    default:
      throw msg.fatalSys(111, `unable to control ${dir}`, r.error);
  }
}

function investigate(dir: string, subdir: string, first: unknown): WriteResult {
  const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY;
  let fd: number;
  try {
    fd = fs.openSync(dir, O_DIR);
  } catch (e) {
    return { kind: 'error', error: e };
  }
  fs.closeSync(fd);
  try {
    fd = fs.openSync(joinS6(dir, subdir), O_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'not-listening' };
    return { kind: 'broken', error: e };
  }
  fs.closeSync(fd);
  return { kind: 'broken', error: first };
}

/** The supervise dir name, for messages ("something is wrong with the DIR/supervise directory"). */
export const SUPERVISE_SUBDIR = SUPERVISE_DIR;
export const CONTROL_REL = CONTROL_FIFO;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write everything to fd synchronously (stdout of a short-lived client). A non-blocking pipe that is full
 * gives EAGAIN: wait a millisecond and go on, so a slow reader never loses output.
 */
export function writeAllSync(fd: number, text: string | Uint8Array): void {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}
