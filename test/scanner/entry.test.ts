/**
 * The scanner's per-entry machine (src/scanner/entry.ts): s6-svscan's rules for a service it found, pure,
 * on a clock moved by hand. The real-process side (test/scanner/*.test.ts against s6-svscan) proves the wiring.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EntryEffect, EntryEvent, EntryRecord, newEntry, Side, stepEntry } from '../../src/scanner/entry';

/** drives one entry as the scanner does: start effects are answered at once (ok unless told to fail) */
class Driver {
  rec: EntryRecord;
  now = 0;
  readonly acts: string[] = [];
  failing = new Map<Side, string>();
  constructor(logged: boolean) {
    this.rec = newEntry('1:2', 'web', '/scan/web', false, logged ? [10, 11] : null);
  }
  feed(first: EntryEvent): void {
    let ev: EntryEvent | null = first;
    while (ev) {
      const out = stepEntry(this.rec, ev, this.now);
      this.rec = out.record;
      ev = null;
      for (const fx of out.effects) {
        this.acts.push(show(fx));
        if (fx.t === 'start') {
          const msg = this.failing.get(fx.side);
          ev = msg ? { t: 'setupFailed', side: fx.side, msg } : { t: 'started', side: fx.side };
        }
      }
    }
  }
  /** move the clock, firing side deadlines as they fall due */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = (['log', 'main'] as Side[])
        .map((s) => [s, (s === 'main' ? this.rec.main : this.rec.log)?.deadline ?? null] as const)
        .filter(([, d]) => d !== null && d <= end)
        .sort((a, b) => (a[1] as number) - (b[1] as number))[0];
      if (!due) break;
      this.now = due[1] as number;
      this.feed({ t: 'timeout', side: due[0] });
    }
    this.now = end;
  }
  take(): string[] {
    return this.acts.splice(0);
  }
}

function show(fx: EntryEffect): string {
  switch (fx.t) {
    case 'start': return `start ${fx.side}`;
    case 'relocate': return `relocate ${fx.dir}`;
    case 'closePipe': return `close ${fx.fds.join(',')}`;
    case 'warn': return `warn ${fx.msg}`;
    case 'forget': return `forget${fx.inactive ? ' inactive' : ''}`;
    case 'rescan': return `rescan ${fx.after}`;
  }
}

test('discovery: the logger first, then the service', () => {
  const d = new Driver(true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), ['start log', 'start main']);
  assert.equal(d.rec.active, true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), [], 'running sides are left alone');
});

test('a supervision that ends while active comes back 1 s later, not before', () => {
  const d = new Driver(true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.take();
  d.feed({ t: 'ended', side: 'main' });
  assert.deepEqual(d.take(), []);
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), [], 'a scan does not bypass the 1 s');
  d.advance(999);
  assert.deepEqual(d.take(), []);
  d.advance(1);
  assert.deepEqual(d.take(), ['start main']);
});

test('a set-up failure backs off 1, 2, 4 … 60 s and is said once while it lasts', () => {
  const e = new Driver(false);
  e.failing.set('main', 'web: not a directory');
  e.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(e.take(), ['start main', 'warn web: not a directory (will retry)']);
  const starts: number[] = [];
  let warns = 0;
  for (let t = 0; t < 400000; t += 500) {
    e.advance(500);
    const acts = e.take();
    if (acts.includes('start main')) starts.push(e.now);
    warns += acts.filter((a) => a.startsWith('warn')).length;
  }
  const gaps = starts.map((t, i) => t - (i ? starts[i - 1] : 0));
  assert.deepEqual(gaps.slice(0, 9), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(warns, 0, 'the same problem is not said again');
  e.failing.set('main', 'web: something else');
  e.advance(60000);
  assert.deepEqual(e.take(), ['start main', 'warn web: something else (will retry)']);
  e.failing.delete('main');
  e.advance(60000);
  assert.deepEqual(e.take(), ['start main']);
  assert.equal(e.rec.main.fails, 0);
});

test('inactive: restarts cancelled, the pipe closed once one side is gone, the entry dropped once both are', () => {
  const d = new Driver(true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.feed({ t: 'ended', side: 'main' });
  d.take();
  d.feed({ t: 'missing' });
  assert.deepEqual(d.take(), ['close 10,11'], 'the service side is gone: the pipe closes (the logger gets EOF)');
  d.advance(5000);
  assert.deepEqual(d.take(), [], 'the pending restart was cancelled');
  d.feed({ t: 'ended', side: 'log' });
  assert.deepEqual(d.take(), ['forget inactive']);
  assert.equal(d.rec.gone, true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), [], 'a dropped entry takes no events');
});

test('inactive with both sides running: nothing is killed, nothing closed', () => {
  const d = new Driver(true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.take();
  d.feed({ t: 'missing' });
  assert.deepEqual(d.take(), []);
  assert.equal(d.rec.pipe !== null, true);
  // back before anything ended: active again, nothing to start
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), []);
});

test('seen again after its pipe was closed: dropped once both sides end, then rediscovered by a scan 1 s later', () => {
  const d = new Driver(true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.feed({ t: 'missing' });
  d.feed({ t: 'ended', side: 'main' });
  assert.deepEqual(d.take(), ['start log', 'start main', 'close 10,11']);
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), [], 'no start without the pipe');
  d.feed({ t: 'ended', side: 'log' });
  assert.deepEqual(d.take(), ['forget', 'rescan 1000']);
});

test('an entry without a logger restarts 1 s after its supervision ended, and is dropped when inactive and ended', () => {
  const d = new Driver(false);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.feed({ t: 'ended', side: 'main' });
  d.advance(1000);
  assert.deepEqual(d.take(), ['start main', 'start main']);
  d.feed({ t: 'missing' });
  d.feed({ t: 'ended', side: 'main' });
  assert.deepEqual(d.take(), ['forget inactive']);
});

test('renamed: relocated; followed to a dot name when it goes missing', () => {
  const d = new Driver(false);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.feed({ t: 'seen', dir: '/scan/www' });
  assert.deepEqual(d.take(), ['start main', 'relocate /scan/www']);
  assert.equal(d.rec.name, 'web', 'the name stays');
  d.feed({ t: 'missing', movedTo: '/scan/.shutdown:www' });
  assert.deepEqual(d.take(), ['relocate /scan/.shutdown:www']);
  assert.equal(d.rec.active, false);
});

test('stop: nothing starts any more, waits cancelled, the pipe closed', () => {
  const d = new Driver(true);
  d.feed({ t: 'seen', dir: '/scan/web' });
  d.feed({ t: 'ended', side: 'main' });
  d.take();
  d.feed({ t: 'stop' });
  assert.deepEqual(d.take(), ['close 10,11']);
  d.advance(10000);
  d.feed({ t: 'ended', side: 'log' });
  d.feed({ t: 'seen', dir: '/scan/web' });
  assert.deepEqual(d.take(), []);
});

test('step does not modify its input record', () => {
  const d = new Driver(true);
  const before = JSON.stringify(d.rec);
  stepEntry(d.rec, { t: 'seen', dir: '/x' }, 0);
  assert.equal(JSON.stringify(d.rec), before);
});
