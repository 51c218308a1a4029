/**
 * s6-linux-init's shutdown protocol (s6-protocol.md §10.3), shared by vigil's internal shutdown daemon
 * (shutdownd.ts, inside PID 1) and the clients `vigil halt|poweroff|reboot|shutdown`.
 *
 * The daemon listens on `<scandir>/s6-linux-init-shutdownd/fifo`. A client opens it O_WRONLY|O_NONBLOCK
 * (ENXIO = nobody reads = "unable to talk to shutdownd"), makes an empty write as a probe, then writes one
 * record in one write(2) (atomic: 17 < PIPE_BUF):
 *
 *   'c'                                          cancel a planned shutdown
 *   'S'|'h'|'p'|'r' + 12-byte tain + u32 BE      stage 3 only / halt / poweroff / reboot
 *
 * The tain is a *relative* delay (u64 BE seconds, u32 BE nanoseconds, no TAI offset: skalibs packs a
 * relative tain as it is; hpr sends zero). The u32 is the grace time in ms; 0 = the daemon's default; only
 * values ≤ 300000 are used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SHUTDOWND_SERVICE = 's6-linux-init-shutdownd';
export const SHUTDOWND_FIFO = 'fifo';
export const RECORD_LENGTH = 17;
export const MAX_GRACE_MS = 300000;

export type ShutdownWhat = 'S' | 'h' | 'p' | 'r';

export interface ShutdownRecord {
  kind: 'shutdown';
  what: ShutdownWhat;
  /** delay from now, in milliseconds (nanosecond precision kept as a fraction) */
  delayMs: number;
  /** grace in ms; 0 = daemon default */
  graceMs: number;
}
export interface CancelRecord { kind: 'cancel' }
export interface UnknownByte { kind: 'unknown'; byte: number }
export type ParsedRecord = ShutdownRecord | CancelRecord | UnknownByte;

export function encodeShutdown(what: ShutdownWhat, delayMs: number, graceMs: number): Buffer {
  const b = Buffer.alloc(RECORD_LENGTH);
  b.write(what, 0, 'latin1');
  const ms = Math.max(0, Math.floor(delayMs));
  b.writeBigUInt64BE(BigInt(Math.floor(ms / 1000)), 1);
  b.writeUInt32BE((ms % 1000) * 1e6, 9);
  b.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(graceMs))), 13);
  return b;
}

export function encodeCancel(): Buffer {
  return Buffer.from('c', 'latin1');
}

/**
 * Incremental parser: feed() the bytes as they arrive, get complete records back. A record cut short
 * waits for the rest (writes of ≤ PIPE_BUF are atomic, so this only happens with a broken client).
 */
export class RecordParser {
  private pending: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): ParsedRecord[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: ParsedRecord[] = [];
    let i = 0;
    while (i < buf.length) {
      const c = buf[i];
      if (c === 0x63 /* c */) {
        out.push({ kind: 'cancel' });
        i++;
      } else if (c === 0x53 || c === 0x68 || c === 0x70 || c === 0x72 /* S h p r */) {
        if (buf.length - i < RECORD_LENGTH) break;
        const sec = buf.readBigUInt64BE(i + 1);
        const nsec = buf.readUInt32BE(i + 9);
        const grace = buf.readUInt32BE(i + 13);
        const secN = sec > 9007199254740n ? 9007199254740 : Number(sec);
        out.push({
          kind: 'shutdown',
          what: String.fromCharCode(c) as ShutdownWhat,
          delayMs: secN * 1000 + Math.floor(nsec / 1e6),
          graceMs: grace <= MAX_GRACE_MS ? grace : 0,
        });
        i += RECORD_LENGTH;
      } else {
        out.push({ kind: 'unknown', byte: c });
        i++;
      }
    }
    buf = buf.subarray(i);
    this.pending = Buffer.from(buf);
    return out;
  }

  /** bytes of an unfinished record */
  get pendingLength(): number {
    return this.pending.length;
  }
}

export function shutdowndFifo(scandir: string): string {
  return path.join(scandir, SHUTDOWND_SERVICE, SHUTDOWND_FIFO);
}

/** Where clients look for the run directory: --rundir, else $VIGIL_RUNDIR (set by vigil init), else /run. */
export function clientRundir(explicit?: string): string {
  return explicit ?? process.env.VIGIL_RUNDIR ?? '/run';
}

export class ShutdowndUnreachable extends Error {}

/**
 * Send one record to the daemon. Throws ShutdowndUnreachable ("unable to talk to shutdownd: ...") when the
 * fifo is missing or has no reader; other errors are rethrown.
 */
export function sendRecord(fifo: string, record: Buffer): void {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENXIO' || err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      throw new ShutdowndUnreachable(`unable to talk to shutdownd: ${fifo}: ${err.code === 'ENXIO' ? 'no reader' : 'missing'}`);
    }
    throw e;
  }
  try {
    if (!fs.fstatSync(fd).isFIFO()) throw new ShutdowndUnreachable(`unable to talk to shutdownd: ${fifo} is not a fifo`);
    // the probe: an empty write fails (EPIPE) if the reader went away after our open
    try {
      fs.writeSync(fd, Buffer.alloc(0));
    } catch (e) {
      throw new ShutdowndUnreachable(`unable to talk to shutdownd: ${(e as NodeJS.ErrnoException).code}`);
    }
    const n = fs.writeSync(fd, record);
    if (n !== record.length) throw new Error(`short write to ${fifo}: ${n} of ${record.length} bytes`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Parse shutdown's TIME: `now`, `[+]mins`, `hh:mm` (the next time the local clock shows it). Returns the
 * delay in ms, or null if TIME is malformed.
 */
export function parseShutdownTime(text: string, now: Date = new Date()): number | null {
  if (text === 'now') return 0;
  let m = /^\+?([0-9]{1,9})$/.exec(text);
  if (m) return Number(m[1]) * 60000;
  m = /^([0-9]{1,2}):([0-9]{2})$/.exec(text);
  if (m) {
    const h = Number(m[1]);
    const min = Number(m[2]);
    if (h > 23 || min > 59) return null;
    const t = new Date(now.getTime());
    t.setHours(h, min, 0, 0);
    if (t.getTime() <= now.getTime()) t.setDate(t.getDate() + 1);
    return t.getTime() - now.getTime();
  }
  return null;
}
