/**
 * The pure step machine against s6-supervise 2.11.3.2's action table (src/supervision/s6-supervise.c,
 * `actions[5][27]`): every input — the deadline, a reaped child, the four supervisor signals, the 21
 * control letters — in every state, written out here cell by cell from s6's table (not from ours), as the
 * state, want-up, the deadline and the effects that follow.
 *
 * Cell notation: STATE then +/- (want up), the effects in order (P status written, >B event bytes,
 * kill(pid,sig), spawn = ask for run, finish(a1,a2) = ask for finish, tally, ±down, null = stdio to
 * /dev/null, warn, release(pids), ended), then the deadline relative to now (none, 0 = still due, +N ms).
 * Every state starts with want up, a due deadline (so `timeout` is an input there), run pid 101 / finish
 * pid 202, and in UP/LASTUP a kill timer (as after `d` with timeout-kill).
 *
 * Then vigil's one addition, adoption (machine.ts header): the UP and LASTUP rows again with run adopted
 * from a dead supervisor (`chld` is then its pidfd's `gone`, pkill = a signal through the pidfd), and
 * `start` with a run found left running.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  coalesce, CONTROL_LETTERS, Effect, Event, Found, initialRecord, LeftRun, Query, ServiceRecord, start, State, step,
} from '../../src/supervisor/machine';
import { tainFromUnixMs } from '../../src/formats/tai64n';
import type { SvStatus } from '../../src/formats/status';

const NOW = 50_000;
const q: Query = {
  now: () => NOW,
  wall: () => tainFromUnixMs(1_800_000_000_000),
  config: {
    notificationFd: () => undefined,
    lockFd: () => undefined,
    timeoutKill: () => 0,
    timeoutFinish: () => 5000,
    maxDeathTally: () => 100,
    downSignal: () => 15,
  },
  runAlive: () => false,
};

function recordIn(state: Exclude<State, State.ENDED>): ServiceRecord {
  const r = initialRecord('a', '/srv/a', { lock: 3, control: 4, notify: -1, stdio: [0, 1, 2], owned: [], pidfd: -1 });
  r.state = state;
  r.status.wantUp = true;
  r.deadline = NOW;
  if (state === State.DOWN) r.status.ready = true;
  if (state === State.UP || state === State.LASTUP) {
    r.status.pid = 101;
    r.dying = true;
  }
  if (state === State.FINISH || state === State.LASTFINISH) {
    r.status.pid = 202;
    r.status.finishing = true;
  }
  return r;
}

function short(e: Effect): string {
  switch (e.t) {
    case 'persist': return 'P';
    case 'announce': return `>${e.bytes}`;
    case 'spawnRun': return 'spawn';
    case 'spawnFinish': return `finish(${e.args.join(',')})`;
    case 'kill': return `${e.pidfd ? 'p' : ''}kill(${e.pid},${e.sig})`;
    case 'recordRun': return `rec(${e.kind},${e.pid})`;
    case 'closePidfd': return 'closeP';
    case 'recordDeath': return 'tally';
    case 'downFile': return e.present ? '+down' : '-down';
    case 'stdioToNull': return 'null';
    case 'closeNotify': return 'closeN';
    case 'warn': return 'warn';
    case 'release': return `release(${e.pids.join(',')})`;
    case 'ended': return 'ended';
  }
}

function cell(state: Exclude<State, State.ENDED>, input: string, adopted = false): string {
  const rec = recordIn(state);
  if (adopted) {
    rec.adopted = true;
    rec.fds.pidfd = 7;
  }
  const before = JSON.stringify(rec, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  let ev: Event;
  if (input === 'timeout') ev = { t: 'timeout' };
  else if (input === 'chld' && adopted) ev = { t: 'gone', pid: rec.status.pid };
  else if (input === 'chld') ev = { t: 'exit', pid: rec.status.pid || 999, wstat: state === State.UP || state === State.LASTUP ? 15 : 0 };
  else if (['term', 'hup', 'quit', 'int'].includes(input)) ev = { t: 'sig', sig: input as 'term' };
  else ev = { t: 'ctl', c: input.charCodeAt(0) };
  const out = step(rec, ev, q);
  assert.equal(JSON.stringify(rec, (_k, v) => (typeof v === 'bigint' ? String(v) : v)), before, 'step must not modify its input');
  const r = out.record;
  const dl = r.deadline === null ? 'none' : r.deadline === NOW ? '0' : `+${r.deadline - NOW}`;
  return [`${r.state}${r.status.wantUp ? '+' : '-'}`, ...out.effects.map(short), dl].join(' ');
}

const SIGNAL_LETTERS: Record<string, number> = { a: 14, b: 6, q: 3, h: 1, k: 9, t: 15, i: 2, '1': 10, '2': 12, y: 28, r: 15 };

/** s6's table, cell by cell */
const EXPECTED: Record<Exclude<State, State.ENDED>, Record<string, string>> = {
  DOWN: {
    timeout: 'DOWN+ spawn none', // downtimeout: wanted up → trystart (the deadline is used up; the spawn's result sets the next)
    chld: 'DOWN+ 0', // nop
    term: 'ENDED+ release() >x ended none', hup: 'ENDED+ release() >x ended none',
    quit: 'ENDED+ release() >x ended none', int: 'ENDED+ release() >x ended none', // bail
    o: 'DOWN- P spawn 0', d: 'DOWN- P 0', u: 'DOWN+ P spawn 0', D: 'DOWN- +down P 0', U: 'DOWN+ -down P spawn 0',
    x: 'ENDED+ release() >x ended none', O: 'DOWN- P 0', Q: 'DOWN- +down P 0',
  },
  UP: {
    timeout: 'UP+ kill(101,9) +5000', // uptimeout while dying
    chld: 'FINISH+ tally finish(256,15) 0', // up_z
    term: 'LASTUP- kill(101,15) kill(101,18) P none', // up_term
    hup: 'LASTUP+ null 0', // up_x
    quit: 'ENDED+ release(101) >x ended none',
    int: 'ENDED+ kill(-101,2) release(101) >x ended none', // sigint
    p: 'UP+ kill(101,19) P 0', c: 'UP+ kill(101,18) P 0',
    o: 'UP- P 0', d: 'UP- kill(101,15) kill(101,18) P none', u: 'UP+ P 0', D: 'UP- +down kill(101,15) kill(101,18) P none',
    U: 'UP+ -down P 0', x: 'LASTUP+ null 0', O: 'UP- P 0', Q: 'UP- +down P 0',
  },
  FINISH: {
    timeout: 'FINISH+ warn kill(202,18) P kill(202,9) +5000', // finishtimeout
    chld: 'DOWN+ P >D +1000', // finish_z
    term: 'LASTFINISH+ null 0', hup: 'LASTFINISH+ null 0', // finish_x
    quit: 'ENDED+ release(202) >x ended none', int: 'ENDED+ kill(-202,2) release(202) >x ended none',
    o: 'FINISH- P 0', d: 'FINISH- P 0', u: 'FINISH+ P 0', D: 'FINISH- +down P 0', U: 'FINISH+ -down P 0',
    x: 'LASTFINISH+ null 0', O: 'FINISH- P 0', Q: 'FINISH- +down P 0',
  },
  LASTUP: {
    timeout: 'LASTUP+ kill(101,9) +5000',
    chld: 'LASTFINISH+ tally finish(256,15) 0', // lastup_z
    term: 'LASTUP- kill(101,15) kill(101,18) P none', // up_d
    hup: 'LASTUP+ null 0', // closethem
    quit: 'ENDED+ release(101) >x ended none', int: 'ENDED+ kill(-101,2) release(101) >x ended none',
    p: 'LASTUP+ kill(101,19) P 0', c: 'LASTUP+ kill(101,18) P 0',
    o: 'LASTUP- P 0', d: 'LASTUP- kill(101,15) kill(101,18) P none', u: 'LASTUP+ P 0',
    D: 'LASTUP- +down kill(101,15) kill(101,18) P none', U: 'LASTUP+ -down P 0', x: 'LASTUP+ null 0', O: 'LASTUP- P 0', Q: 'LASTUP- +down P 0',
  },
  LASTFINISH: {
    timeout: 'LASTFINISH+ warn kill(202,18) P kill(202,9) +5000',
    chld: 'ENDED+ P >D release() >x ended none', // lastfinish_z: finish_z, then bail
    term: 'LASTFINISH+ 0', // nop
    hup: 'LASTFINISH+ null 0', // closethem
    quit: 'ENDED+ release(202) >x ended none', int: 'ENDED+ kill(-202,2) release(202) >x ended none',
    o: 'LASTFINISH- P 0', d: 'LASTFINISH- P 0', u: 'LASTFINISH+ P 0', D: 'LASTFINISH- +down P 0', U: 'LASTFINISH+ -down P 0',
    x: 'LASTFINISH+ null 0', O: 'LASTFINISH- P 0', Q: 'LASTFINISH- +down P 0',
  },
};
// the signal letters: kill(run pid) in UP and LASTUP, nothing elsewhere
for (const st of ['DOWN', 'UP', 'FINISH', 'LASTUP', 'LASTFINISH'] as const) {
  for (const [l, sig] of Object.entries(SIGNAL_LETTERS)) {
    const up = st === 'UP' || st === 'LASTUP';
    EXPECTED[st][l] ??= up ? `${st}+ kill(101,${sig}) 0` : `${st}+ 0`;
  }
  for (const l of 'pc') EXPECTED[st][l] ??= `${st}+ 0`;
}

const INPUTS = ['timeout', 'chld', 'term', 'hup', 'quit', 'int', ...CONTROL_LETTERS];

for (const st of [State.DOWN, State.UP, State.FINISH, State.LASTUP, State.LASTFINISH] as const) {
  test(`s6's table, row ${st}: all ${INPUTS.length} inputs`, () => {
    const wrong: string[] = [];
    for (const input of INPUTS) {
      const want = EXPECTED[st][input];
      assert.ok(want, `no expectation for ${st} × ${input}`);
      const got = cell(st, input);
      if (got !== want) wrong.push(`${st} × ${input}: got "${got}", s6 does "${want}"`);
    }
    assert.deepEqual(wrong, []);
  });
}

test('unknown control bytes and events for nobody change nothing; ENDED ignores everything', () => {
  for (const st of [State.DOWN, State.UP, State.FINISH] as const) {
    for (const c of [0, 10, 0x7a /* z */, 0xff]) {
      const out = step(recordIn(st), { t: 'ctl', c }, q);
      assert.deepEqual(out.effects, []);
      assert.equal(out.record.state, st);
    }
    const stray = step(recordIn(st), { t: 'exit', pid: 4242, wstat: 0 }, q);
    assert.deepEqual(stray.effects, []);
  }
  const ended = step(recordIn(State.DOWN), { t: 'ctl', c: 'x'.charCodeAt(0) }, q).record;
  assert.equal(ended.state, State.ENDED);
  for (const ev of [{ t: 'timeout' }, { t: 'ctl', c: 117 }, { t: 'sig', sig: 'term' }] as Event[]) {
    assert.deepEqual(step(ended, ev, q).effects, []);
  }
});

test('the results of a spawn: spawned → UP, u; exec failure → 10 s; finish missing → d then D at once', () => {
  const down = recordIn(State.DOWN);
  const asked = step(down, { t: 'timeout' }, q).record;
  assert.equal(asked.pending, 'run');
  const up = step(asked, { t: 'spawned', pid: 300, notify: true, lockWait: false }, q);
  assert.deepEqual(up.effects.map(short), ['rec(own,300)', 'P', '>u'], 'the run is recorded first (a supervisor killed after it adopts it)');
  assert.equal(up.record.state, State.UP);
  assert.equal(up.record.notifying, true);
  assert.equal(up.record.deadline, null);
  const failed = step(asked, { t: 'spawnFailed', why: 'exec', detail: 'EACCES' }, q);
  assert.equal(failed.record.deadline, NOW + 10000);
  assert.equal(failed.record.state, State.DOWN);
  assert.deepEqual(failed.effects.map(short), ['warn'], 'no status write, no event');
  const died = step(up.record, { t: 'exit', pid: 300, wstat: 3 << 8 }, q).record;
  const nofinish = step(died, { t: 'finishFailed', why: 'exec', detail: 'ENOENT', quiet: true }, q);
  // one status write (coalesced), saying down and ready, before both bytes: a client woken by `d` reads the later state
  assert.deepEqual(nofinish.effects.map(short), ['P', '>d', '>D']);
  const written = nofinish.effects[0].t === 'persist' ? nofinish.effects[0].status : null;
  assert.deepEqual(written && [written.pid, written.finishing, written.ready, written.wstat], [0, false, true, 3 << 8]);
  assert.equal(nofinish.record.state, State.DOWN);
  assert.equal(nofinish.record.deadline, NOW + 1000);
  const forkfail = step(died, { t: 'finishFailed', why: 'fork', detail: 'EAGAIN', quiet: false }, q);
  assert.deepEqual(forkfail.effects.map(short), ['warn', 'P', '>dD']);
  // a result nobody asked for is ignored
  assert.deepEqual(step(down, { t: 'spawned', pid: 5, notify: false, lockWait: false }, q).effects, []);
});

test('coalesce: status writes separated only by announcements and warnings are one, of the last content, at the first place', () => {
  const st = (pid: number) => ({ ...recordIn(State.DOWN).status, pid });
  const P = (pid: number): Effect => ({ t: 'persist', status: st(pid) });
  const A = (bytes: string): Effect => ({ t: 'announce', bytes });
  const kill: Effect = { t: 'kill', pid: 9, sig: 15 };
  const show = (fx: Effect[]) => fx.map((e) => (e.t === 'persist' ? `P${e.status.pid}` : short(e)));
  assert.deepEqual(show(coalesce([P(1), A('d'), { t: 'warn', msg: 'w' }, P(2), A('D'), { t: 'ended' }])), ['P2', '>d', 'warn', '>D', 'ended']);
  // across a kill (or a spawn, a release...) nothing is merged
  assert.deepEqual(show(coalesce([P(1), kill, P(2), A('D')])), ['P1', 'kill(9,15)', 'P2', '>D']);
  assert.deepEqual(show(coalesce([A('x'), P(1)])), ['>x', 'P1']);
});

// ------------------------------------------------------------------------------------------------ adoption

/**
 * The UP and LASTUP rows with run adopted: the same cells as s6's (the expected strings are the rows above,
 * with every kill of run going through the pidfd), except `chld` (the pidfd's `gone`: no tally, the record
 * says exit-unknown, finish gets -1 0) and the ends (the pidfd is closed, the pid is not "forgotten": it
 * was never our child).
 */
const ADOPTED_DIFF: Record<'UP' | 'LASTUP', Record<string, string>> = {
  UP: {
    chld: 'FINISH+ closeP rec(exit-unknown,101) finish(-1,0) 0',
    quit: 'ENDED+ closeP release() >x ended none',
    int: 'ENDED+ kill(-101,2) closeP release() >x ended none', // the group: kill(2) on -pgid (no pidfd for a group)
  },
  LASTUP: {
    chld: 'LASTFINISH+ closeP rec(exit-unknown,101) finish(-1,0) 0',
    quit: 'ENDED+ closeP release() >x ended none',
    int: 'ENDED+ kill(-101,2) closeP release() >x ended none',
  },
};

for (const st of [State.UP, State.LASTUP] as const) {
  test(`adopted run, row ${st}: s6's cells, signals through the pidfd, an exit of unknown status`, () => {
    const wrong: string[] = [];
    for (const input of INPUTS) {
      const want = ADOPTED_DIFF[st][input] ?? EXPECTED[st][input].replace(/(^| )kill\(101,/g, '$1pkill(101,');
      const got = cell(st, input, true);
      if (got !== want) wrong.push(`${st} (adopted) × ${input}: got "${got}", want "${want}"`);
    }
    assert.deepEqual(wrong, []);
  });
}

test('adopted: a wait status for its pid is not an input (it is no child of ours); gone counts only for the adopted pid', () => {
  const rec = recordIn(State.UP);
  rec.adopted = true;
  rec.fds.pidfd = 7;
  assert.deepEqual(step(rec, { t: 'exit', pid: 101, wstat: 0 }, q).effects, []);
  assert.deepEqual(step(rec, { t: 'gone', pid: 102 }, q).effects, []);
  // and gone means nothing to a run that is our own child
  assert.deepEqual(step(recordIn(State.UP), { t: 'gone', pid: 101 }, q).effects, []);
  for (const st of [State.DOWN, State.FINISH] as const) assert.deepEqual(step(recordIn(st), { t: 'gone', pid: recordIn(st).status.pid }, q).effects, []);
});

const PREV_STAMP = tainFromUnixMs(1_799_999_000_000);
function prevStatus(pid: number, o: Partial<SvStatus> = {}): SvStatus {
  return { stamp: PREV_STAMP, readyStamp: PREV_STAMP, pid, wstat: 0, paused: false, finishing: false, wantUp: true, ready: true, ...o };
}
const fresh = () => initialRecord('a', '/srv/a', { lock: 3, control: 4, notify: -1, stdio: [0, 1, 2], owned: [], pidfd: 7 });

test('start with a run left running and a pidfd on it: UP at once, no spawn, no deadline; the dead supervisor\'s status carried on', () => {
  const found: Found = { pid: 77, startTime: 5000, adopt: true, prev: prevStatus(77, { wantUp: false, paused: true }) };
  const out = start(fresh(), false, q, found);
  assert.deepEqual(out.effects.map(short), ['P', '>s', 'rec(adopted,77)'], 'the status first (open writes it), `s`, no `u`: run did not start now');
  const r = out.record;
  assert.deepEqual([r.state, r.adopted, r.deadline, r.pending], [State.UP, true, null, null]);
  // same pid in the status left behind: its stamps, readiness, pause and wish (want down here, despite no ./down)
  assert.deepEqual(r.status, prevStatus(77, { wantUp: false, paused: true }));
  // a status naming another pid (or none): up since now, not ready, the wish from ./down
  for (const prev of [prevStatus(55), null]) {
    const o = start(fresh(), true, q, { pid: 77, startTime: 5000, adopt: true, prev }).record;
    assert.deepEqual(o.status, { ...prevStatus(77), stamp: q.wall(), readyStamp: q.wall(), ready: false, wantUp: false });
  }
});

test('start with a run left running that cannot be adopted: one warning, DOWN, and no start while it lives (checked every 10 s)', () => {
  let alive = true;
  const qa: Query = { ...q, runAlive: (run: LeftRun) => alive && run.pid === 77 && run.startTime === 5000 };
  const out = start(fresh(), false, qa, { pid: 77, startTime: 5000, adopt: false, why: 'ENOSYS (pidfd_open)' });
  assert.deepEqual(out.effects.map(short), ['P', '>s', 'warn']);
  assert.match((out.effects[2] as { msg: string }).msg, /pid 77\) is still running and cannot be adopted \(ENOSYS \(pidfd_open\)\) - not starting a second copy/);
  assert.deepEqual(out.record.foreign, { pid: 77, startTime: 5000 });
  assert.equal(out.record.state, State.DOWN);
  // the first start: it still runs, so nothing; a look again in 10 s (no warning again)
  const t1 = step(out.record, { t: 'timeout' }, qa);
  assert.deepEqual(t1.effects, []);
  assert.equal(t1.record.deadline, NOW + 10000);
  // an operator's u does not start a second copy either
  const u = step(t1.record, { t: 'ctl', c: 'u'.charCodeAt(0) }, qa);
  assert.deepEqual(u.effects.map(short), ['P']);
  assert.equal(u.record.pending, null);
  // once it is gone, the next start spawns, and the record forgets it
  alive = false;
  const t2 = step({ ...t1.record, deadline: NOW }, { t: 'timeout' }, qa);
  assert.deepEqual(t2.effects.map(short), ['spawn']);
  assert.equal(t2.record.foreign, null);
});
