/**
 * supervise/status: 35 bytes, big-endian (s6-protocol.md §3.2). Pure codec plus thin read/write.
 *
 *   0  12  stamp       tain of the last up/down change
 *   12 12  readystamp  tain of readiness (or of "down and ready")
 *   24 8   pid         u64: run's pid when up, finish's pid while finishing, 0 when down
 *   32 2   wstat       u16: low 16 bits of the raw waitpid status of the last run (kept across restarts)
 *   34 1   flags       bit0 paused, bit1 finishing, bit2 wantup, bit3 ready
 *
 * Written as status.new then renamed, so a reader never sees half a status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tain, TAIN_ZERO, tainCompare, tainPack, tainUnpack } from './tai64n';
import { STATUS_FILE, STATUS_NEW } from './paths';

export const STATUS_SIZE = 35;

export interface SvStatus {
  stamp: Tain;
  readyStamp: Tain;
  pid: number;
  wstat: number;
  paused: boolean;
  finishing: boolean;
  wantUp: boolean;
  ready: boolean;
}

export function emptyStatus(): SvStatus {
  return { stamp: TAIN_ZERO, readyStamp: TAIN_ZERO, pid: 0, wstat: 0, paused: false, finishing: false, wantUp: false, ready: false };
}

export function encodeStatus(s: SvStatus, buf: Buffer = Buffer.allocUnsafe(STATUS_SIZE)): Buffer {
  tainPack(s.stamp, buf, 0);
  tainPack(s.readyStamp, buf, 12);
  buf.writeBigUInt64BE(BigInt(s.pid), 24);
  buf.writeUInt16BE(s.wstat & 0xffff, 32);
  buf[34] = (s.paused ? 1 : 0) | (s.finishing ? 2 : 0) | (s.wantUp ? 4 : 0) | (s.ready ? 8 : 0);
  return buf;
}

/** Throws RangeError-like Error with code 'EPIPE' when shorter than 35 bytes, as s6 clients reject it. */
export function decodeStatus(buf: Uint8Array): SvStatus {
  if (buf.length < STATUS_SIZE) {
    const e = new Error(`status file is ${buf.length} bytes, expected ${STATUS_SIZE}`) as NodeJS.ErrnoException;
    e.code = 'EPIPE';
    throw e;
  }
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const flags = b[34];
  return {
    stamp: tainUnpack(b, 0),
    readyStamp: tainUnpack(b, 12),
    pid: Number(b.readBigUInt64BE(24)),
    wstat: b.readUInt16BE(32),
    paused: (flags & 1) !== 0,
    finishing: (flags & 2) !== 0,
    wantUp: (flags & 4) !== 0,
    ready: (flags & 8) !== 0,
  };
}

/** the two encode to the same 35 bytes */
export function sameStatus(a: SvStatus, b: SvStatus): boolean {
  return tainCompare(a.stamp, b.stamp) === 0 && tainCompare(a.readyStamp, b.readyStamp) === 0 && a.pid === b.pid
    && (a.wstat & 0xffff) === (b.wstat & 0xffff) && a.paused === b.paused && a.finishing === b.finishing
    && a.wantUp === b.wantUp && a.ready === b.ready;
}

/** up = pid ≠ 0 and not finishing (what every s6 client means by "up") */
export function isUp(s: SvStatus): boolean {
  return s.pid !== 0 && !s.finishing;
}

export function readStatus(serviceDir: string): SvStatus {
  return decodeStatus(fs.readFileSync(path.join(serviceDir, STATUS_FILE)));
}

const scratch = Buffer.allocUnsafe(STATUS_SIZE);

/** status.new + rename; not fsync'd (as s6). Mode 0666 & ~umask. */
export function writeStatus(serviceDir: string, s: SvStatus): void {
  const tmp = path.join(serviceDir, STATUS_NEW);
  fs.writeFileSync(tmp, encodeStatus(s, scratch), { mode: 0o666 });
  fs.renameSync(tmp, path.join(serviceDir, STATUS_FILE));
}
