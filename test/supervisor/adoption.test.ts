/**
 * Adoption (machine.ts header; issue 10 item 3), rule by rule, on the real Supervisor and Service over the
 * fake world (test/helpers/fakeworld.ts): a supervisor that takes a directory whose previous supervisor
 * died with run still running watches that run through a pidfd instead of starting a second copy. No
 * process, no file, no sleep. The wiring with real processes, pidfds and a SIGKILLed `vigil svscan` is
 * test/scanner/adopt.test.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FakeWorld } from '../helpers/fakeworld';
import { State } from '../../src/supervisor/machine';
import { Service } from '../../src/supervisor/service';
import { tainFromUnixMs } from '../../src/formats/tai64n';
import type { SvStatus } from '../../src/formats/status';

const TERM = 15;
const KILL = 9;
const CONT = 18;
const STOP = 19;
const HUP = 1;
const exited = (code: number) => code << 8;

const LEFT = 77;
const PREV_STAMP = tainFromUnixMs(1_799_000_000_000);
const prev = (o: Partial<SvStatus> = {}): SvStatus => ({
  stamp: PREV_STAMP, readyStamp: PREV_STAMP, pid: LEFT, wstat: 0, paused: false, finishing: false, wantUp: true, ready: false, ...o,
});

/** /srv/a whose dead supervisor left run (pid 77) running, then supervised again */
function adopted(setup: Parameters<FakeWorld['add']>[2] = {}, left: Partial<Parameters<FakeWorld['leave']>[1]> = {}) {
  const w = new FakeWorld();
  w.leave('/srv/a', { pid: LEFT, status: prev(), ...left });
  const sup = w.supervisor();
  const svc = w.add(sup, 'a', setup);
  return { w, sup, svc, d: w.dir('/srv/a') };
}

const runs = (w: FakeWorld) => w.acts('spawn').filter((l) => l.startsWith('spawn run')).length;
const pidfds = (w: FakeWorld) => [...w.open.values()].filter((x) => x.startsWith('pidfd '));

test('a run left running is adopted: UP with its pid, no spawn, no timer, its status carried on, `s` only', () => {
  const { w, svc, d } = adopted();
  assert.equal(svc.state, State.UP);
  assert.equal(svc.runPid, LEFT);
  assert.equal(runs(w), 0, 'never a second copy');
  assert.deepEqual(d.events, ['s']);
  assert.deepEqual(d.status, prev(), 'the dead supervisor\'s stamps: uptime goes on');
  assert.deepEqual(d.runRecord, { pid: LEFT, startTime: 5000, kind: 'adopted' });
  assert.deepEqual(pidfds(w), [`pidfd ${LEFT}`]);
  assert.equal(w.timers.pending, 0, 'idle: no timer');
  w.advance(60000);
  assert.equal(runs(w), 0);
  assert.deepEqual(w.warnings, []);
});

test('every signal to an adopted run goes through its pidfd, never kill(pid)', () => {
  const { w, sup, svc, d } = adopted();
  sup.control(svc, 'k');
  sup.control(svc, 'p');
  assert.equal(d.status!.paused, true);
  sup.control(svc, 'c');
  sup.control(svc, 'h');
  assert.deepEqual(w.acts('pidfd-kill', 'kill'), [`pidfd-kill ${LEFT} ${KILL}`, `pidfd-kill ${LEFT} ${STOP}`, `pidfd-kill ${LEFT} ${CONT}`, `pidfd-kill ${LEFT} ${HUP}`]);
});

test('the adopted run exits: exit status unknown (wstat 0, no tally, record exit-unknown, finish -1 0), then restarted as our own child', () => {
  const { w, svc, d } = adopted({ finish: true });
  w.gone(LEFT);
  assert.equal(svc.state, State.FINISH);
  assert.deepEqual(w.spawns[0].argv, ['finish', '-1', '0', 'a']);
  assert.equal(d.status!.wstat, 0);
  assert.deepEqual(d.tally, [], 'no wait status to record');
  assert.equal(d.runRecord!.kind, 'exit-unknown');
  assert.deepEqual(pidfds(w), [], 'pidfd closed');
  w.exit(svc.finishPid, exited(0));
  assert.deepEqual(d.events, ['s', 'd', 'D']);
  w.advance(1000); // throttle: 1 s after D
  assert.equal(runs(w), 1);
  const pid = svc.runPid;
  assert.notEqual(pid, LEFT);
  assert.deepEqual(d.runRecord, { pid, startTime: 9000 + pid, kind: 'own' });
  // our own child now: its death is a normal one (tally, exit code to finish)
  w.exit(pid, exited(3));
  assert.equal(d.tally.length, 1);
  assert.deepEqual(w.spawns[w.spawns.length - 1].argv, ['finish', '3', '0', 'a']);
});

test('svc -d on an adopted run: down-signal + CONT through the pidfd, timeout-kill by pidfd, down once it is gone', () => {
  const { w, sup, svc, d } = adopted({ config: { timeoutKill: 1000 } });
  sup.control(svc, 'd');
  assert.deepEqual(w.acts('pidfd-kill', 'kill'), [`pidfd-kill ${LEFT} ${TERM}`, `pidfd-kill ${LEFT} ${CONT}`]);
  assert.equal(d.status!.wantUp, false);
  w.advance(1000);
  assert.deepEqual(w.acts('pidfd-kill').slice(-1), [`pidfd-kill ${LEFT} ${KILL}`]);
  w.gone(LEFT);
  assert.equal(svc.state, State.DOWN);
  assert.deepEqual(d.events, ['s', 'd', 'D']);
  w.advance(60000);
  assert.equal(runs(w), 0, 'wanted down: no restart');
  assert.equal(w.timers.pending, 0);
});

test('svc -x on an adopted run: LASTUP, not stopped; supervision ends once it is gone (and finish is done)', () => {
  const { w, sup, svc, d } = adopted({ finish: true });
  sup.control(svc, 'x');
  assert.equal(svc.state, State.LASTUP);
  assert.deepEqual(w.acts('pidfd-kill', 'kill'), []);
  w.gone(LEFT);
  assert.equal(svc.state, State.LASTFINISH);
  w.exit(svc.finishPid, exited(0));
  assert.equal(svc.done, true);
  assert.deepEqual(d.events.slice(-2), ['D', 'x']);
  assert.equal(d.locked, false);
  assert.deepEqual([...w.open.values()].filter((x) => !x.startsWith('/dev/null')), [], 'every fd closed, the pidfd too');
});

test('SIGTERM to the supervisor stops an adopted run (pidfd) and ends after it is gone; SIGQUIT leaves it running, adoptable again', () => {
  const t = adopted();
  t.sup.signal(t.svc, 'term');
  assert.deepEqual(t.w.acts('pidfd-kill'), [`pidfd-kill ${LEFT} ${TERM}`, `pidfd-kill ${LEFT} ${CONT}`]);
  assert.equal(t.svc.done, false);
  t.w.gone(LEFT);
  assert.equal(t.svc.done, true);

  const q = adopted();
  q.sup.signal(q.svc, 'quit');
  assert.equal(q.svc.done, true);
  assert.deepEqual(q.w.acts('pidfd-kill', 'kill', 'forget'), [], 'not signalled, not forgotten (never our child)');
  assert.deepEqual(pidfds(q.w), []);
  assert.equal(q.w.others.get(LEFT)!.alive, true);
  assert.equal(q.d.runRecord!.kind, 'adopted');
  // a third supervisor adopts it again
  const again = q.w.add(q.w.supervisor(), 'a');
  assert.equal(again.runPid, LEFT);
  assert.equal(runs(q.w), 0);
});

test('SIGINT to the supervisor: SIGINT to the adopted run\'s process group, then the end', () => {
  const { w, sup, svc } = adopted();
  sup.signal(svc, 'int');
  assert.deepEqual(w.acts('pidfd-kill', 'kill'), [`kill -${LEFT} 2`]);
  assert.equal(svc.done, true);
});

test('a run left running that cannot be adopted (no pidfd): said once, left alone, never started beside it; started once it is gone', () => {
  const { w, sup, svc, d } = adopted({}, { pidfdError: 'ENOSYS' });
  assert.equal(svc.state, State.DOWN);
  assert.equal(runs(w), 0);
  assert.deepEqual(w.warnings, [
    `vigil: warning: a: run of a previous supervisor (pid ${LEFT}) is still running and cannot be adopted (ENOSYS (pidfd_open)) - not starting a second copy while it runs`,
  ]);
  assert.deepEqual(d.status!.pid, 0, 'the status says down: it is not supervised here');
  w.advance(30000);
  sup.control(svc, 'u');
  assert.equal(runs(w), 0, 'not after 30 s, not on u');
  assert.equal(w.warnings.length, 1, 'said once');
  assert.deepEqual(w.acts('pidfd-kill', 'kill'), [], 'left alone');
  w.gone(LEFT);
  w.advance(10000);
  assert.equal(runs(w), 1, 'started within 10 s of its end');
});

test('a record naming a pid with another start time (recycled), or an exit-unknown record, is never adopted', () => {
  const r = adopted({}, { recordedStartTime: 4999 });
  assert.equal(runs(r.w), 1);
  assert.notEqual(r.svc.runPid, LEFT);
  assert.deepEqual(r.w.acts('pidfd-kill', 'kill'), [], 'the other process is not touched');
  const w = new FakeWorld();
  w.leave('/srv/a', { pid: LEFT });
  w.dir('/srv/a').runRecord!.kind = 'exit-unknown';
  // the fake's findRun reads only pid and start time; exit-unknown records are written with start time 0
  w.dir('/srv/a').runRecord!.startTime = 0;
  const s = w.add(w.supervisor(), 'a');
  assert.notEqual(s.runPid, LEFT);
});

test('an adopted service carried across a re-exec (snapshot, detach, restore) still hears its run exit', () => {
  const { w, svc, d } = adopted();
  const rec = svc.snapshot();
  assert.equal(rec.adopted, true);
  assert.ok(rec.fds.pidfd >= 0);
  svc.detach();
  const sup2 = w.supervisor();
  const back = Service.restore(sup2, rec);
  sup2.services.add(back);
  sup2.control(back, 't');
  assert.deepEqual(w.acts('pidfd-kill').slice(-1), [`pidfd-kill ${LEFT} ${TERM}`]);
  w.gone(LEFT);
  assert.equal(back.state, State.DOWN, 'no finish: down at once');
  assert.equal(d.runRecord!.kind, 'exit-unknown');
  w.advance(1000);
  assert.equal(runs(w), 1);
});

test('after a cold re-exec the left run is our own child: taken back without a pidfd, its exit keeps its real status', () => {
  const { w, sup, svc, d } = adopted({ finish: true }, { child: true });
  assert.equal(svc.state, State.UP);
  assert.equal(svc.runPid, LEFT);
  assert.equal(runs(w), 0, 'never a second copy');
  assert.deepEqual(pidfds(w), [], 'a child needs no pidfd');
  assert.deepEqual(d.runRecord, { pid: LEFT, startTime: 5000, kind: 'own' });
  assert.deepEqual(d.status, prev(), 'its status carried on');
  // signals go to its pid (ours to reap: it cannot be recycled)
  sup.control(svc, 't');
  assert.deepEqual(w.acts('pidfd-kill', 'kill'), [`kill ${LEFT} ${TERM}`]);
  // its death comes through the reaper, with its real status: finish gets it, the tally records it
  w.exit(LEFT, TERM);
  assert.equal(svc.state, State.FINISH);
  assert.deepEqual(w.spawns[0].argv, ['finish', '256', String(TERM), 'a']);
  assert.equal(d.status!.wstat, TERM);
  assert.equal(d.tally.length, 1);
  assert.notEqual(d.runRecord!.kind, 'exit-unknown');
  w.exit(svc.finishPid, exited(0));
  w.advance(1000);
  assert.equal(runs(w), 1, 'restarted once, as after any death');
});

test('a child that died during the cold re-exec (a zombie) is taken back, then its exit is handled: exit code kept', () => {
  const { w, svc, d } = adopted({ finish: true }, { child: true });
  w.exit(LEFT, exited(3));
  assert.deepEqual(w.spawns[0].argv, ['finish', '3', '0', 'a']);
  assert.equal(d.status!.wstat, exited(3));
  w.exit(svc.finishPid, exited(0));
  w.advance(1000);
  assert.equal(runs(w), 1);
});
