/**
 * Errors from the native shim and Node's fs share one shape (code/errno/syscall); this file holds the type
 * guard, the errno numbers vigil tests against, and converters for the shim's non-throwing negative returns.
 */
import * as util from 'node:util';

export interface SysError extends Error {
  /** 'ENOENT', 'EAGAIN', ... */
  code: string;
  /** negative errno, as Node does */
  errno: number;
  syscall: string;
  path?: string;
  /** spawn only: the step that failed in the child ('execve', 'chdir', 'dup2', 'fifo', 'setuid', ...) */
  stage?: string;
}

// Linux errno numbers (asm-generic, identical on x86_64 and aarch64).
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const EMFILE = 24;
export const ENOSPC = 28;
export const EPIPE = 32;

export function isSysError(e: unknown): e is SysError {
  return e instanceof Error && typeof (e as Partial<SysError>).code === 'string' && typeof (e as Partial<SysError>).syscall === 'string';
}

/** true if e is an errno-style error with this code (or one of these codes) */
export function isErrno(e: unknown, code: string | readonly string[]): e is SysError {
  if (!(e instanceof Error)) return false;
  const c = (e as Partial<SysError>).code;
  if (typeof c !== 'string') return false;
  return typeof code === 'string' ? c === code : code.includes(c);
}

/** 'EAGAIN' for 11 or -11 */
export function errnoName(errno: number): string {
  try {
    return util.getSystemErrorName(-Math.abs(errno));
  } catch {
    return `E${Math.abs(errno)}`;
  }
}

/** Build a SysError from a negative errno returned by the shim's read/write/kill. */
export function errnoError(errno: number, syscall: string, path?: string): SysError {
  const code = errnoName(errno);
  const e = new Error(`${code}: ${syscall} failed${path === undefined ? '' : ` '${path}'`}`) as SysError;
  e.code = code;
  e.errno = -Math.abs(errno);
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  return e;
}

/** One line for logs: "ENOENT: ... " without a stack. */
export function errorLine(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
