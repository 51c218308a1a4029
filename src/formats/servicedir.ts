/**
 * The small config files of a service directory (s6-protocol.md §1.3, §2.1) — the one place that reads them,
 * with a size cap, a range check and one report per problem. A service directory is user input: nothing
 * read here may hang (a fifo, a device), balloon (a 10 MB file, an fd number of 100 000 000) or flood the
 * log (the same complaint at every restart).
 *
 * `notification-fd`, `lock-fd`, `timeout-kill`, `timeout-finish`, `max-death-tally`: only the first 10 bytes are
 * read, the text is cut at the first `\n`, and what is left must be a decimal unsigned integer with nothing else
 * (`"3\n"` is valid, `" 3"` and `"3 "` are not). An fd number must also be below the open files limit (else the
 * child could never get it: s6 fails the same way at dup2); `max-death-tally` is capped at 4096 as s6 does.
 * `down-signal`: the first line, at most 15 bytes: a name such as `TERM`, `SIGTERM` in any case, or a number.
 * `log-dir`: the first line, at most 4096 bytes (PATH_MAX). `log-script`: at most 64 KiB.
 *
 * Reading: open O_RDONLY|O_NONBLOCK (a fifo never blocks), fstat (anything but a regular file is refused: a
 * directory, a fifo, a device), one bounded read. A missing file (ENOENT) is silent and means "absent".
 *
 * Reports: a problem gives one line `NAME: invalid FILE: what - what is done instead`, of bounded length (values are
 * quoted with control bytes escaped and cut at 40 characters; the service name too, at 80). Each (service
 * directory, file) pair reports a given problem once: the scanner checks every file when it finds the service
 * (checkServiceDir), and the reads the supervisor makes later (at each start, each `d`...) stay quiet while the
 * file says the same wrong thing; a file that becomes valid and then wrong again is reported again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DOWN_SIGNAL, EVENT_DIR, LOCK_FD, MAX_DEATH_TALLY, NOTIFICATION_FD, SUPERVISE_DIR, TIMEOUT_FINISH, TIMEOUT_KILL,
} from './paths';
import { parseSignal, signalName } from '../sys/signals';
import { getNofileLimit } from '../sys/rlimit';

export type Warn = (line: string) => void;

export { parseSignal, signalName };

export const UINT_FILE_MAX = 10;
export const DOWN_SIGNAL_MAX = 15;
export const LOG_DIR_MAX = 4096;
export const LOG_SCRIPT_MAX = 64 * 1024;
/** s6-supervise keeps at most this many death records */
export const DEATH_TALLY_CAP = 4096;

/** A config file that exists but cannot be used (not a regular file, unreadable, too long). */
export class ConfigFileError extends Error {}

/** Quote user text for a one-line message: control bytes and quotes escaped, cut at max characters. */
export function quote(text: string | Buffer, max = 40): string {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  const cut = s.length > max;
  const body = JSON.stringify(cut ? s.slice(0, max) : s).slice(1, -1);
  return `"${body}${cut ? '...' : ''}"`;
}

/** A service name as it appears at the start of a message: escaped when it holds control bytes, cut at 80. */
export function printableName(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name.length <= 80 && !/[\x00-\x1f\x7f]/.test(name)) return name;
  return quote(name, 80);
}

/**
 * At most `max` bytes of dir/file, or null when the file does not exist. Throws ConfigFileError when it
 * is not a regular file or cannot be read. Never blocks (O_NONBLOCK: a fifo; fstat before reading).
 */
export function readConfigHead(dir: string, file: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, file), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ConfigFileError(`unable to open: ${code ?? (e as Error).message}${code === 'ELOOP' ? ' (symlink loop)' : ''}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new ConfigFileError(st.isDirectory() ? 'is a directory' : 'is not a regular file');
    const buf = Buffer.alloc(Math.min(max, Math.max(0, st.size)));
    let n = 0;
    while (n < buf.length) {
      const r = fs.readSync(fd, buf, n, buf.length - n, n);
      if (r <= 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof ConfigFileError) throw e;
    throw new ConfigFileError(`unable to read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

// ---- one report per (directory, file, problem) ----------------------------------------------------------

const reported = new Map<string, string>();
const key = (dir: string, file: string): string => `${dir}\0${file}`;

function report(dir: string, file: string, line: string, warn: Warn): void {
  const k = key(dir, file);
  if (reported.get(k) === line) return;
  reported.set(k, line);
  warn(line);
}

function fine(dir: string, file: string): void {
  if (reported.size) reported.delete(key(dir, file));
}

/** The service directory is no longer supervised: forget what was reported about it. */
export function forgetReports(dir: string): void {
  for (const k of [...reported.keys()]) if (k.startsWith(`${dir}\0`)) reported.delete(k);
}

// ---- values ----------------------------------------------------------------------------------------------

/** Parse the text of one uint config file as s6 does; null if invalid. */
export function parseUintText(buf: Buffer): number | null {
  let s = buf.subarray(0, UINT_FILE_MAX).toString('latin1');
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffffffff ? n : null;
}

function head(dir: string, file: string, name: string, max: number, warn: Warn, instead: string): Buffer | null | undefined {
  try {
    const b = readConfigHead(dir, file, max);
    if (b === null) fine(dir, file);
    return b;
  } catch (e) {
    report(dir, file, `${printableName(name)}: unable to read ${file}: ${(e as Error).message} - ${instead}`, warn);
    return undefined;
  }
}

/**
 * Read `dir/file` as an unsigned integer. Undefined when absent, invalid or unreadable (each reported once:
 * `NAME: invalid FILE: "text" is not a decimal unsigned integer - ignoring it`).
 */
export function readUintFile(dir: string, file: string, name: string, warn: Warn): number | undefined {
  const buf = head(dir, file, name, UINT_FILE_MAX, warn, 'ignoring it');
  if (!buf) return undefined;
  const v = parseUintText(buf);
  if (v === null) {
    report(dir, file, `${printableName(name)}: invalid ${file}: ${quote(buf)} is not a decimal unsigned integer - ignoring it`, warn);
    return undefined;
  }
  fine(dir, file);
  return v;
}

/** An fd number for the child: a uint below the open files limit (the fd table could not hold it otherwise). */
function readFdFile(dir: string, file: string, name: string, warn: Warn): number | undefined {
  const v = readUintFile(dir, file, name, warn);
  if (v === undefined) return undefined;
  let limit = 1024;
  try {
    limit = getNofileLimit().soft;
  } catch {
    /* keep the usual default */
  }
  if (v >= limit) {
    report(dir, file, `${printableName(name)}: invalid ${file}: ${v} is not below the open files limit (${limit}) - ignoring it`, warn);
    return undefined;
  }
  return v;
}

/** down-signal: undefined when absent or invalid (reported once), else the signal number. Default is the caller's. */
export function readDownSignal(dir: string, name: string, warn: Warn): number | undefined {
  const buf = head(dir, DOWN_SIGNAL, name, DOWN_SIGNAL_MAX, warn, 'using SIGTERM');
  if (!buf) return undefined;
  let s = buf.toString('latin1');
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  const sig = parseSignal(s);
  if (sig === undefined) {
    report(dir, DOWN_SIGNAL, `${printableName(name)}: invalid ${DOWN_SIGNAL}: ${quote(s)} is not a signal - using SIGTERM`, warn);
    return undefined;
  }
  fine(dir, DOWN_SIGNAL);
  return sig;
}

export const readNotificationFd = (dir: string, name: string, warn: Warn) => readFdFile(dir, NOTIFICATION_FD, name, warn);
export const readLockFd = (dir: string, name: string, warn: Warn) => readFdFile(dir, LOCK_FD, name, warn);
export const readTimeoutKill = (dir: string, name: string, warn: Warn) => readUintFile(dir, TIMEOUT_KILL, name, warn) ?? 0;
export const readTimeoutFinish = (dir: string, name: string, warn: Warn) => readUintFile(dir, TIMEOUT_FINISH, name, warn) ?? 5000;
export function readMaxDeathTally(dir: string, name: string, warn: Warn): number {
  const v = readUintFile(dir, MAX_DEATH_TALLY, name, warn);
  if (v === undefined) return 100;
  return Math.min(v, DEATH_TALLY_CAP);
}

export interface ServiceConfig {
  notificationFd?: number;
  lockFd?: number;
  timeoutKill: number;
  timeoutFinish: number;
  maxDeathTally: number;
  downSignal: number;
}

/** Every config file at once (the scanner's check at discovery; tools such as `vigil status`). */
export function readServiceConfig(dir: string, name: string, warn: Warn): ServiceConfig {
  return {
    notificationFd: readNotificationFd(dir, name, warn),
    lockFd: readLockFd(dir, name, warn),
    timeoutKill: readTimeoutKill(dir, name, warn),
    timeoutFinish: readTimeoutFinish(dir, name, warn),
    maxDeathTally: readMaxDeathTally(dir, name, warn),
    downSignal: readDownSignal(dir, name, warn) ?? 15,
  };
}

/**
 * The scanner's check when it finds a service: every config file is read and range-checked now (problems
 * reported once, here rather than at first use), and the directory is refused, with s6-supervise's message,
 * when `supervise` or `event` exists and is not a directory (a dangling symlink is fine: s6 makes its target).
 * Returns the refusal line (NAME: ...) or null.
 */
export function checkServiceDir(dir: string, name: string, warn: Warn): string | null {
  for (const sub of [SUPERVISE_DIR, EVENT_DIR]) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(path.join(dir, sub));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') return `${printableName(name)}: unable to stat ${sub}: ELOOP (symlink loop) - not supervising it`;
      st = null; // absent, or a dangling symlink
    }
    if (st && !st.isDirectory()) return `${printableName(name)}: ${sub} exists and is not a directory - not supervising it`;
  }
  readServiceConfig(dir, name, warn);
  return null;
}

// ---- warning lines -----------------------------------------------------------------------------------

/** bound on one warning line (bytes of text, the newline aside) */
export const LINE_MAX = 1024;

/** One line of bounded length: control bytes escaped (a name with a newline stays on one line), cut at max bytes. */
export function oneLine(line: string, max = LINE_MAX): string {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  // eslint-disable-next-line no-control-regex
  const clean = /[\x00-\x08\x0a-\x1f\x7f]/.test(body) ? body.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1)) : body;
  if (clean.length <= max / 4 || Buffer.byteLength(clean) <= max) return clean;
  // cut at max bytes (a multibyte character cut in two becomes U+FFFD: still one line, still bounded)
  return `${Buffer.from(clean).subarray(0, max).toString('utf8')}...`;
}

/**
 * A warning sink that says each thing once: lines are made one bounded line (oneLine), and a line identical
 * to the last one said about the same service ("vigil: warning: NAME: ...") is dropped — a run that cannot be
 * spawned every 10 s, a finish that times out at every cycle, are said when they start, not every time.
 * Another line about the same service in between lets the next one through again.
 */
export function saidOnce(sink: (line: string) => void): (line: string) => void {
  const last = new Map<string, string>();
  return (line: string) => {
    const l = oneLine(line);
    const m = /^vigil: warning: (.{1,200}?): /.exec(l);
    if (m) {
      if (last.get(m[1]) === l) return;
      if (last.size > 10000) last.clear();
      last.set(m[1], l);
    }
    sink(l);
  };
}
