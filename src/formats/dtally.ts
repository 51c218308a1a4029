/**
 * supervise/death_tally: records of 14 bytes, oldest first (s6-protocol.md §3.3).
 *   0 12 tain of the death · 12 1 exit code, or 128+signal · 13 1 signal number or 0
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tain, tainPack, tainUnpack } from './tai64n';
import { DEATH_TALLY, DEATH_TALLY_NEW } from './paths';
import { wexitstatus, wifexited, wtermsig } from '../sys/waitstatus';

export const DTALLY_RECORD = 14;
export const DEFAULT_MAX_DEATH_TALLY = 100;
export const MAX_DEATH_TALLY_CAP = 4096;

export interface DeathRecord {
  stamp: Tain;
  /** exit code, or 128 + signal */
  exitcode: number;
  /** signal number, 0 after a normal exit */
  sig: number;
}

export function recordFromWstat(stamp: Tain, wstat: number): DeathRecord {
  if (wifexited(wstat)) return { stamp, exitcode: wexitstatus(wstat), sig: 0 };
  const sig = wtermsig(wstat);
  return { stamp, exitcode: (128 + sig) & 0xff, sig };
}

export function encodeDtally(records: DeathRecord[]): Buffer {
  const buf = Buffer.allocUnsafe(records.length * DTALLY_RECORD);
  records.forEach((r, i) => {
    tainPack(r.stamp, buf, i * DTALLY_RECORD);
    buf[i * DTALLY_RECORD + 12] = r.exitcode & 0xff;
    buf[i * DTALLY_RECORD + 13] = r.sig & 0xff;
  });
  return buf;
}

/** Trailing bytes that do not make a whole record are ignored. */
export function decodeDtally(buf: Uint8Array): DeathRecord[] {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Math.floor(b.length / DTALLY_RECORD);
  const out: DeathRecord[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * DTALLY_RECORD;
    out.push({ stamp: tainUnpack(b, o), exitcode: b[o + 12], sig: b[o + 13] });
  }
  return out;
}

export function readDtally(serviceDir: string): DeathRecord[] {
  try {
    return decodeDtally(fs.readFileSync(path.join(serviceDir, DEATH_TALLY)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export function writeDtally(serviceDir: string, records: DeathRecord[]): void {
  const tmp = path.join(serviceDir, DEATH_TALLY_NEW);
  fs.writeFileSync(tmp, encodeDtally(records), { mode: 0o666 });
  fs.renameSync(tmp, path.join(serviceDir, DEATH_TALLY));
}

/** Empty the death tally in place, as s6-supervise does at start (open with O_TRUNC: no .new, no rename). */
export function truncateDtally(serviceDir: string): void {
  fs.closeSync(fs.openSync(path.join(serviceDir, DEATH_TALLY), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o666));
}
