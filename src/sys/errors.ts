/**
 * The one owner of errno in vigil. Errors from the native shim and Node's fs share one shape
 * (code/errno/syscall); this file holds the type guard, the errno numbers vigil tests against (import
 * EAGAIN, EPIPE... from here; never write -11 or -32 elsewhere), number <-> name (errnoName), converters for
 * the shim's non-throwing negative returns, and strerror() as glibc spells it (what s6 prints after
 * "unable to ...: ").
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

/** glibc's strerror() text (Node's own messages are libuv's, lower-case). */
const STRERROR: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  ESPIPE: 'Illegal seek',
  EROFS: 'Read-only file system',
  EMLINK: 'Too many links',
  EPIPE: 'Broken pipe',
  ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long',
  ENOLCK: 'No locks available',
  ENOSYS: 'Function not implemented',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  EOVERFLOW: 'Value too large for defined data type',
  EDQUOT: 'Disk quota exceeded',
  ESTALE: 'Stale file handle',
};

/**
 * strerror() of an errno-style error (anything with a `code`), as glibc spells it; for another Error, Node's
 * message without its "CODE: " prefix and ", syscall 'path'" tail, capitalised.
 */
export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && Object.prototype.hasOwnProperty.call(STRERROR, code)) return STRERROR[code];
  if (e instanceof Error) {
    // Node's message is "CODE: libuv text, syscall 'path'": keep the libuv text, capitalised.
    const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
    if (m) return m[1].charAt(0).toUpperCase() + m[1].slice(1);
    return e.message;
  }
  return String(e);
}

/** strerror() of a (positive or negative) errno number, as the shim's non-throwing calls return it. */
export function strerrorNum(errno: number): string {
  const name = errnoName(errno);
  return Object.prototype.hasOwnProperty.call(STRERROR, name) ? STRERROR[name] : name;
}

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
