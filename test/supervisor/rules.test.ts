/**
 * s6-supervise's rules (s6-protocol.md §2–5), one test each, on the real Supervisor and Service over a fake
 * world (test/helpers/fakeworld.ts): no process, no file, no sleep; the clock moves when the test says.
 * The same rules are proven end to end with real processes and Debian's s6 in protocol.test.ts,
 * compare-s6.test.ts and s6-defects.test.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FakeWorld } from '../helpers/fakeworld';
import { State } from '../../src/supervisor/machine';
import { Service } from '../../src/supervisor/service';
import { TimerQueue } from '../../src/supervisor/timers';

const TERM = 15;
const KILL = 9;
const CONT = 18;
const USR1 = 10;
const exited = (code: number) => code << 8;

function setup(cfg: Parameters<FakeWorld['add']>[2] = {}) {
  const w = new FakeWorld();
  const sup = w.supervisor();
  const svc = w.add(sup, 'a', cfg);
  const d = w.dir('/srv/a');
  return { w, sup, svc, d };
}

/** spawns of run so far */
const runs = (w: FakeWorld) => w.acts('spawn').filter((l) => l.startsWith('spawn run')).length;

test('start-up: status (want up, ready) then `s`, then run at once; with `down`: want down, nothing runs', () => {
  const { w, svc, d } = setup();
  assert.deepEqual(w.log.slice(0, 4), ['take /srv/a', 'status pid=0 wr', 'event s', 'spawn run a pid=100']);
  assert.equal(svc.state, State.UP);
  assert.equal(d.status!.pid, 100);
  assert.deepEqual(d.events, ['s', 'u']);
  const w2 = new FakeWorld();
  const s2 = w2.add(w2.supervisor(), 'b', { down: true });
  w2.advance(60000);
  assert.equal(s2.state, State.DOWN);
  assert.deepEqual(w2.dir('/srv/b').events, ['s']);
  assert.equal(runs(w2), 0);
  assert.equal(w2.dir('/srv/b').status!.wantUp, false);
});

test('throttle: a run that never reported readiness restarts 1 s after D, not before', () => {
  const { w, svc, d } = setup();
  w.advance(200);
  w.exit(svc.runPid, exited(1));
  assert.deepEqual(d.events, ['s', 'u', 'd', 'D']);
  assert.equal(runs(w), 1);
  w.advance(999);
  assert.equal(runs(w), 1, 'not before 1 s');
  w.advance(1);
  assert.equal(runs(w), 2, 'at 1 s');
  // a crash loop: exactly one start per second
  for (let i = 0; i < 5; i++) {
    w.exit(svc.runPid, exited(1));
    w.advance(1000);
  }
  assert.equal(runs(w), 7);
});

test('throttle: ready at t, dead after t+1 s → restart at once; dead before → restart at t+1 s', () => {
  const { w, svc } = setup({ config: { notificationFd: 3 } });
  w.advance(100);
  w.write(w.notifyReadFd(), 'ok\n');
  assert.equal(svc.status.ready, true);
  w.advance(2000);
  w.exit(svc.runPid, exited(0));
  assert.equal(runs(w), 2, 'ready for > 1 s: restarted at once (no timer turn)');
  // second run: ready at +100, dies at +600 → restart at +1100
  w.advance(100);
  w.write(w.notifyReadFd(), '\n');
  w.advance(500);
  w.exit(svc.runPid, exited(0));
  assert.equal(runs(w), 2);
  w.advance(499);
  assert.equal(runs(w), 2);
  w.advance(1);
  assert.equal(runs(w), 3);
});

test('exec failure of run: "unable to spawn ./run - waiting 10 seconds", status and events untouched, retried every 10 s while wanted up', () => {
  const w = new FakeWorld();
  const sup = w.supervisor();
  for (let i = 0; i < 4; i++) w.failNextSpawn('exec');
  w.add(sup, 'a');
  const d = w.dir('/srv/a');
  assert.equal(w.acts('spawn-failed').length, 1);
  assert.match(w.warnings[0], /^vigil: warning: a: unable to spawn \.\/run - waiting 10 seconds: EACCES \(execve\): not executable$/);
  assert.deepEqual(d.events, ['s']);
  assert.equal(d.statusWrites, 1);
  w.advance(9999);
  assert.equal(w.acts('spawn-failed').length, 1);
  w.advance(1);
  assert.equal(w.acts('spawn-failed').length, 2);
  w.advance(30000);
  assert.equal(w.acts('spawn-failed').length, 4);
  assert.equal(runs(w), 1, 'the fifth try works');
});

test('-o on a service whose run cannot be exec\'d: one try, no retry (the 10 s timeout finds it not wanted up)', () => {
  const w = new FakeWorld();
  const sup = w.supervisor();
  const svc = w.add(sup, 'a', { down: true });
  for (let i = 0; i < 20; i++) w.failNextSpawn('exec');
  sup.control(svc, 'o');
  assert.equal(w.acts('spawn-failed').length, 1);
  w.advance(100000);
  assert.equal(w.acts('spawn-failed').length, 1, 'tried once in 100 s');
  assert.equal(w.warnings.length, 1);
  assert.equal(w.timers.pending, 0, 'no timer left');
  // `u` still starts it at once (and keeps retrying: now it is wanted up)
  sup.control(svc, 'u');
  w.advance(20000);
  assert.equal(w.acts('spawn-failed').length, 4);
});

test('fork, pipe or lock failure: 60 s', () => {
  const w = new FakeWorld();
  const sup = w.supervisor();
  w.failNextSpawn('fork', 'EAGAIN');
  w.add(sup, 'a');
  assert.match(w.warnings[0], /a: unable to fork: EAGAIN \(clone\) - waiting 60 seconds$/);
  w.advance(59999);
  assert.equal(runs(w), 0);
  w.advance(1);
  assert.equal(runs(w), 1);
});

test('a removed service directory: exec-like failure (10 s), the message says so', () => {
  const w = new FakeWorld();
  const sup = w.supervisor();
  w.failNextSpawn('removed');
  w.add(sup, 'a');
  assert.match(w.warnings[0], /waiting 10 seconds: ENOENT \(chdir\)/);
});

test('u, o or U while DOWN waiting out the throttle: start at once, the throttle skipped', () => {
  for (const letter of ['u', 'o', 'U']) {
    const { w, sup, svc } = setup();
    w.advance(200);
    w.exit(svc.runPid, exited(1));
    assert.equal(svc.state, State.DOWN);
    w.advance(100);
    assert.equal(runs(w), 1, `${letter}: still in the 1 s throttle`);
    sup.control(svc, letter);
    assert.equal(runs(w), 2, `${letter}: started at once`);
    assert.equal(svc.state, State.UP);
    w.advance(5000);
    assert.equal(runs(w), 2, `${letter}: the old throttle deadline starts nothing more`);
  }
});

test('./down cannot be created or removed: one warning each, the rest of D / U still happens', () => {
  const { w, sup, svc, d } = setup();
  d.downError = 'EROFS';
  const pid = svc.runPid;
  sup.control(svc, 'D');
  assert.equal(w.warnings.length, 1);
  assert.match(w.warnings[0], /a: unable to create \.\/down: .*EROFS/);
  assert.equal(d.down, false);
  assert.equal(d.status!.wantUp, false, 'want down all the same');
  assert.deepEqual(w.acts('kill'), [`kill ${pid} ${TERM}`, `kill ${pid} ${CONT}`], 'and run is stopped as by d');
  w.exit(pid, TERM);
  w.advance(1000);
  sup.control(svc, 'U');
  assert.equal(w.warnings.length, 2);
  assert.match(w.warnings[1], /a: unable to remove \.\/down: .*EROFS/);
  assert.equal(d.status!.wantUp, true);
  assert.equal(runs(w), 2, 'U started it all the same');
});

test('-o on a down service runs it once: no restart after it dies', () => {
  const { w, sup, svc, d } = setup({ down: true });
  sup.control(svc, 'o');
  assert.equal(runs(w), 1);
  assert.equal(d.status!.wantUp, false);
  w.exit(svc.runPid, exited(0));
  w.advance(60000);
  assert.equal(runs(w), 1);
  assert.deepEqual(d.events, ['s', 'u', 'd', 'D']);
});

test('-O while up: want down, no signal; no restart after it dies', () => {
  const { w, sup, svc } = setup();
  const pid = svc.runPid;
  sup.control(svc, 'O');
  assert.deepEqual(w.acts('kill'), []);
  assert.equal(svc.state, State.UP);
  w.exit(pid, KILL);
  w.advance(60000);
  assert.equal(runs(w), 1);
});

test('finish: argv (exit code | 256, signal, name), its pid in the status with finishing set, d then D', () => {
  const { w, svc, d } = setup({ finish: true });
  const run = svc.runPid;
  w.exit(run, exited(7));
  const fin = w.spawns[w.spawns.length - 1];
  assert.deepEqual([fin.prog, ...fin.argv], ['finish', 'finish', '7', '0', 'a']);
  assert.equal(svc.state, State.FINISH);
  assert.equal(d.status!.pid, fin.pid);
  assert.equal(d.status!.finishing, true);
  assert.equal(d.status!.wstat, exited(7));
  assert.deepEqual(d.events.slice(-1), ['d']);
  w.exit(fin.pid, exited(0));
  assert.equal(svc.state, State.DOWN);
  assert.equal(d.status!.pid, 0);
  assert.equal(d.status!.ready, true);
  assert.deepEqual(d.events.slice(-1), ['D']);
  w.advance(1000);
  w.exit(svc.runPid, KILL);
  assert.deepEqual(w.spawns[w.spawns.length - 1].argv, ['finish', '256', '9', 'a']);
});

test('finish timeout: SIGCONT + SIGKILL to finish with a warning after timeout-finish (default 5 s), then every 5 s; 0 = no limit', () => {
  const { w, svc } = setup({ finish: true });
  w.exit(svc.runPid, exited(1));
  const fin = svc.finishPid;
  w.advance(4999);
  assert.deepEqual(w.acts('kill'), []);
  w.advance(1);
  assert.deepEqual(w.acts('kill'), [`kill ${fin} ${CONT}`, `kill ${fin} ${KILL}`]);
  assert.match(w.warnings[0], /finish script lifetime reached maximum value - sending it a SIGKILL/);
  w.advance(5000);
  assert.equal(w.acts('kill').length, 4);
  const s = setup({ finish: true, config: { timeoutFinish: 0 } });
  s.w.exit(s.svc.runPid, exited(1));
  s.w.advance(600000);
  assert.deepEqual(s.w.acts('kill'), []);
});

test('kill timeout: d sends the down-signal and SIGCONT; SIGKILL after timeout-kill, then every 5 s; none without timeout-kill', () => {
  const { w, sup, svc } = setup({ config: { timeoutKill: 1000 } });
  const pid = svc.runPid;
  sup.control(svc, 'd');
  assert.deepEqual(w.acts('kill'), [`kill ${pid} ${TERM}`, `kill ${pid} ${CONT}`]);
  w.advance(1000);
  assert.deepEqual(w.acts('kill').slice(2), [`kill ${pid} ${KILL}`]);
  w.advance(5000);
  assert.equal(w.acts('kill').length, 4);
  w.exit(pid, KILL);
  w.advance(60000);
  assert.equal(w.acts('kill').length, 4, 'the kill timer ends with run');
  const s = setup();
  s.sup.control(s.svc, 'd');
  s.w.advance(600000);
  assert.equal(s.w.acts('kill').length, 2);
});

test('down-signal: used by d and r; r sends it alone (no SIGCONT, no timer) and the service comes back', () => {
  const { w, sup, svc } = setup({ config: { downSignal: USR1, timeoutKill: 500 } });
  const pid = svc.runPid;
  sup.control(svc, 'r');
  assert.deepEqual(w.acts('kill'), [`kill ${pid} ${USR1}`]);
  w.advance(10000);
  assert.equal(w.acts('kill').length, 1, 'no kill timer after r');
  w.exit(pid, USR1);
  w.advance(1000);
  assert.equal(runs(w), 2, 'still wanted up: restarted');
  sup.control(svc, 'd');
  assert.deepEqual(w.acts('kill').slice(1), [`kill ${svc.runPid} ${USR1}`, `kill ${svc.runPid} ${CONT}`]);
});

test('readiness: pipe on notification-fd; junk without newline is not readiness; a newline is, once (U), and the read end closes', () => {
  const { w, svc, d } = setup({ config: { notificationFd: 5 } });
  assert.match(w.log.find((l) => l.startsWith('spawn run'))!, /fds=-,-,notify-w of \d+$/);
  assert.equal(w.acts('status').length, 2);
  const rfd = w.notifyReadFd();
  w.write(rfd, 'junk');
  assert.equal(svc.status.ready, false);
  w.write(rfd, 'more\nignored');
  assert.equal(svc.status.ready, true);
  assert.deepEqual(d.events, ['s', 'u', 'U']);
  assert.equal(w.open.has(rfd), false, 'read end closed after readiness');
  // EOF without a newline: closed, never ready
  w.exit(svc.runPid, exited(0));
  w.advance(1000);
  const r2 = w.notifyReadFd();
  w.closeWriter(r2);
  assert.equal(w.open.has(r2), false);
  assert.equal(svc.status.ready, false);
  assert.deepEqual(d.events.slice(-1), ['u']);
});

test('no notification-fd: never ready while up', () => {
  const { w, svc } = setup();
  w.advance(10000);
  assert.equal(svc.status.ready, false);
  assert.equal(svc.state, State.UP);
});

test('max-death-tally: one record per death, the newest N kept; 0 = none; default 100', () => {
  const { w, svc, d } = setup({ config: { maxDeathTally: 3 } });
  for (let i = 0; i < 5; i++) {
    w.exit(svc.runPid, exited(i));
    w.advance(1000);
  }
  assert.deepEqual(d.tally.map((r) => r.wstat >> 8), [2, 3, 4]);
  assert.equal(d.tally[2].stamp.sec > 0n, true);
  const z = setup({ config: { maxDeathTally: 0 } });
  z.w.exit(z.svc.runPid, exited(1));
  assert.equal(z.d.tally.length, 0);
  assert.deepEqual(z.w.acts('tally'), []);
});

test('finish exit 125: permanent failure: want up off, `OD` in one announce, no restart', () => {
  const { w, svc, d } = setup({ finish: true });
  w.exit(svc.runPid, exited(3));
  w.exit(svc.finishPid, exited(125));
  assert.deepEqual(d.events, ['s', 'u', 'd', 'OD']);
  assert.equal(d.status!.wantUp, false);
  w.advance(60000);
  assert.equal(runs(w), 1);
});

test('lock-fd, lock free: the service-lock fd is given to run on fd N (the lock is on it)', () => {
  const { w } = setup({ config: { lockFd: 4 } });
  assert.match(w.log.find((l) => l.startsWith('spawn run'))!, /^spawn run a pid=\d+ fds=-,service-lock \/srv\/a$/);
  assert.deepEqual(w.warnings, []);
});

test('lock-fd held by another process: one warning, run started at once and blocks on the lock; no polling', () => {
  const { w, svc, d } = setup({ config: { lockFd: 4 }, serviceLockHeld: true });
  assert.match(w.log.find((l) => l.startsWith('spawn run'))!, / lockWait=4 fds=-,service-lock \/srv\/a$/);
  assert.deepEqual(w.warnings, ['vigil: warning: a: another instance of the service is already running, child will block']);
  assert.equal(svc.state, State.UP);
  assert.deepEqual(d.events, ['s', 'u']);
  w.advance(60000);
  assert.equal(w.warnings.length, 1, 'said once');
  assert.equal(runs(w), 1, 'started once');
  assert.equal(w.timers.pending, 0, 'no poll timer');
  assert.equal([...w.open.values()].some((x) => x.startsWith('service-lock')), false, 'our copy of the lock fd is closed');
});

test('notification-fd equal to lock-fd: a warning, not started, no retry', () => {
  const { w, sup, svc } = setup({ config: { lockFd: 3, notificationFd: 3 } });
  assert.equal(runs(w), 0);
  assert.match(w.warnings[0], /unable to start service: notification-fd and lock-fd are the same/);
  w.advance(600000);
  assert.equal(w.warnings.length, 1);
  assert.equal(w.timers.pending, 0);
  sup.control(svc, 'u');
  assert.equal(w.warnings.length, 2, 'a command tries again');
});

test('x: LASTUP, stdio to /dev/null, run keeps running; after run and finish: D, lock released, then x', () => {
  const { w, sup, svc, d } = setup({ finish: true });
  const pid = svc.runPid;
  sup.control(svc, 'x');
  assert.equal(svc.state, State.LASTUP);
  assert.deepEqual(w.acts('kill'), []);
  w.exit(pid, exited(0));
  assert.equal(svc.state, State.LASTFINISH);
  assert.deepEqual(w.spawns[w.spawns.length - 1].fds.slice(0, 2).map((f) => w.open.get(f as number)), ['/dev/null', '/dev/null']);
  w.exit(svc.finishPid, exited(0));
  assert.equal(svc.done, true);
  assert.deepEqual(d.events.slice(-2), ['D', 'x']);
  const tail = w.log.slice(-3);
  assert.deepEqual(tail, ['status pid=0 wr', 'event D', 'event x']);
  assert.equal(d.locked, false, 'lock released before x');
  assert.equal(w.timers.pending, 0, 'no restart');
  assert.equal([...w.open.values()].filter((x) => !x.startsWith('/dev/null')).length, 0, 'every fd closed');
});

test('SIGTERM to the supervisor: as d, then end after run dies; SIGQUIT: end now, run orphaned; SIGINT: killpg INT, end', () => {
  const t = setup({ finish: false });
  const pid = t.svc.runPid;
  const writes = t.d.statusWrites;
  t.sup.signal(t.svc, 'term');
  assert.deepEqual(t.w.acts('kill'), [`kill ${pid} ${TERM}`, `kill ${pid} ${CONT}`]);
  assert.equal(t.svc.state, State.LASTUP);
  assert.equal(t.d.statusWrites, writes + 1, 'up, want down: written (a client sees it until run dies)');
  t.w.exit(pid, TERM);
  assert.deepEqual(t.d.events.slice(-3), ['d', 'D', 'x']);
  // no finish: d and D come from one step, after one write that says down and ready (machine.ts, coalesce)
  assert.equal(t.d.statusWrites, writes + 2);
  assert.deepEqual(t.w.log.slice(-4), ['status pid=0 r', 'event d', 'event D', 'event x']);
  const q = setup();
  const qp = q.svc.runPid;
  q.sup.signal(q.svc, 'quit');
  assert.equal(q.svc.done, true);
  assert.deepEqual(q.w.acts('forget'), [`forget ${qp}`]);
  assert.equal(q.w.alive(qp), true);
  assert.deepEqual(q.d.events.slice(-1), ['x']);
  const i = setup();
  const ip = i.svc.runPid;
  i.sup.signal(i.svc, 'int');
  assert.deepEqual(i.w.acts('kill'), [`kill -${ip} 2`]);
  assert.equal(i.svc.done, true);
});

test('a status write of the content the file already holds is skipped; after a failed write it is not', () => {
  const { w, sup, svc, d } = setup();
  sup.control(svc, 'c');
  assert.equal(d.statusWrites, 2, '`c` on a run that is not paused changes nothing: s, u only');
  sup.control(svc, 'd');
  w.exit(svc.runPid, exited(0));
  const n = d.statusWrites;
  sup.control(svc, 'dOd');
  assert.equal(d.statusWrites, n, 'want down again and again: nothing to write');
  sup.control(svc, 'p');
  assert.equal(d.statusWrites, n, 'a signal letter in DOWN does nothing');
  // a failed write: what the file holds is unknown, so the next write goes out even if it repeats the last one
  sup.control(svc, 'u');
  const up = d.statusWrites;
  d.statusError = 'ENOSPC';
  sup.control(svc, 'o');
  assert.match(w.warnings[w.warnings.length - 1], /unable to write supervise\/status: ENOSPC/);
  delete d.statusError;
  sup.control(svc, 'u');
  assert.equal(d.statusWrites, up + 1, 'want up again after the failed want-down: written');
  sup.control(svc, 'u');
  assert.equal(d.statusWrites, up + 1, 'and its repeat skipped');
  assert.equal(d.status!.wantUp, true);
});

test('control bytes from the fifo: garbage ignored, letters obeyed in order', () => {
  const { w, svc, d } = setup();
  const pid = svc.runPid;
  w.write(w.controlFd('/srv/a'), '\x00zZ!\nd');
  assert.deepEqual(w.acts('kill'), [`kill ${pid} ${TERM}`, `kill ${pid} ${CONT}`]);
  assert.equal(d.status!.wantUp, false);
});

test('an exception in one service\'s step is one warning; its neighbour is untouched', () => {
  const w = new FakeWorld();
  const sup = w.supervisor();
  const a = w.add(sup, 'a');
  const b = w.add(sup, 'b');
  w.dir('/srv/a').config = { get timeoutKill(): number { throw new Error('boom'); } } as never;
  sup.control(a, 'd');
  sup.control(b, 'd');
  assert.equal(w.warnings.length, 1);
  assert.match(w.warnings[0], /^vigil: warning: a: internal error handling ctl 'd': Error: boom$/);
  assert.equal(w.dir('/srv/b').status!.wantUp, false);
});

test('restore from a saved record: the kill timer, the pids and the fds carry over', () => {
  const { w, sup, svc } = setup({ config: { timeoutKill: 3000 } });
  const pid = svc.runPid;
  sup.control(svc, 'd');
  w.advance(1000);
  const saved = JSON.parse(JSON.stringify(svc.snapshot(), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)), (_k, v) =>
    typeof v === 'string' && /^[0-9]+n$/.test(v) ? BigInt(v.slice(0, -1)) : v);
  assert.equal(saved.state, State.UP);
  assert.equal(saved.dying, true);
  // a new supervisor in the same world takes it over (the old one is dropped without ending anything)
  svc.detach();
  const sup2 = w.supervisor();
  const back = Service.restore(sup2, saved);
  sup2.services.add(back);
  w.advance(1999);
  assert.equal(w.acts('kill').length, 2);
  w.advance(1);
  assert.deepEqual(w.acts('kill').slice(2), [`kill ${pid} ${KILL}`], 'the deadline kept its monotonic time');
  w.exit(pid, KILL);
  assert.equal(back.state, State.DOWN);
  assert.deepEqual(w.dir('/srv/a').events.slice(-2), ['d', 'D']);
});

test('timer queue: a deadline beyond setTimeout\'s cap (24.8 days) is re-armed, never fired early', () => {
  const w = new FakeWorld();
  const q = new TimerQueue(w.clock, w.scheduler);
  let fired = 0;
  const day = 86400000;
  q.after(30 * day, () => fired++);
  w.advance(29 * day);
  assert.equal(fired, 0);
  w.advance(day - 1);
  assert.equal(fired, 0);
  w.advance(1);
  assert.equal(fired, 1);
  assert.equal(q.pending, 0);
});

test('a stale timeout event (the deadline moved later) fires nothing early', () => {
  const w = new FakeWorld();
  const sup = w.supervisor();
  w.failNextSpawn('exec');
  const svc = w.add(sup, 'a');
  assert.equal(w.acts('spawn-failed').length, 1);
  sup.post(svc, { t: 'timeout' });
  w.advance(5000);
  sup.post(svc, { t: 'timeout' });
  assert.equal(w.acts('spawn-failed').length + runs(w), 1, 'nothing before the 10 s');
  w.advance(5000);
  assert.equal(runs(w), 1);
});
