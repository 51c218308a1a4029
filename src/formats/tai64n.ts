/**
 * TAI64N, as s6 and skalibs use it (s6-protocol.md §1.1).
 *
 * A packed stamp is 12 bytes: 8 bytes big-endian seconds, 4 bytes big-endian nanoseconds. The seconds are
 * 2^62 + TAI seconds, and TAI = Unix time + 10 + 27 leap seconds, so today `sec = 2^62 + unix + 37`. Both
 * sides must agree on the +37: s6-svstat subtracts a stored stamp from its own clock.
 * The text label is '@' + 24 lowercase hex digits.
 */

/** A TAI64N stamp: `sec` already includes the 2^62 offset and the +37. */
export interface Tain {
  sec: bigint;
  nsec: number;
}

export const TAI_OFFSET = (1n << 62n) + 37n;
export const TAIN_PACK = 12;
export const TAIN_LABEL_LENGTH = 25;

// Wall-clock nanoseconds: hrtime gives sub-millisecond resolution, Date.now() keeps it honest. If the two
// drift apart by more than 2 ms (clock stepped), the base is taken again from the wall clock.
let base = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();

/** CLOCK_REALTIME in nanoseconds since the Unix epoch (nanosecond resolution, wall-clock accurate to ~2 ms). */
export function realtimeNs(): bigint {
  const t = base + process.hrtime.bigint();
  const wall = BigInt(Date.now()) * 1000000n;
  const d = t - wall;
  if (d > 2000000n || d < -2000000n) {
    base = wall - process.hrtime.bigint();
    return wall;
  }
  return t;
}

export function tainFromUnixNs(ns: bigint): Tain {
  return { sec: ns / 1000000000n + TAI_OFFSET, nsec: Number(ns % 1000000000n) };
}

export function tainNow(): Tain {
  return tainFromUnixNs(realtimeNs());
}

export function tainToUnixMs(t: Tain): number {
  return Number(t.sec - TAI_OFFSET) * 1000 + Math.floor(t.nsec / 1e6);
}

export function tainFromUnixMs(ms: number): Tain {
  return tainFromUnixNs(BigInt(Math.round(ms)) * 1000000n);
}

export const TAIN_ZERO: Tain = { sec: 0n, nsec: 0 };

export function tainCompare(a: Tain, b: Tain): number {
  if (a.sec !== b.sec) return a.sec < b.sec ? -1 : 1;
  return a.nsec - b.nsec;
}

/** Whole seconds from `from` to `to` (negative clamps to 0, as s6-svstat treats a future stamp as now). */
export function tainSecondsBetween(from: Tain, to: Tain): number {
  if (tainCompare(to, from) <= 0) return 0;
  let s = to.sec - from.sec;
  if (to.nsec < from.nsec) s -= 1n;
  return Number(s);
}

export function tainPack(t: Tain, buf: Buffer = Buffer.alloc(12), off = 0): Buffer {
  buf.writeBigUInt64BE(t.sec, off);
  buf.writeUInt32BE(t.nsec, off + 8);
  return buf;
}

export function tainUnpack(buf: Uint8Array, off = 0): Tain {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { sec: b.readBigUInt64BE(off), nsec: b.readUInt32BE(off + 8) };
}

const HEX = '0123456789abcdef';

/** '@' + 24 lowercase hex digits */
export function tainLabel(t: Tain): string {
  let s = '@' + t.sec.toString(16).padStart(16, '0');
  let n = t.nsec;
  let h = '';
  for (let i = 0; i < 8; i++) {
    h = HEX[n & 15] + h;
    n >>>= 4;
  }
  return s + h;
}

/** Parse '@' + 24 hex (the '@' is optional); null if malformed. */
export function tainParseLabel(label: string): Tain | null {
  const s = label.startsWith('@') ? label.slice(1) : label;
  if (!/^[0-9a-fA-F]{24}$/.test(s)) return null;
  return { sec: BigInt('0x' + s.slice(0, 16)), nsec: parseInt(s.slice(16), 16) };
}
