/**
 * A byte queue for one output (a logdir's current, stdout): lines are appended, writes consume from the
 * front. It also records "marks": the ends of the input slices (see engine.ts, READ_QUANTUM) so a logdir can
 * rotate exactly where s6-log would, between the output of two reads.
 *
 * Memory: an empty queue holds no buffer. Buffers come from a small process-wide free list and go back to
 * it as soon as the queue is empty again, so 1000 idle logged services cost no buffer memory at all, and a
 * busy one reuses the same few buffers (no allocation per chunk).
 */

const EMPTY = Buffer.alloc(0);
const MIN_CAP = 64 * 1024;
const POOL_MAX = 8;
const pool: Buffer[] = [];

function take(min: number): Buffer {
  for (let i = pool.length - 1; i >= 0; i--) {
    if (pool[i].length >= min) {
      const b = pool[i];
      pool[i] = pool[pool.length - 1];
      pool.pop();
      return b;
    }
  }
  let cap = MIN_CAP;
  while (cap < min) cap *= 2;
  return Buffer.allocUnsafe(cap);
}

function give(b: Buffer): void {
  // keep only moderately sized buffers: a giant one made by a backlog is returned to the GC
  if (b.length >= MIN_CAP && b.length <= 4 * 1024 * 1024 && pool.length < POOL_MAX) pool.push(b);
}

export class OutQueue {
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** absolute offsets into buf, increasing, each > start */
  marks: number[] = [];

  get length(): number {
    return this.end - this.start;
  }

  /** Make room for n more bytes at `end`; returns buf (which may have changed). */
  reserve(n: number): Buffer {
    if (this.end + n <= this.buf.length) return this.buf;
    const len = this.end - this.start;
    if (len === 0 && this.buf !== EMPTY) {
      give(this.buf);
      this.buf = EMPTY;
      this.start = this.end = 0;
    }
    if (this.start > 0 && len + n <= this.buf.length) {
      this.buf.copy(this.buf, 0, this.start, this.end);
      for (let i = 0; i < this.marks.length; i++) this.marks[i] -= this.start;
      this.start = 0;
      this.end = len;
      return this.buf;
    }
    const nb = take(len + n);
    if (len) this.buf.copy(nb, 0, this.start, this.end);
    for (let i = 0; i < this.marks.length; i++) this.marks[i] -= this.start;
    if (this.buf !== EMPTY) give(this.buf);
    this.buf = nb;
    this.start = 0;
    this.end = len;
    return nb;
  }

  /** Mark the current end as a slice boundary. */
  mark(): void {
    const m = this.marks;
    if (this.end > this.start && (m.length === 0 || m[m.length - 1] !== this.end)) m.push(this.end);
  }

  /** r bytes were written from the front. */
  consumed(r: number): void {
    this.start += r;
    const m = this.marks;
    let k = 0;
    while (k < m.length && m[k] <= this.start) k++;
    if (k) m.splice(0, k);
    if (this.start === this.end) this.clear();
  }

  clear(): void {
    if (this.buf !== EMPTY) give(this.buf);
    this.buf = EMPTY;
    this.start = this.end = 0;
    this.marks.length = 0;
  }
}
