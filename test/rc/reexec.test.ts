// The service manager's engine state across a re-exec (src/rc/reexec.ts): a state taken in the middle of a
// transition (a oneshot in flight with its timeout, a longrun waiting for readiness, a reload queued behind
// with its own graph) goes through JSON and back, and the copy steps exactly as the original: the same effects
// for the same events, the same state after them. Pure, no process.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createState, Effect, EngineEvent, EngineState, step } from '../../src/rc/engine';
import { decodeEngine, encodeEngine } from '../../src/rc/reexec';
import { def, graphOf } from '../helpers/rcworld';

const roundTrip = (st: EngineState): EngineState => decodeEngine(JSON.parse(JSON.stringify(encodeEngine(st))));
/** the state as JSON says it (an absent field and an undefined one are the same there) */
const asJson = (st: EngineState): unknown => JSON.parse(JSON.stringify(encodeEngine(st)));

test('a state in the middle of a transition steps the same after JSON and back', () => {
  const longrun = def('db', 'longrun', { notif: 3 });
  longrun.longrun!.downSignal = Buffer.from('SIGHUP\n');
  const g = graphOf([
    def('setup', 'oneshot', { timeoutUp: 5000 }), longrun, def('web', 'oneshot', { deps: ['setup', 'db'], timeoutUp: 3000 }),
    def('default', 'bundle', { contents: ['web'] }),
  ]);
  const st = createState(g);
  const fx: Effect[] = [];
  const feed = (s: EngineState, evs: EngineEvent[]): Effect[] => evs.flatMap((e) => step(s, e));
  fx.push(...feed(st, [
    { t: 'change', now: 0, job: 1, up: true, names: ['default'], all: false, prune: false, force: false, timeout: 60000, verbosity: 2, block: true },
    { t: 'snapshot', now: 1, svc: 'db', supervised: true, up: false, ready: false },
    { t: 'sv', now: 2, svc: 'db', events: 'u' },
    // a reload waits behind the running job, carrying its own graph
    { t: 'reload', now: 3, job: 2, graph: graphOf([def('setup', 'oneshot'), def('other', 'oneshot')]), rerun: false, timeout: 0, verbosity: 1, block: true },
  ]));
  assert.ok(fx.some((f) => f.t === 'spawn' && f.svc === 'setup'), JSON.stringify(fx));
  assert.equal(st.recs[g.byName.get('db')!].busy, 'up', 'db waits for its readiness');
  assert.equal(st.queue.length, 1);

  const copy = roundTrip(st);
  assert.deepEqual(asJson(copy), asJson(st));
  assert.equal(copy.graph.atoms[copy.graph.byName.get('db')!].def.longrun!.downSignal!.toString(), 'SIGHUP\n');
  assert.ok(copy.queue[0].ev.t === 'reload' && copy.queue[0].ev.graph.byName.has('other'));
  assert.equal(copy.job!.pending.constructor, Int32Array);

  // what happens after the re-exec: setup exits, db gets ready, web times out; then the reload runs
  const after: EngineEvent[] = [
    { t: 'exit', now: 100, svc: 'setup', status: 0 },
    { t: 'sv', now: 150, svc: 'db', events: 'U' },
    { t: 'timer', now: 3200, key: 'T\tweb' },
    { t: 'timer', now: 6200, key: 'K\tweb' },
    { t: 'exit', now: 6300, svc: 'web', status: 9 },
  ];
  const a = feed(st, after);
  const b = feed(copy, after);
  assert.deepEqual(b, a);
  assert.ok(a.some((f) => f.t === 'reply' && f.job === 1 && f.code === 1), JSON.stringify(a));
  // the queued reload began: db (gone from its graph) is brought down first
  assert.equal(copy.job!.id, 2);
  assert.ok(a.some((f) => f.t === 'longrun' && f.svc === 'db' && f.dir === 'down'), JSON.stringify(a));
  assert.deepEqual(asJson(copy), asJson(st));
});

test('a job without a deadline keeps none (Infinity is not JSON)', () => {
  const st = createState(graphOf([def('a', 'oneshot')]));
  step(st, { t: 'change', now: 0, job: 1, up: true, names: ['a'], all: false, prune: false, force: false, timeout: 0, verbosity: 1, block: true });
  assert.equal(st.job!.deadline, Infinity);
  assert.equal(roundTrip(st).job!.deadline, Infinity);
});

test('a state whose records do not match its graph is refused', () => {
  const j = encodeEngine(createState(graphOf([def('a', 'oneshot'), def('b', 'oneshot')])));
  j.recs.reverse();
  assert.throws(() => decodeEngine(j), /record 0 is b, not a/);
});
