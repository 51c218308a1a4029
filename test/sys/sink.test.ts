// The bounded non-blocking sink (src/sys/sink.ts) on a real non-blocking pipe: writes go straight through
// while the pipe takes them; a full pipe makes write() hold (never block) up to max, then drop whole writes
// and count their lines; the writable watcher flushes in order, reports the drops once, calls onDrained and
// stops; a hard error (EPIPE) kills the sink once; settle() waits, bounded.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { native } from '../../src/sys/native';
import { EPIPE } from '../../src/sys/errors';
import { Sink } from '../../src/sys/sink';

const n = native();

/** fill the pipe until write returns EAGAIN; returns the bytes written */
function fill(w: number): number {
  const chunk = Buffer.alloc(65536, 0x2e);
  let total = 0;
  for (;;) {
    const r = n.write(w, chunk, 0, chunk.length);
    if (r <= 0) return total;
    total += r;
  }
}

function drainAll(r: number): Buffer {
  const buf = Buffer.alloc(65536);
  const out: Buffer[] = [];
  for (let k = n.read(r, buf, 0, buf.length); k > 0; k = n.read(r, buf, 0, buf.length)) out.push(Buffer.from(buf.subarray(0, k)));
  return Buffer.concat(out);
}

test('straight through while the fd takes it; bounded hold, counted drops, ordered flush on writable', async (t) => {
  const [r, w] = n.pipe(true);
  t.after(() => { for (const fd of [r, w]) { try { n.close(fd); } catch { /* closed */ } } });
  const events: string[] = [];
  let drained!: () => void;
  const drainedP = new Promise<void>((res) => { drained = res; });
  const sink = new Sink(w, {
    max: 10,
    onDropped: (k) => events.push(`dropped ${k}`),
    onDrained: () => { events.push('drained'); drained(); },
    onError: (e) => events.push(`error ${e}`),
  });
  assert.equal(sink.write('a\n'), true, 'an empty pipe takes it now');
  assert.equal(drainAll(r).toString(), 'a\n');
  const filled = fill(w);
  assert.ok(filled > 0);
  assert.equal(sink.write('12345\n'), false, 'held: the pipe is full');
  assert.equal(sink.pending, 6);
  assert.equal(sink.write('x\ny\nz\n'), false, 'past max: dropped whole');
  assert.equal(sink.dropped, 3);
  assert.equal(sink.droppedBytes, 6);
  assert.equal(sink.write('abc\n'), false, 'fits again under max: held');
  assert.equal(sink.pending, 10);
  // the reader catches up: the watcher flushes what was held, in order
  const got = drainAll(r);
  assert.equal(got.length, filled);
  const waited = setTimeout(() => drained(), 5000);
  await drainedP;
  clearTimeout(waited);
  assert.deepEqual(events, ['dropped 3', 'drained']);
  assert.equal(sink.pending, 0);
  assert.equal(drainAll(r).toString(), '12345\nabc\n');
  await sink.settle(10); // nothing held: at once
});

test('a hard error (EPIPE) kills the sink once; later writes are ignored; settle() resolves', async (t) => {
  const [r, w] = n.pipe(true);
  t.after(() => { try { n.close(w); } catch { /* closed */ } });
  const errors: number[] = [];
  const sink = new Sink(w, { onError: (e) => errors.push(e) });
  n.close(r);
  assert.equal(sink.write('lost\n'), false);
  assert.equal(sink.dead, true);
  assert.equal(sink.write('also lost\n'), false);
  assert.deepEqual(errors, [-EPIPE]);
  await sink.settle(1000);
  sink.close();
});
