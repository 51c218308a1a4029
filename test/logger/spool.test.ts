// The spool (src/logger/spool.ts): its header format, and the start-up repair after a logger died at each
// instant the kill tests can only hit by chance — after taking input and before writing it, in the middle of
// writing it (a line cut in two in `current`), after writing it and before the header says so, with the
// newest header torn. Each state is made by hand from a real engine's files; a fresh engine must then leave
// every line exactly once, in order. (Real SIGKILLs at random instants: kills.test.ts and the stress script.)
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkTmp } from './harness';
import { LogEngine } from '../../src/logger/engine';
import { Spool, SPOOL_HEADER, COMPACT_AT, encodeSlot, decodeSlot, SPOOL_MAX_LOGDIRS } from '../../src/logger/spool';
import { PipeFeeder } from '../../src/logger/feeder';
import { native } from '../../src/sys/native';

function pipe(t: { after(f: () => void): void }): [number, number] {
  const [r, w] = native().pipe(true);
  t.after(() => { native().close(r); native().close(w); });
  return [r, w];
}

function put(fd: number, s: string): void {
  const b = Buffer.from(s, 'latin1');
  assert.equal(native().write(fd, b, 0, b.length), b.length);
}

/** all lines of a logdir: archives by name, then current */
function lines(d: string): string[] {
  const names = fs.readdirSync(d);
  const files = [...names.filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort(), 'current'];
  return files.flatMap((f) => fs.readFileSync(path.join(d, f), 'latin1').split('\n').filter((l) => l !== ''));
}

test('spool header: round trip, the newer valid slot wins, a torn slot falls back to the other', (t) => {
  const marks = [{ dev: 2049n, ino: 123456789012n, s0: 4242 }, { dev: 1n, ino: 2n, s0: 0 }];
  const b = encodeSlot({ seq: 7, start: 5000, end: 0, marks });
  assert.deepEqual(decodeSlot(b, 0), { seq: 7, start: 5000, end: 0, marks });
  const torn = Buffer.from(b);
  torn[20] ^= 1;
  assert.equal(decodeSlot(torn, 0), null, 'a flipped byte fails the checksum');
  assert.ok(SPOOL_MAX_LOGDIRS >= 80);

  const dir = mkTmp('vigil-spool-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sp = Spool.open(dir, true)!;
  sp.mark(SPOOL_HEADER, marks); // slot 0, seq 1
  sp.mark(SPOOL_HEADER + 10, marks); // slot 1, seq 2
  sp.close();
  assert.equal(Spool.open(dir, false)!.header.start, SPOOL_HEADER + 10);
  // tear the newest (slot 1): the previous one is used
  const fd = fs.openSync(path.join(dir, 'spool'), 'r+');
  fs.writeSync(fd, Buffer.from('garbage'), 0, 7, 2048 + 9);
  fs.closeSync(fd);
  const again = Spool.open(dir, false)!;
  assert.equal(again.header.start, SPOOL_HEADER);
  assert.equal(again.damaged, false);
  again.close();
});

/**
 * A logger fed "1\n2\n" through its spool, then "killed" (abandon: no clean close), then the spool and current
 * doctored into the state a kill at instant `at` leaves after taking "3\n4\n5" (5: a partial line).
 */
async function crashAt(t: { after(f: () => void): void }, at: 'taken' | 'half-written' | 'written' | 'written, header torn'): Promise<string[]> {
  const tmp = mkTmp('vigil-spool-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const d = path.join(tmp, 'd');
  const [r, w] = pipe(t);
  const a = new LogEngine({ script: ['./d'], cwd: tmp });
  const fa = new PipeFeeder(r, a);
  assert.equal(fa.how, 'spool');
  put(w, '1\n2\n');
  fa.resume();
  fa.stop();
  assert.equal(fs.readFileSync(path.join(d, 'current'), 'latin1'), '1\n2\n');
  a.abandon();
  // the kill's state, by hand: the header names current at its size now, then "3\n4\n5" is taken
  const sp = Spool.open(d, false)!;
  const st = fs.statSync(path.join(d, 'current'), { bigint: true });
  sp.mark(sp.size - sp.pending, [{ dev: st.dev, ino: st.ino, s0: Number(st.size) }]);
  put(w, '3\n4\n5');
  assert.equal(sp.take(r, 1000), 5);
  if (at === 'half-written') fs.appendFileSync(path.join(d, 'current'), '3\n4');
  if (at.startsWith('written')) fs.appendFileSync(path.join(d, 'current'), '3\n4\n');
  if (at === 'written, header torn') {
    // the settling header was being written when the kill came: torn, so the one before it counts
    const before = sp.header.start;
    sp.mark(sp.size - 1, [{ dev: st.dev, ino: st.ino, s0: Number(st.size) + 4 }]);
    const head = fs.readFileSync(path.join(d, 'spool')).subarray(0, SPOOL_HEADER);
    const newest = decodeSlot(head, 0)?.seq === sp.header.seq ? 0 : 1;
    assert.equal(decodeSlot(head, newest * 2048)!.seq, sp.header.seq);
    const fd = fs.openSync(path.join(d, 'spool'), 'r+');
    fs.writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, newest * 2048 + 8);
    fs.closeSync(fd);
    assert.equal(Spool.open(d, false)!.header.start, before);
  }
  sp.close();
  // the next logger: cuts current back, writes 3 and 4 again, holds 5; then the line's end arrives
  const b = new LogEngine({ script: ['./d'], cwd: tmp });
  const fb = new PipeFeeder(r, b);
  put(w, '\n6\n');
  fb.resume();
  fb.stop();
  b.end();
  await b.close();
  return lines(d);
}

for (const at of ['taken', 'half-written', 'written', 'written, header torn'] as const) {
  test(`a logger killed with input ${at} but not settled: the next one leaves every line once, in order`, async (t) => {
    assert.deepEqual(await crashAt(t, at), ['1', '2', '3', '4', '5', '6']);
  });
}

test('a partial line waits in the spool across a kill (no separator in the pipe), and stamps come back whole', async (t) => {
  const tmp = mkTmp('vigil-spool-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const [r, w] = pipe(t);
  const a = new LogEngine({ script: ['t', './d'], cwd: tmp });
  const fa = new PipeFeeder(r, a);
  put(w, 'first\nhalf a li');
  fa.resume();
  fa.stop();
  a.abandon(); // killed: "half a li" is in memory and in the spool, not in the pipe
  const b = new LogEngine({ script: ['t', './d'], cwd: tmp });
  const fb = new PipeFeeder(r, b);
  put(w, 'ne\nlast\n');
  fb.resume();
  fb.stop();
  await b.close();
  const got = lines(path.join(tmp, 'd'));
  assert.deepEqual(got.map((l) => l.replace(/^@[0-9a-f]{24} /, '')), ['first', 'half a line', 'last']);
  assert.ok(got.every((l) => /^@[0-9a-f]{24} /.test(l)), got.join('|'));
});

test('the spool is cut back once big, keeping its partial line; a restart feeds nothing twice', async (t) => {
  const tmp = mkTmp('vigil-spool-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const [r, w] = pipe(t);
  const e = new LogEngine({ script: ['s100000000', './d'], cwd: tmp });
  const f = new PipeFeeder(r, e);
  let all = '';
  for (let i = 1; i <= 1000; i++) all += `${String(i).padStart(6, '0')} ${'x'.repeat(92)}\n`;
  all = all.repeat(20); // 2 000 000 bytes
  let max = 0;
  // pieces that end in the middle of a line: the spool keeps a partial line at almost every settle
  for (let off = 0; off < all.length; off += 60037) {
    put(w, all.slice(off, off + 60037));
    f.resume();
    max = Math.max(max, fs.statSync(path.join(tmp, 'd', 'spool')).size);
  }
  f.stop();
  assert.ok(max < SPOOL_HEADER + COMPACT_AT + 65536, `spool up to ${max} bytes`);
  e.abandon();
  const e2 = new LogEngine({ script: ['s100000000', './d'], cwd: tmp });
  await e2.close();
  const got = lines(path.join(tmp, 'd'));
  assert.equal(got.length, 20000, 'every line once, none fed twice after the restart');
  assert.equal(got.join('\n') + '\n', all);
});

test('a logger killed right after its first take into a fresh spool: the next one writes those lines once', async (t) => {
  const tmp = mkTmp('vigil-spool-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const d = path.join(tmp, 'd');
  const [r, w] = pipe(t);
  const a = new LogEngine({ script: ['./d'], cwd: tmp });
  assert.equal(new PipeFeeder(r, a).how, 'spool');
  a.abandon();
  // what its first feedFromPipe does before the kill: a header, then the take
  const sp = Spool.open(d, true)!;
  assert.equal(sp.stale, true, 'no header yet');
  const st = fs.statSync(path.join(d, 'current'), { bigint: true });
  sp.mark(sp.size - sp.pending, [{ dev: st.dev, ino: st.ino, s0: 0 }]);
  assert.equal(sp.header.start, SPOOL_HEADER, 'the region starts after the header');
  put(w, '1\n2\n');
  assert.equal(sp.take(r, 1000), 4);
  sp.close();
  const b = new LogEngine({ script: ['./d'], cwd: tmp });
  await b.close();
  assert.deepEqual(lines(d), ['1', '2']);
});
