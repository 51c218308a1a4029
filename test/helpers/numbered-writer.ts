/**
 * Fixture (a program, not a test): `node numbered-writer.js N BATCH INTERVAL_MS [START]` writes the lines
 * "%09d <padding>\n" for START..START+N-1 (START default 1) to fd 1, BATCH lines per write(2), one write every
 * INTERVAL_MS (0 = as fast as the reader takes them), with blocking writes: a full pipe stops it, as a
 * service is stopped by back-pressure. Used by the logger kill tests (test/helpers/logkill.ts) and the
 * benches; exits 0 once everything is written.
 */
import * as fs from 'node:fs';

const N = Number(process.argv[2] ?? 1000);
const BATCH = Math.max(1, Number(process.argv[3] ?? 100));
const INTERVAL = Number(process.argv[4] ?? 0);
const START = Number(process.argv[5] ?? 1);

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const nap = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms);

/** one line: the number, then 0-40 bytes of padding so lines are not all the same length */
export function numberedLine(i: number): string {
  return `${String(i).padStart(9, '0')} ${'abcdefghijklmnopqrstuvwxyz0123456789ABCD'.slice(0, i % 41)}\n`;
}

function writeAll(buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      nap(2); // a non-blocking stdout: wait for room
    }
  }
}

if (require.main === module) {
  const t0 = Date.now();
  let k = 0;
  for (let i = START; i < START + N; i += BATCH) {
    let s = '';
    for (let j = i; j < Math.min(START + N, i + BATCH); j++) s += numberedLine(j);
    writeAll(Buffer.from(s, 'latin1'));
    k++;
    if (INTERVAL > 0) {
      const due = t0 + k * INTERVAL - Date.now();
      if (due > 0) nap(due);
    }
  }
}
