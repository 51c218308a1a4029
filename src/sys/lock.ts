/**
 * Whole-file fcntl write locks as s6 uses them ("supervisor running" = supervise/lock is locked). vigil takes
 * OFD locks: one process holds one per service, and they stay put when another fd on the file is closed.
 * s6-svok / s6-svstat see them through F_GETLK like classic POSIX locks.
 */
import * as fs from 'node:fs';
import { native } from './native';
import { isErrno } from './errors';

export type LockMode = 'exclusive' | 'shared';

export interface LockOptions {
  /** create the file if missing (default true) */
  create?: boolean;
  /** permissions of a created file, umask ignored (default 0o644, as s6-supervise makes supervise/lock) */
  fileMode?: number;
  /** wait for the lock (blocks the event loop: only for short-lived CLI tools) */
  wait?: boolean;
}

/** Open and OFD-lock the whole file. Returns the fd holding the lock (close-on-exec), or 'busy'. */
export function lockFile(path: string, mode: LockMode = 'exclusive', opts: LockOptions = {}): number | 'busy' {
  const { O_RDWR, O_RDONLY, O_CREAT, O_EXCL } = fs.constants;
  let fd: number;
  let created = false;
  if (opts.create ?? true) {
    try {
      fd = fs.openSync(path, O_RDWR | O_CREAT | O_EXCL, opts.fileMode ?? 0o644);
      created = true;
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      fd = openExisting(path, mode, O_RDWR, O_RDONLY);
    }
  } else {
    fd = openExisting(path, mode, O_RDWR, O_RDONLY);
  }
  try {
    if (created) fs.fchmodSync(fd, opts.fileMode ?? 0o644);
    if (native().lock(fd, mode === 'exclusive', true, opts.wait ?? false)) return fd;
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  fs.closeSync(fd);
  return 'busy';
}

function openExisting(path: string, mode: LockMode, rdwr: number, rdonly: number): number {
  try {
    return fs.openSync(path, rdwr);
  } catch (e) {
    if (mode === 'shared' && isErrno(e, ['EACCES', 'EROFS'])) return fs.openSync(path, rdonly);
    throw e;
  }
}

/** Drop the lock and close the fd. */
export function unlockFile(fd: number): void {
  try {
    native().unlock(fd, true);
  } finally {
    fs.closeSync(fd);
  }
}

/** Who holds a lock on path, as s6-svok asks (open read-only, F_GETLK): pid, -1 for an OFD lock, 0 if free. */
export function lockHolderPid(path: string): number | 'missing' {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch (e) {
    if (isErrno(e, ['ENOENT', 'ENOTDIR'])) return 'missing';
    throw e;
  }
  try {
    return native().lockHolder(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * true if some lock is held on path, 'missing' if there is no such file. Locks held by this very process
 * through a classic (non-OFD) lock are invisible to F_GETLK; OFD locks are always seen.
 */
export function isLocked(path: string): boolean | 'missing' {
  const h = lockHolderPid(path);
  return h === 'missing' ? h : h !== 0;
}
