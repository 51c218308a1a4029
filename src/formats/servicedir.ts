/**
 * The small config files of a service directory (s6-protocol.md §1.3, §2.1).
 *
 * `notification-fd`, `lock-fd`, `timeout-kill`, `timeout-finish`, `max-death-tally`: only the first 10 bytes are
 * read, the text is cut at the first `\n`, and what is left must be a decimal unsigned integer with nothing else
 * (`"3\n"` is valid, `" 3"` and `"3 "` are not). An invalid value gives a one-line warning naming the service and
 * the file and counts as absent; a missing file (ENOENT) is silent.
 *
 * `down-signal`: the first line, at most 15 bytes: a name such as `TERM`, `SIGTERM` in any case, or a number.
 *
 * Each reader takes a `warn(line)` callback so the supervisor decides where warnings go; the caller prefixes
 * nothing: the line already names the service and the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DOWN_SIGNAL, LOCK_FD, MAX_DEATH_TALLY, NOTIFICATION_FD, TIMEOUT_FINISH, TIMEOUT_KILL,
} from './paths';
import { parseSignal, signalName } from '../sys/signals';

export type Warn = (line: string) => void;

export { parseSignal, signalName };

function readHead(file: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const buf = Buffer.alloc(max);
    let n = 0;
    while (n < max) {
      const r = fs.readSync(fd, buf, n, max - n, null);
      if (r <= 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Parse the text of one uint config file as s6 does; null if invalid. */
export function parseUintText(buf: Buffer): number | null {
  let s = buf.subarray(0, 10).toString('latin1');
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffffffff ? n : null;
}

/**
 * Read `dir/file` as an unsigned integer. Returns undefined when absent or invalid (with a warning
 * `NAME: invalid FILE: "text" (not a decimal unsigned integer) - ignoring it`), or when unreadable (warning too).
 */
export function readUintFile(dir: string, file: string, name: string, warn: Warn): number | undefined {
  let buf: Buffer | null;
  try {
    buf = readHead(path.join(dir, file), 10);
  } catch (e) {
    warn(`${name}: unable to read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} - ignoring it`);
    return undefined;
  }
  if (buf === null) return undefined;
  const v = parseUintText(buf);
  if (v === null) {
    warn(`${name}: invalid ${file}: ${JSON.stringify(buf.toString('latin1'))} is not a decimal unsigned integer - ignoring it`);
    return undefined;
  }
  return v;
}

/** down-signal: undefined when absent or invalid (warning), else the signal number. Default is the caller's. */
export function readDownSignal(dir: string, name: string, warn: Warn): number | undefined {
  let buf: Buffer | null;
  try {
    buf = readHead(path.join(dir, DOWN_SIGNAL), 15);
  } catch (e) {
    warn(`${name}: unable to read ${DOWN_SIGNAL}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} - using SIGTERM`);
    return undefined;
  }
  if (buf === null) return undefined;
  let s = buf.toString('latin1');
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  const sig = parseSignal(s);
  if (sig === undefined) {
    warn(`${name}: invalid ${DOWN_SIGNAL}: ${JSON.stringify(s)} is not a signal - using SIGTERM`);
    return undefined;
  }
  return sig;
}

export const readNotificationFd = (dir: string, name: string, warn: Warn) => readUintFile(dir, NOTIFICATION_FD, name, warn);
export const readLockFd = (dir: string, name: string, warn: Warn) => readUintFile(dir, LOCK_FD, name, warn);
export const readTimeoutKill = (dir: string, name: string, warn: Warn) => readUintFile(dir, TIMEOUT_KILL, name, warn) ?? 0;
export const readTimeoutFinish = (dir: string, name: string, warn: Warn) => readUintFile(dir, TIMEOUT_FINISH, name, warn) ?? 5000;
export function readMaxDeathTally(dir: string, name: string, warn: Warn): number {
  const v = readUintFile(dir, MAX_DEATH_TALLY, name, warn);
  if (v === undefined) return 100;
  return Math.min(v, 4096);
}

export interface ServiceConfig {
  notificationFd?: number;
  lockFd?: number;
  timeoutKill: number;
  timeoutFinish: number;
  maxDeathTally: number;
  downSignal: number;
}

/** Every config file at once (for tools such as `vigil status`; the supervisor reads each when it needs it). */
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
