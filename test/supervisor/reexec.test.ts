// Re-exec, the pure parts: the fault policy (a repeat within the window is not re-exec'd), and a Service's
// record carried to a new Supervisor (as across execve: snapshot, detach, restore) keeps working exactly as
// the machine says — an exit, a restart deadline, a kill deadline, a pending readiness line — in a fake world
// with a fake clock (no process, no sleep).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REEXEC_ENV, takeHandover, writeHandover } from '../../src/sys/handover';
import { native } from '../../src/sys/native';
import { decideOnFault, initNote, parseInitNote, DEFAULT_WATCHDOG_MS, parseColdMarker, recordFds, REPEAT_WINDOW_MS, watchdogLimit } from '../../src/supervisor/reexec';
import { FakeWorld } from '../helpers/fakeworld';
import { State } from '../../src/supervisor/machine';

test('fault policy: the first fault re-execs; another within the window does not; after it, it does again', () => {
  const d1 = decideOnFault([], 5_000);
  assert.equal(d1.reexec, true);
  assert.deepEqual(d1.faults, [5_000]);
  const d2 = decideOnFault(d1.faults, 5_000 + REPEAT_WINDOW_MS - 1);
  assert.equal(d2.reexec, false);
  assert.match(d2.why, /previous fault re-exec was 29999 ms ago/);
  assert.deepEqual(d2.faults, [5_000]);
  const d3 = decideOnFault(d1.faults, 5_000 + REPEAT_WINDOW_MS);
  assert.equal(d3.reexec, true);
  assert.deepEqual(d3.faults, [5_000, 5_000 + REPEAT_WINDOW_MS]);
  // the history stays short
  let f: number[] = [];
  for (let i = 0; i < 10; i++) f = decideOnFault(f, i * REPEAT_WINDOW_MS * 2).faults;
  assert.equal(f.length, 4);
});

test('restored records: exits, deadlines and readiness reach the new supervisor; the old one hears nothing', () => {
  const w = new FakeWorld();
  const a = w.supervisor();
  const up = w.add(a, 'up');
  const fin = w.add(a, 'fin', { finish: true });
  const dying = w.add(a, 'dying', { config: { timeoutKill: 3000 } });
  const ready = w.add(a, 'ready', { config: { notificationFd: 3 } });
  for (const s of [up, fin, dying, ready]) assert.equal(s.state, State.UP);
  const upPid = up.runPid;
  w.exit(fin.runPid, 0);
  assert.equal(fin.state, State.FINISH);
  const finishPid = fin.finishPid;
  a.control(dying, 'd');
  const dyingPid = dying.runPid;
  assert.ok(dyingPid > 0);

  // the "exec": records saved, the old image's handles dropped, a new supervisor takes them
  const recs = [up, fin, dying, ready].map((s) => s.snapshot());
  for (const s of [up, fin, dying, ready]) s.detach();
  for (const r of recs) for (const fd of recordFds(r)) if (fd > 2) assert.ok(w.open.has(fd), `fd ${fd} of ${r.name} is open`);
  const b = w.supervisor();
  const seen: string[] = [];
  const got = b.restore(recs, (svc) => seen.push(svc.name));
  assert.deepEqual(seen, ['up', 'fin', 'dying', 'ready']);
  assert.equal(b.services.size, 4);
  const [up2, fin2, dying2, ready2] = got;
  assert.equal(up2.runPid, upPid);
  assert.equal(fin2.finishPid, finishPid);
  const events = (n: string) => w.dir(`/srv/${n}`).events.join('');
  const before = { up: events('up'), fin: events('fin'), dying: events('dying'), ready: events('ready') };

  // readiness arrives on the carried pipe
  w.write(w.notifyReadFd(), 'ok\n');
  assert.equal(events('ready'), `${before.ready}U`);
  assert.equal(ready2.status.ready, true);
  // finish ends: down, and a restart deadline that fires in the new supervisor
  w.exit(finishPid, 0);
  assert.equal(fin2.state, State.DOWN);
  assert.equal(events('fin'), `${before.fin}D`);
  // the kill deadline armed by `d` before the exec still fires
  w.advance(3000);
  assert.ok(w.acts('kill').includes(`kill ${dyingPid} 9`), w.log.join('\n'));
  w.exit(dyingPid, 9);
  assert.equal(dying2.state, State.DOWN);
  assert.equal(dying2.status.wantUp, false);
  // run dies: no finish, d D, then a restart 1 s later
  w.exit(upPid, 9);
  assert.equal(events('up'), `${before.up}dD`);
  assert.equal(up2.state, State.DOWN);
  w.advance(1000);
  assert.equal(up2.state, State.UP);
  assert.notEqual(up2.runPid, upPid);
  assert.equal(fin2.state, State.UP);
  assert.equal(events('up'), `${before.up}dDu`);
  // the old records did not move: the old supervisor is out of the loop
  assert.equal(up.runPid, upPid);
  assert.equal(up.state, State.UP);
  assert.deepEqual(w.warnings, []);
});

test('the handed-over state survives the trip through its unlinked file, bigints included; the fd is closed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-handover-'));
  try {
    const state = { a: 1, stamp: { sec: 4611686018427387914n, nsec: 5 }, list: [{ $bigint: 'x', other: 1 }], s: 'é\n' };
    // a kept fd (no close-on-exec across the exec) gets close-on-exec back in the new image
    const kept = fs.openSync('/dev/null', 'r');
    native().setCloexec(kept, false);
    const cloexec = (fd: number) => (parseInt(/^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8) & 0o2000000) !== 0;
    assert.equal(cloexec(kept), false);
    const fd = writeHandover(state, [dir], [kept]);
    assert.deepEqual(fs.readdirSync(dir), [], 'the file is unlinked at once');
    process.env[REEXEC_ENV] = String(fd);
    const back = takeHandover();
    assert.deepEqual(back, state);
    assert.equal(cloexec(kept), true);
    fs.closeSync(kept);
    assert.equal(process.env[REEXEC_ENV], undefined);
    assert.throws(() => fs.fstatSync(fd), /EBADF/);
    assert.equal(takeHandover(), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('watchdog: VIGIL_WATCHDOG_MS (default 10 s, 0 = off, at least 100 ms, garbage keeps the default with a warning)', () => {
  assert.deepEqual(watchdogLimit(undefined), { ms: DEFAULT_WATCHDOG_MS, warning: null });
  assert.equal(DEFAULT_WATCHDOG_MS, 10_000);
  assert.deepEqual(watchdogLimit('0'), { ms: 0, warning: null });
  assert.deepEqual(watchdogLimit('2500'), { ms: 2500, warning: null });
  assert.deepEqual(watchdogLimit('5'), { ms: 100, warning: null });
  const bad = watchdogLimit('10s');
  assert.equal(bad.ms, DEFAULT_WATCHDOG_MS);
  assert.match(bad.warning!, /VIGIL_WATCHDOG_MS=10s is not a number of ms/);
  assert.equal(watchdogLimit('9'.repeat(20)).ms, DEFAULT_WATCHDOG_MS);
});

test('watchdog: the cold marker the native thread writes, read back; the repeat window applies to it (fake clock)', () => {
  // first blocked loop: no history; at t = 50 s
  const m1 = parseColdMarker('1;;50000;10003;cmd=42')!;
  assert.deepEqual(m1, { faults: [], at: 50_000, blockedMs: 10_003, note: 'cmd=42' });
  assert.equal(parseInitNote(m1.note).cmd, 42);
  const n = { cmd: 7, cmdState: 'running', phase: 'cmd', console: [5, 6, -1] as [number, number, number], consoleFd: 9, catchAllFd: 12 };
  assert.deepEqual(parseInitNote(initNote(n)), n);
  assert.deepEqual(parseInitNote('garbage'), { cmd: 0, cmdState: '', phase: '', console: [-1, -1, -1], consoleFd: -1, catchAllFd: -1 });
  const d1 = decideOnFault(m1.faults, m1.at);
  assert.equal(d1.reexec, true);
  // a second one 20 s later, carrying the first: today's fault behaviour
  const m2 = parseColdMarker(`1;${d1.faults.join(',')};70000;10001;`)!;
  assert.deepEqual(m2.faults, [50_000]);
  const d2 = decideOnFault(m2.faults, m2.at);
  assert.equal(d2.reexec, false);
  assert.match(d2.why, /20000 ms ago/);
  // the same after the window: re-exec'd again
  assert.equal(decideOnFault(m2.faults, 50_000 + REPEAT_WINDOW_MS).reexec, true);
  // a note may hold ';'; anything else is not a marker
  assert.equal(parseColdMarker('1;1,2;3;4;a;b')!.note, 'a;b');
  for (const bad of ['', '2;;1;1;', '1;x;1;1;', '1;;;1;', 'garbage']) assert.equal(parseColdMarker(bad), null, bad);
});
