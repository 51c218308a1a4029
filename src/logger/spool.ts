/**
 * The spool: where a logger keeps the input it has taken from its pipe until every logdir holds its output, so
 * that a SIGKILL at any instant neither loses nor doubles a line (the argument is in README.md, "A killed
 * logger loses nothing and doubles nothing").
 *
 * A file `spool` in the first logdir of the script:
 *
 *   [slot A: 2048 bytes][slot B: 2048 bytes][input bytes ...]
 *
 * A slot: "VSP1", seq (u32), start (u64: file offset where the input not yet applied begins), end (u64: where
 * it ends; 0 = at the end of the file, the usual case — set only for an instant while the file is compacted), n (u32), then n ×
 * { dev, ino, s0 } (u64 each: for logdir i of the script, the `current` the unapplied input's output goes to and
 * its size before that output), then an FNV-1a checksum (u32) of the bytes before it. Each write of the header
 * goes to the slot not holding the newest valid header, so a write torn by a crash leaves the previous header
 * valid — and every previous header also describes a recoverable state (README.md). Reading picks the valid
 * slot with the higher seq.
 *
 * The region [start, size) is input taken from the pipe whose output is not known to be complete in every
 * logdir; its tail after the last separator is the partial line the engine holds in memory. take() moves bytes
 * from the pipe to the end of the file with splice(2): the kernel writes and consumes the same bytes in one
 * system call, so no instant exists where bytes are neither in the pipe nor here.
 *
 * Once the region is empty and the file has grown past COMPACT_AT, it is cut back to the header (compact()).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';

export const SPOOL_NAME = 'spool';
const SLOT = 2048;
export const SPOOL_HEADER = 2 * SLOT;
const FIXED = 4 + 4 + 8 + 8 + 4;
/** the most logdirs one header slot can describe (a script with more logs without a spool) */
export const SPOOL_MAX_LOGDIRS = Math.floor((SLOT - FIXED - 4) / 24);
/** cut the file back to its header (keeping a partial line) once it holds this much input past the header */
export const COMPACT_AT = 1 << 16;
const MAGIC = 0x31505356; // "VSP1" little-endian

/** where the output of the unapplied input starts, in logdir i's current */
export interface SpoolMark {
  dev: bigint;
  ino: bigint;
  s0: number;
}

export interface SpoolHeader {
  seq: number;
  start: number;
  /** 0: the region ends at the end of the file */
  end: number;
  marks: SpoolMark[];
}

function fnv1a(b: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** encode a header into a SLOT-byte buffer */
export function encodeSlot(h: SpoolHeader): Buffer {
  if (h.marks.length > SPOOL_MAX_LOGDIRS) throw new Error(`spool: ${h.marks.length} logdirs (at most ${SPOOL_MAX_LOGDIRS})`);
  const b = Buffer.alloc(SLOT);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(h.seq >>> 0, 4);
  b.writeBigUInt64LE(BigInt(h.start), 8);
  b.writeBigUInt64LE(BigInt(h.end), 16);
  b.writeUInt32LE(h.marks.length, 24);
  let o = FIXED;
  for (const m of h.marks) {
    b.writeBigUInt64LE(m.dev, o);
    b.writeBigUInt64LE(m.ino, o + 8);
    b.writeBigUInt64LE(BigInt(m.s0), o + 16);
    o += 24;
  }
  b.writeUInt32LE(fnv1a(b, 0, o), o);
  return b;
}

/** decode one slot; null if it is not a valid header */
export function decodeSlot(b: Buffer, at: number): SpoolHeader | null {
  if (b.length < at + FIXED + 4 || b.readUInt32LE(at) !== MAGIC) return null;
  const n = b.readUInt32LE(at + 24);
  if (n > SPOOL_MAX_LOGDIRS) return null;
  const end = at + FIXED + n * 24;
  if (b.readUInt32LE(end) !== fnv1a(b, at, end)) return null;
  const marks: SpoolMark[] = [];
  for (let o = at + FIXED; o < end; o += 24) {
    marks.push({ dev: b.readBigUInt64LE(o), ino: b.readBigUInt64LE(o + 8), s0: Number(b.readBigUInt64LE(o + 16)) });
  }
  return { seq: b.readUInt32LE(at + 4), start: Number(b.readBigUInt64LE(at + 8)), end: Number(b.readBigUInt64LE(at + 16)), marks };
}

/** a > b in u32 sequence arithmetic */
function newer(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export class Spool {
  /** file size (bytes of header + every input byte taken and not yet compacted away) */
  size: number;
  /** the header as last written (or read) */
  header: SpoolHeader;
  /** the slot holding `header` (0 or 1; -1: none yet) */
  private slot: number;

  private constructor(readonly fd: number, readonly file: string, size: number, header: SpoolHeader, slot: number, readonly damaged: boolean) {
    this.size = size;
    this.header = header;
    this.slot = slot;
  }

  /**
   * Open DIR/spool. create=false: null when there is none. A file shorter than the header, or with no valid
   * slot, counts as empty (damaged = true when it held input bytes that cannot be placed).
   */
  static open(dir: string, create: boolean): Spool | null {
    const file = path.join(dir, SPOOL_NAME);
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0), 0o644);
    } catch (e) {
      if (!create && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const head = Buffer.alloc(SPOOL_HEADER);
      const got = size >= SPOOL_HEADER ? fs.readSync(fd, head, 0, SPOOL_HEADER, 0) : 0;
      const a = got === SPOOL_HEADER ? decodeSlot(head, 0) : null;
      const b = got === SPOOL_HEADER ? decodeSlot(head, SLOT) : null;
      let h: SpoolHeader | null = a;
      let slot = a ? 0 : -1;
      if (b && (!a || newer(b.seq, a.seq))) { h = b; slot = 1; }
      const damaged = !h && size > SPOOL_HEADER;
      if (!h) h = { seq: 0, start: Math.max(size, SPOOL_HEADER), end: 0, marks: [] };
      let len = size;
      if (h.end > 0 && h.end < size) {
        // a compaction cut short after its header: the bytes past the region are stale — cut them now
        fs.ftruncateSync(fd, h.end);
        len = h.end;
      }
      return new Spool(fd, file, len, h, slot, damaged);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** bytes of input taken and not yet applied (the region [start, size)) */
  get pending(): number {
    return Math.max(0, this.size - this.header.start);
  }

  /** the header must be written (again) before the next take: none yet, or a compaction left its end set */
  get stale(): boolean {
    return this.slot < 0 || this.header.end !== 0;
  }

  /** write a header (into the other slot): the region now starts at `start`, its output at `marks` */
  mark(start: number, marks: SpoolMark[], end = 0): void {
    const h: SpoolHeader = { seq: (this.header.seq + 1) >>> 0, start: Math.max(start, SPOOL_HEADER), end, marks };
    if (this.size < SPOOL_HEADER) {
      fs.ftruncateSync(this.fd, SPOOL_HEADER);
      this.size = SPOOL_HEADER;
    }
    const slot = this.slot === 0 ? 1 : 0;
    const b = encodeSlot(h);
    const len = FIXED + marks.length * 24 + 4;
    const w = fs.writeSync(this.fd, b, 0, len, slot * SLOT);
    if (w !== len) throw Object.assign(new Error(`short write of the spool header (${w} bytes)`), { code: 'EIO' });
    this.header = h;
    this.slot = slot;
  }

  /**
   * Move up to len bytes from pipe fdIn to the end of the spool (splice(2), non-blocking). Returns the bytes
   * moved, 0 at EOF, or a negative errno (-EAGAIN: the pipe is empty; -EINVAL: not a pipe, or this file system
   * cannot splice). The header must already say where the region starts (mark()).
   */
  take(fdIn: number, len: number): number {
    const r = native().splice(fdIn, this.fd, this.size, len);
    if (r > 0) this.size += r;
    return r;
  }

  /** read len bytes of the spool at pos into buf[off...] */
  read(buf: Buffer, off: number, len: number, pos: number): number {
    let done = 0;
    while (done < len) {
      const r = fs.readSync(this.fd, buf, off + done, len - done, pos + done);
      if (r <= 0) break;
      done += r;
    }
    return done;
  }

  /**
   * The file holds COMPACT_AT bytes of input or more and the region is at most a partial line (its output
   * settled): copy that line to the start of the data area (over input already applied: the region, further
   * on, is untouched), write a header whose region is that copy (end set: it ends there, not at the end of the
   * file), cut the file there, and write the usual header (end 0). A crash between any two steps leaves a
   * header that describes the file: the old region, or the copy.
   */
  compactIfBig(marks: SpoolMark[]): void {
    const tail = this.pending;
    if (this.size < SPOOL_HEADER + COMPACT_AT || tail > COMPACT_AT / 2) return;
    if (tail > 0) {
      const b = Buffer.allocUnsafe(tail);
      if (this.read(b, 0, tail, this.header.start) !== tail) return;
      const w = fs.writeSync(this.fd, b, 0, tail, SPOOL_HEADER);
      if (w !== tail) return;
      this.mark(SPOOL_HEADER, marks, SPOOL_HEADER + tail);
    }
    fs.ftruncateSync(this.fd, SPOOL_HEADER + tail);
    this.size = SPOOL_HEADER + tail;
    this.mark(SPOOL_HEADER, marks);
  }

  close(): void {
    try { fs.closeSync(this.fd); } catch { /* gone either way */ }
  }
}
