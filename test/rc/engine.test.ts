// The service manager's engine (src/rc/engine.ts) against a fake world and a fake clock: ordering and
// parallelism, failures that skip only their dependents, timeouts that name the limit and what was pending,
// longrun readiness and supervision giving up, the lock, shutdown during start-up, restart, reload, and a
// 1000-service DAG. No process, milliseconds each.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { def, graphOf, RcWorld } from '../helpers/rcworld';

const ok = () => 0;

test('a chain of oneshots comes up in order, one after the other; down runs in reverse', () => {
  const w = new RcWorld(graphOf([def('a', 'oneshot'), def('b', 'oneshot', { deps: ['a'] }), def('c', 'oneshot', { deps: ['b'], down: ['/bin/down'] })]));
  w.autoExit = ok;
  const j = w.change(['c']);
  w.run();
  assert.equal(w.code(j), 0);
  assert.deepEqual(w.starts, ['0 up a', '5 up b', '10 up c']);
  assert.deepEqual(w.up(), ['a', 'b', 'c']);
  assert.deepEqual(w.messages(j), [
    'info: service a: starting', 'info: service a successfully started',
    'info: service b: starting', 'info: service b successfully started',
    'info: service c: starting', 'info: service c successfully started',
  ]);
  // a and b have an empty down: they succeed without a process, after c
  const d = w.change(['a'], { up: false });
  w.run();
  assert.equal(w.code(d), 0);
  assert.deepEqual(w.starts.slice(3), ['15 down c']);
  const order = w.messages(d).filter((m) => m.includes('successfully stopped'));
  assert.deepEqual(order, ['info: service c successfully stopped', 'info: service b successfully stopped', 'info: service a successfully stopped']);
  assert.deepEqual(w.up(), []);
  assert.ok(w.ended.has(j) && w.ended.has(d));
});

test('independent services start in parallel as soon as their dependencies are up', () => {
  const w = new RcWorld(graphOf([
    def('root', 'oneshot'), def('x', 'oneshot', { deps: ['root'] }), def('y', 'oneshot', { deps: ['root'] }),
    def('z', 'oneshot', { deps: ['x', 'y'] }), def('lone', 'oneshot'), def('all', 'bundle', { contents: ['z', 'lone'] }),
  ]));
  w.autoExit = ok;
  const j = w.change(['all']);
  w.run();
  assert.equal(w.code(j), 0);
  assert.deepEqual(w.starts.sort(), ['0 up lone', '0 up root', '10 up z', '5 up x', '5 up y']);
});

test('a failure skips only what depends on it; independent work goes on; exit 1 and one line per cause', () => {
  const w = new RcWorld(graphOf([
    def('base', 'oneshot'), def('bad', 'oneshot', { deps: ['base'] }), def('dep1', 'oneshot', { deps: ['bad'] }),
    def('dep2', 'oneshot', { deps: ['dep1'] }), def('other', 'oneshot', { deps: ['base'] }), def('all', 'bundle', { contents: ['dep2', 'other'] }),
  ]));
  w.autoExit = (name) => (name === 'bad' ? 3 : 0);
  const j = w.change(['all'], { verbosity: 1 });
  w.run();
  assert.equal(w.code(j), 1);
  assert.deepEqual(w.up(), ['base', 'other']);
  assert.equal(w.state('bad'), 'failed');
  assert.equal(w.state('dep1'), 'down');
  assert.deepEqual(w.messages(j), ['warning: unable to start service bad: command exited 3', 'warning: not started because bad failed: dep1, dep2']);
  assert.deepEqual(w.replies.get(j)!.failed, ['bad']);
  // a signal
  const w2 = new RcWorld(graphOf([def('a', 'oneshot')]));
  const j2 = w2.change(['a'], { verbosity: 1 });
  w2.exitStatus('a', 15);
  assert.deepEqual(w2.messages(j2), ['warning: unable to start service a: command crashed with signal 15']);
  // the next change retries it (s6-rc: a failed oneshot stays down, the next -u re-runs up)
  const j3 = w2.change(['a']);
  assert.ok(w2.running.has('a'));
  w2.exit('a', 0);
  assert.equal(w2.code(j3), 0);
});

test('empty up succeeds at once; an exec failure is "command exited 127" with the reason', () => {
  const w = new RcWorld(graphOf([def('noop', 'oneshot', { up: [] }), def('gone', 'oneshot', { deps: ['noop'] })]));
  const j = w.change(['gone'], { verbosity: 1 });
  assert.deepEqual(w.starts, ['0 up gone']);
  w.post({ t: 'spawnFailed', now: 0, svc: 'gone', code: 127, error: 'unable to exec /bin/up: No such file or directory' });
  assert.equal(w.code(j), 1);
  assert.deepEqual(w.messages(j), ['warning: unable to start service gone: command exited 127 (unable to exec /bin/up: No such file or directory)']);
});

test('essential services are not stopped by -d (a warning), only by -D', () => {
  const w = new RcWorld(graphOf([def('core', 'oneshot', { essential: true }), def('app', 'oneshot', { deps: ['core'] })]));
  w.autoExit = ok;
  w.change(['app']);
  w.run();
  const d = w.change(['core'], { up: false, verbosity: 1 });
  w.run();
  assert.equal(w.code(d), 0);
  assert.deepEqual(w.up(), ['core']);
  assert.deepEqual(w.messages(d), ['warning: service core is marked as essential, not stopping it']);
  const dd = w.change(['core'], { up: false, force: true });
  w.run();
  assert.equal(w.code(dd), 0);
  assert.deepEqual(w.up(), []);
});

test('timeout-up on a oneshot: the message names the service, the limit and what is pending; TERM, then KILL', () => {
  const w = new RcWorld(graphOf([
    def('slow', 'oneshot', { timeoutUp: 500 }), def('after', 'oneshot', { deps: ['slow'] }), def('side', 'oneshot'),
    def('all', 'bundle', { contents: ['after', 'side'] }),
  ]), { killGraceMs: 2000 });
  const j = w.change(['all'], { verbosity: 1 });
  w.exit('side', 0);
  w.advance(499);
  assert.equal(w.code(j), undefined);
  w.advance(1);
  assert.deepEqual(w.running.get('slow')!.signals, ['TERM', 'CONT']);
  assert.deepEqual(w.messages(j), ['warning: unable to start service slow: timed out after 500 ms (timeout-up); sent SIGTERM to its process group; still pending: after']);
  assert.equal(w.code(j), undefined, 'the job waits for the process to go');
  w.advance(2000);
  assert.deepEqual(w.running.get('slow')!.signals, ['TERM', 'CONT', 'KILL']);
  w.run();
  assert.equal(w.code(j), 1);
  assert.equal(w.state('slow'), 'failed');
  assert.deepEqual(w.up(), ['side']);
  assert.equal(w.now, 2501, 'KILL after the 2000 ms grace');
});

test('-t: the whole change times out with exit 2 at once, naming what was still pending', () => {
  const w = new RcWorld(graphOf([
    def('a', 'oneshot'), def('b', 'longrun', { deps: ['a'], notif: 3 }), def('c', 'oneshot', { deps: ['b'] }),
  ]), { killGraceMs: 100 });
  w.sv.b = { readyMs: 100000 };
  const j = w.change(['c'], { timeout: 1000, verbosity: 1 });
  w.exit('a', 0);
  w.advance(999);
  assert.equal(w.code(j), undefined);
  w.advance(1);
  assert.equal(w.code(j), 2);
  assert.deepEqual(w.messages(j), ['fatal: timed out after 1000 ms (the -t limit); still pending: b (starting), c']);
  assert.ok(w.effects.some((e) => e.t === 'longrunAbort' && e.svc === 'b'), 'b is brought down');
  w.run();
  assert.ok(w.ended.has(j));
  assert.deepEqual(w.up(), ['a']);
  // the limit of a transition is capped by what is left of -t
  const w2 = new RcWorld(graphOf([def('a', 'oneshot', { timeoutUp: 60000 })]));
  const j2 = w2.change(['a'], { timeout: 300 });
  assert.ok(w2.effects.some((e) => e.t === 'timer' && e.key === 'T\ta' && e.at === 300));
  w2.run();
  assert.equal(w2.code(j2), 2);
});

test('longruns: up = spawned without notification-fd, ready with it; down waits for D', () => {
  const w = new RcWorld(graphOf([def('plain', 'longrun'), def('notif', 'longrun', { notif: 3, deps: ['plain'] })]));
  w.sv.notif = { readyMs: 250 };
  const j = w.change(['notif']);
  w.advance(1);
  assert.equal(w.state('plain'), 'up', 'u is enough');
  w.advance(100);
  assert.equal(w.state('notif'), 'starting', 'u is not enough with notification-fd');
  w.run();
  assert.equal(w.code(j), 0);
  assert.equal(w.state('notif'), 'up');
  assert.ok(w.effects.some((e) => e.t === 'settled' && e.svc === 'notif' && e.dir === 'up'), './down removed on success');
  const d = w.change(['plain'], { up: false });
  w.run();
  assert.equal(w.code(d), 0);
  assert.deepEqual(w.up(), []);
  // already up in the supervisor (e.g. started by hand): success from the snapshot
  w.svState.set('plain', { up: true, ready: false });
  const j3 = w.change(['plain']);
  assert.equal(w.code(j3), 0);
});

test('supervision gave up: finish exit 125, a crash loop past max-death-tally, supervision ended, not supervised', () => {
  const w = new RcWorld(graphOf([def('once', 'longrun', { notif: 3 }), def('app', 'oneshot', { deps: ['once'] })]));
  w.sv.once = { up: 'once' };
  const j = w.change(['app'], { verbosity: 1 });
  w.run();
  assert.equal(w.code(j), 1);
  assert.deepEqual(w.messages(j), [
    'warning: unable to start service once: supervision gave up: finish exited 125 (permanent failure)',
    'warning: not started because once failed: app',
  ]);
  const w2 = new RcWorld(graphOf([def('loop', 'longrun', { notif: 3, maxDeaths: 3 })]));
  w2.sv.loop = { up: 'crash' };
  const j2 = w2.change(['loop'], { verbosity: 1 });
  w2.run(60000);
  assert.equal(w2.code(j2), 1);
  assert.match(w2.messages(j2)[0], /^warning: unable to start service loop: supervision gave up: 3 deaths in a row without staying ready for 1000 ms \(max-death-tally 3\)$/);
  assert.equal(w2.state('loop'), 'failed');
  // without a declared max-death-tally a crash loop just keeps the transition waiting (s6-rc's behaviour)
  const w3 = new RcWorld(graphOf([def('loop', 'longrun', { notif: 3 })]));
  w3.sv.loop = { up: 'crash' };
  const j3 = w3.change(['loop']);
  w3.advance(20000);
  assert.equal(w3.code(j3), undefined);
  const w4 = new RcWorld(graphOf([def('ghost', 'longrun')]));
  w4.sv.ghost = { unsupervised: true };
  const j4 = w4.change(['ghost'], { verbosity: 1 });
  assert.equal(w4.code(j4), 1);
  assert.deepEqual(w4.messages(j4), ['warning: unable to start service ghost: not supervised']);
});

test('a longrun that gives up while up becomes failed (dependents stay, status tells); the next change retries it', () => {
  const w = new RcWorld(graphOf([def('db', 'longrun', { maxDeaths: 2 }), def('app', 'longrun', { deps: ['db'] })]));
  const j = w.change(['app']);
  w.run();
  assert.equal(w.code(j), 0);
  w.advance(5000);
  // a death after a long run does not count; then two quick deaths (no run alive for a second)
  w.svEvent('db', 'd');
  w.svEvent('db', 'u');
  w.advance(10);
  w.svEvent('db', 'd');
  assert.equal(w.state('db'), 'up');
  w.svEvent('db', 'u');
  w.advance(10);
  w.svEvent('db', 'd');
  assert.equal(w.state('db'), 'failed');
  assert.equal(w.state('app'), 'up');
  assert.ok(w.effects.some((e) => e.t === 'longrunAbort' && e.svc === 'db'));
  const r = w.st.recs[w.st.graph.byName.get('db')!];
  assert.match(r.failed!, /supervision gave up: 2 deaths in a row/);
  const j2 = w.change(['db']);
  w.run();
  assert.equal(w.code(j2), 0);
  assert.equal(w.state('db'), 'up');
  // a death after a stable run does not count
  w.advance(5000);
  w.svEvent('db', 'd');
  w.svEvent('db', 'u');
  w.advance(2000);
  w.svEvent('db', 'd');
  assert.equal(w.state('db'), 'up');
});

test('one change at a time: busy without -b (exit 111, s6-rc\'s message), queued with -b', () => {
  const w = new RcWorld(graphOf([def('a', 'oneshot'), def('b', 'oneshot')]));
  const j1 = w.change(['a']);
  const j2 = w.change(['b']);
  assert.equal(w.code(j2), 111);
  assert.deepEqual(w.messages(j2), ['fatal: unable to take locks: Resource busy']);
  assert.ok(w.ended.has(j2), 'a refused job ends too (the world forgets its client)');
  const j3 = w.change(['b'], { block: true });
  assert.equal(w.running.has('b'), false);
  w.exit('a', 0);
  assert.equal(w.code(j1), 0);
  assert.ok(w.running.has('b'), 'the queued change started');
  w.exit('b', 0);
  assert.equal(w.code(j3), 0);
});

test('unknown name: exit 3 with s6-rc\'s message', () => {
  const w = new RcWorld(graphOf([def('a', 'oneshot')]));
  const j = w.change(['a', 'nope']);
  assert.equal(w.code(j), 3);
  assert.deepEqual(w.messages(j), ['fatal: nope is not a recognized identifier']);
  assert.ok(w.ended.has(j));
});

test('a shutdown during start-up cancels what is pending, stops what is in flight, and brings everything down', () => {
  const w = new RcWorld(graphOf([
    def('mount', 'oneshot', { down: ['/bin/umount'] }), def('hang', 'oneshot', { deps: ['mount'] }), def('web', 'longrun', { deps: ['hang'] }),
    def('db', 'longrun', { deps: ['mount'] }), def('default', 'bundle', { contents: ['web', 'db'] }),
  ]), { killGraceMs: 3000 });
  const start = w.change(['default'], { verbosity: 1 });
  w.exit('mount', 0);
  w.advance(50);
  assert.equal(w.state('db'), 'up');
  assert.equal(w.state('hang'), 'starting');
  const waiting = w.change(['db'], { up: false, block: true, verbosity: 1 });
  const sd = w.shutdown();
  assert.equal(w.code(waiting), 1, 'the queued change is cancelled');
  assert.deepEqual(w.running.get('hang')!.signals, ['TERM', 'CONT'], 'the hanging oneshot gets TERM at once');
  w.exit('hang', 143 - 128 + 128);
  assert.equal(w.code(start), 1);
  assert.deepEqual(w.messages(start), ['warning: cancelled: the service manager is shutting down']);
  // the shutdown now runs: db down, then mount's down script
  w.advance(10);
  assert.ok(w.running.has('mount') && w.running.get('mount')!.dir === 'down', 'mount goes down after db');
  w.exit('mount', 0);
  w.run();
  assert.equal(w.code(sd), 0);
  assert.deepEqual(w.up(), []);
  const late = w.change(['db'], { verbosity: 1 });
  assert.equal(w.code(late), 111, 'no change once shutting down');
});

test('a shutdown does not wait for a oneshot that ignores TERM: KILL after the grace', () => {
  const w = new RcWorld(graphOf([def('stuck', 'oneshot')]), { killGraceMs: 1000 });
  const j = w.change(['stuck']);
  w.advance(100);
  const sd = w.shutdown();
  w.advance(999);
  assert.deepEqual(w.running.get('stuck')!.signals, ['TERM', 'CONT']);
  w.advance(1);
  w.run();
  assert.equal(w.code(j), 1);
  assert.equal(w.code(sd), 0);
  assert.equal(w.now, 1101);
});

test('restart: the service and every dependent that was up go down, then come back up', () => {
  const w = new RcWorld(graphOf([
    def('db', 'longrun'), def('api', 'longrun', { deps: ['db'] }), def('web', 'longrun', { deps: ['api'] }),
    def('batch', 'longrun', { deps: ['db'] }), def('top', 'bundle', { contents: ['web'] }),
  ]));
  w.change(['top']);
  w.run();
  assert.deepEqual(w.up(), ['api', 'db', 'web']);
  w.starts.length = 0;
  const j = w.restart(['db']);
  w.run();
  assert.equal(w.code(j), 0);
  assert.deepEqual(w.up(), ['api', 'db', 'web'], 'batch was down and stays down');
  const seq = w.starts.map((s) => s.split(' ').slice(1).join(' '));
  assert.deepEqual(seq, ['down web', 'down api', 'down db', 'up db', 'up api', 'up web']);
});

test('-p: brings down everything outside the closure, then the closure up', () => {
  const w = new RcWorld(graphOf([def('a', 'oneshot', { up: [] }), def('b', 'oneshot', { up: [] }), def('c', 'oneshot', { up: [], deps: ['a'] })]));
  w.change(['b']);
  w.change(['c'], { prune: true });
  assert.deepEqual(w.up(), ['a', 'c']);
});

test('reload: removed services go down first, an edited longrun that is up restarts, nothing unchanged restarts, new ones in a kept bundle come up', () => {
  const v1 = graphOf([
    def('keep', 'longrun'), def('edit', 'longrun', { deps: ['keep'] }), def('gone', 'longrun'),
    def('once', 'oneshot', { up: ['/bin/true'] }), def('default', 'bundle', { contents: ['edit', 'gone', 'once'] }),
  ]);
  const w = new RcWorld(v1);
  w.autoExit = ok;
  w.change(['default']);
  w.run();
  assert.deepEqual(w.up(), ['edit', 'gone', 'keep', 'once']);
  w.starts.length = 0;
  const v2 = graphOf([
    def('keep', 'longrun'), def('edit', 'longrun', { deps: ['keep'], digest: 'changed' }), def('new', 'longrun', { deps: ['keep'] }),
    def('once', 'oneshot', { up: ['/bin/true', 'v2'], digest: 'changed' }), def('default', 'bundle', { contents: ['edit', 'new', 'once'] }),
    def('spare', 'oneshot'),
  ]);
  const j = w.reload(v2);
  w.run();
  assert.equal(w.code(j), 0);
  const seq = w.starts.map((s) => s.split(' ').slice(1).join(' '));
  assert.deepEqual(seq.slice(0, 2).sort(), ['down edit', 'down gone']);
  assert.deepEqual(seq.slice(2).sort(), ['up edit', 'up new']);
  const swap = w.effects.find((e) => e.t === 'swap')!;
  assert.deepEqual(swap.t === 'swap' && [swap.removed, swap.added.sort(), swap.edited.sort()], [['gone'], ['new', 'spare'], ['edit', 'once']]);
  assert.deepEqual(w.up(), ['edit', 'keep', 'new', 'once'], 'the edited oneshot is not re-run without -r; spare is not in a kept bundle');
  w.starts.length = 0;
  const v3 = graphOf([
    def('keep', 'longrun'), def('edit', 'longrun', { deps: ['keep'], digest: 'changed' }), def('new', 'longrun', { deps: ['keep'] }),
    def('once', 'oneshot', { up: ['/bin/true', 'v3'], digest: 'v3' }), def('default', 'bundle', { contents: ['edit', 'new', 'once'] }),
  ]);
  const j2 = w.reload(v3, true);
  w.run();
  assert.equal(w.code(j2), 0);
  assert.deepEqual(w.starts.map((s) => s.split(' ').slice(1).join(' ')), ['up once'], '-r re-runs the edited oneshot (its down is empty)');
  assert.deepEqual(w.running.size, 0);
});

test('a random DAG of 1000 services comes up in a valid order with parallelism, and goes down in reverse', () => {
  let x = 4242;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const defs = [];
  for (let i = 0; i < 1000; i++) {
    const deps: string[] = [];
    const k = Math.floor(rnd() * 4);
    for (let d = 0; d < k && i > 0; d++) deps.push(`s${Math.floor(rnd() * i)}`);
    defs.push(def(`s${i}`, i % 2 ? 'oneshot' : 'longrun', { deps: [...new Set(deps)] }));
  }
  defs.push(def('all', 'bundle', { contents: defs.map((d) => d.name) }));
  const g = graphOf(defs);
  const w = new RcWorld(g);
  w.autoExit = ok;
  const t0 = Date.now();
  const j = w.change(['all'], { verbosity: 1 });
  w.run();
  assert.equal(w.code(j), 0);
  assert.equal(w.up().length, 1000);
  const at = new Map<string, number>();
  for (const s of w.starts) {
    const [t, , name] = s.split(' ');
    at.set(name, Number(t));
  }
  for (const a of g.atoms) for (const d of a.deps) assert.ok(at.get(a.name)! > at.get(g.atoms[d].name)!, `${a.name} after ${g.atoms[d].name}`);
  const perTick = new Map<number, number>();
  for (const t of at.values()) perTick.set(t, (perTick.get(t) ?? 0) + 1);
  assert.ok(Math.max(...perTick.values()) > 50, 'many transitions start together');
  w.starts.length = 0;
  const d = w.change(['all'], { up: false });
  w.run();
  assert.equal(w.code(d), 0);
  assert.equal(w.up().length, 0);
  const downAt = new Map<string, number>();
  for (const s of w.starts) {
    const [t, , name] = s.split(' ');
    downAt.set(name, Number(t));
  }
  for (const a of g.atoms) {
    if (a.kind === 'oneshot') continue; // oneshots have an empty down here: no process, no stamp
    for (const r of a.rdeps) if (g.atoms[r].kind === 'longrun') assert.ok(downAt.get(a.name)! > downAt.get(g.atoms[r].name)!, `${a.name} down after ${g.atoms[r].name}`);
  }
  assert.ok(Date.now() - t0 < 10000, 'the engine itself is fast');
});
