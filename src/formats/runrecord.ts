/**
 * supervise/vigil-run: which process a service's `run` became, so that a `vigil svscan` started again over
 * the same directory after its predecessor was killed finds the services still running and adopts them
 * instead of starting a second copy (s6 needs no such file: its s6-supervise processes outlive the scanner;
 * vigil supervises every service from one process, so what survives a SIGKILL is only the services).
 *
 * One line, written (status.new-style: .new + rename) right after each spawn of run:
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
import { RUN_RECORD, RUN_RECORD_NEW } from './paths';
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

export function writeRunRecord(dir: string, r: RunRecord): void {
  const tmp = path.join(dir, RUN_RECORD_NEW);
  fs.writeFileSync(tmp, `${r.pid} ${r.startTime} ${r.bootId ?? bootId()} ${r.kind}\n`, { mode: 0o644 });
  fs.renameSync(tmp, path.join(dir, RUN_RECORD));
}

/** the record, or null when there is none or it is not one of ours (at most 128 bytes are read) */
export function readRunRecord(dir: string): RunRecord | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, RUN_RECORD), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return null;
    const b = Buffer.alloc(128);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    const m = /^(\d{1,10}) (\d{1,20}) ([0-9a-f-]{1,40}) (own|adopted|exit-unknown)\n$/.exec(b.subarray(0, n).toString('latin1'));
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
