/**
 * supervise/vigil-run: which process a service's `run` became, so that a `vigil svscan` started again over
 * the same directory after its predecessor was killed finds the services still running and adopts them
 * instead of starting a second copy (s6 needs no such file: its s6-supervise processes outlive the scanner;
 * vigil supervises every service from one process, so what survives a SIGKILL is only the services).
 *
 * One line, padded with spaces to RECORD_SIZE bytes, written in place right after each spawn of run (one
 * pwrite at offset 0 over the previous record of the same size: a SIGKILL cannot split a write of one page
 * to a regular file, and only a supervisor whose predecessor is dead reads it to adopt. A .new + rename as
 * for status costs ~0.4 ms per start on ext4, where renaming over a file starts its write-back):
 *   "PID STARTTIME BOOTID own"      run started by this supervisor
 *   "PID STARTTIME BOOTID adopted"  run started by a supervisor that died; watched here through a pidfd
 *   "PID 0 BOOTID exit-unknown"     that adopted run has exited: not our child, its wait status was never seen
 * STARTTIME is field 22 of /proc/PID/stat (clock ticks after boot): with the pid it names one process, never
 * a later one that reused the pid. BOOTID (/proc/sys/kernel/random/boot_id, '-' when unreadable) keeps a
 * record on a disk that survived a reboot from matching a process of the new boot with the same pid and
 * start tick (deterministic boots repeat both). The file is left in place when run dies (a dead pid does
 * not match).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_RECORD } from './paths';
import { readProcStat } from '../sys/procstat';

export type RunRecordKind = 'own' | 'adopted' | 'exit-unknown';

export interface RunRecord {
  pid: number;
  startTime: number;
  kind: RunRecordKind;
  /** the boot it was written in (default: this one) */
  bootId?: string;
}

let boot: string | null = null;

/** this boot's id, read once ('-' when /proc/sys is not there) */
export function bootId(): string {
  if (boot === null) {
    try {
      boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    } catch {
      boot = '-';
    }
    if (!/^[0-9a-f-]{1,40}$/.test(boot)) boot = '-';
  }
  return boot;
}

/** every record is exactly this long: the longest line (10 + 20 + 36 + 12 bytes and 3 spaces) fits with room */
export const RECORD_SIZE = 128;

export function writeRunRecord(dir: string, r: RunRecord): void {
  const line = `${r.pid} ${r.startTime} ${r.bootId ?? bootId()} ${r.kind}`;
  const rec = Buffer.from(line.padEnd(RECORD_SIZE - 1, ' ') + '\n', 'latin1');
  const c = fs.constants;
  // O_NONBLOCK: a fifo put there fails (ENXIO) instead of blocking the loop
  const fd = fs.openSync(path.join(dir, RUN_RECORD), c.O_WRONLY | c.O_CREAT | c.O_NOFOLLOW | c.O_NONBLOCK, 0o644);
  try {
    fs.writeSync(fd, rec, 0, rec.length, 0);
    if (fs.fstatSync(fd).size > RECORD_SIZE) fs.ftruncateSync(fd, RECORD_SIZE); // something longer was there
  } finally {
    fs.closeSync(fd);
  }
}

/** the record, or null when there is none or it is not one of ours (at most RECORD_SIZE + 1 bytes are read) */
export function readRunRecord(dir: string): RunRecord | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, RUN_RECORD), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return null;
    const b = Buffer.alloc(RECORD_SIZE + 1);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    if (n !== RECORD_SIZE) return null;
    const m = /^(\d{1,10}) (\d{1,20}) ([0-9a-f-]{1,40}) (own|adopted|exit-unknown) *\n$/.exec(b.subarray(0, n).toString('latin1'));
    if (!m) return null;
    const pid = Number(m[1]);
    const startTime = Number(m[2]);
    if (!(pid > 0 && pid <= 0x3fffffff) || !Number.isSafeInteger(startTime)) return null;
    return { pid, startTime, bootId: m[3], kind: m[4] as RunRecordKind };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The record names a process that is still running (not a zombie) and is the one recorded. */
export function recordIsAlive(r: RunRecord): boolean {
  if (r.kind === 'exit-unknown' || (r.bootId ?? bootId()) !== bootId()) return false;
  const p = readProcStat(r.pid);
  return p !== null && p.startTime === r.startTime && p.state !== 'Z' && p.state !== 'X';
}

/**
 * The record names a child of this very process (same pid, start time and boot; alive or a zombie): after
 * an execve of the supervisor (a cold re-exec) its runs are still its children, and only then.
 */
export function recordIsOurChild(r: RunRecord): boolean {
  if (r.kind === 'exit-unknown' || (r.bootId ?? bootId()) !== bootId()) return false;
  const p = readProcStat(r.pid);
  return p !== null && p.startTime === r.startTime && p.ppid === process.pid && p.state !== 'X';
}
