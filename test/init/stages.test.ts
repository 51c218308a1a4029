// init's stages as one machine (src/init/machine.ts), rule by rule, over a fake world: a clock that moves only when the
// test says, timers kept as deadlines, effects recorded. Milliseconds, no process, no fifo, no sleep.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  Effect, Event, initialState, KILL_EVERY_MS, KILL_ROUNDS, LOGGER_DRAIN_MS, LOGGER_KILL_WAIT_MS, MachineConfig, MAX_TIMER_MS,
  Phase, SLOW_LOGGER_CAP_MS, State, step, TimerId,
} from '../../src/init/machine';

const DAY = 24 * 3600 * 1000;

class World {
  state: State = initialState();
  now = 0;
  readonly timers = new Map<TimerId, number>();
  /** every effect so far, with the time it happened */
  readonly done: Array<{ at: number; fx: Effect }> = [];
  constructor(readonly cfg: MachineConfig) {}

  send(ev: Event): Effect[] {
    const r = step(this.cfg, this.state, ev, this.now);
    this.state = r.state;
    for (const fx of r.effects) {
      this.done.push({ at: this.now, fx });
      if (fx.do === 'timer') {
        // setTimeout fires a longer delay after 1 ms: the machine must never ask for one
        assert.ok(fx.ms <= MAX_TIMER_MS, `timer ${fx.id} armed for ${fx.ms} ms, beyond setTimeout's cap`);
        this.timers.set(fx.id, this.now + fx.ms);
      } else if (fx.do === 'cancel-timer') this.timers.delete(fx.id);
    }
    return r.effects;
  }

  /** move the clock by ms, firing every timer that falls due, in order; returns the effects */
  advance(ms: number): Effect[] {
    const end = this.now + ms;
    const out: Effect[] = [];
    for (;;) {
      let next: [TimerId, number] | null = null;
      for (const [id, at] of this.timers) if (at <= end && (!next || at < next[1])) next = [id, at];
      if (!next) break;
      this.now = next[1];
      this.timers.delete(next[0]);
      out.push(...this.send({ type: 'timer', id: next[0] }));
    }
    this.now = end;
    return out;
  }

  get phase(): Phase {
    return this.state.phase;
  }
}

const container = (o: Partial<MachineConfig> = {}): MachineConfig => ({ mode: 'container', hasCmd: true, graceMs: 3000, loggerTimeoutMs: 2000, noLoggerWait: false, ...o });
const machine = (o: Partial<MachineConfig> = {}): MachineConfig => container({ mode: 'machine', hasCmd: false, ...o });
const kinds = (fx: Effect[]): string[] => fx.map((f) => f.do);
const has = (fx: Effect[], want: Partial<Effect> & { do: Effect['do'] }): boolean =>
  fx.some((f) => Object.entries(want).every(([k, v]) => (f as unknown as Record<string, unknown>)[k] === v));

/** boot to the running phase: logger ready, managed services up, stage 2 done (CMD started if any) */
function booted(cfg: MachineConfig): World {
  const w = new World(cfg);
  w.send({ type: 'start' });
  w.send({ type: 'logger-ready' });
  w.send({ type: 'up-done' });
  w.send({ type: 'stage2-exited' });
  assert.equal(w.phase, cfg.hasCmd ? 'cmd' : 'running');
  return w;
}

/** from a shutdown request: services down, rc.shutdown run; returns the effects of entering the tree phase */
function throughStage3(w: World): Effect[] {
  assert.equal(w.phase, 'services-down');
  assert.ok(has(w.send({ type: 'down-done' }), { do: 'run-script', name: 'rc.shutdown' }));
  assert.equal(w.phase, 'stage3');
  return w.send({ type: 'script-exited', name: 'rc.shutdown' });
}

test('boot: stage 2 waits for the logger; then the managed services, then rc.init, then CMD', () => {
  const w = new World(container());
  const fx = w.send({ type: 'start' });
  assert.deepEqual(fx, [{ do: 'fallback', mode: 'hold' }, { do: 'timer', id: 'gate', ms: 2000 }]);
  assert.equal(w.phase, 'awaiting-logger');
  assert.deepEqual(w.advance(1999), []);
  assert.deepEqual(kinds(w.send({ type: 'logger-ready' })), ['fallback', 'cancel-timer', 'release', 'services-up']);
  assert.equal(w.phase, 'services-up');
  assert.ok(!w.timers.has('gate'));
  assert.deepEqual(w.send({ type: 'up-done' }), [{ do: 'start-stage2' }, { do: 'scanner', cmd: 'a' }]);
  assert.deepEqual(w.send({ type: 'stage2-exited' }), [{ do: 'start-cmd' }]);
  assert.equal(w.phase, 'cmd');
  // without CMD: running, nothing started
  const n = new World(container({ hasCmd: false }));
  n.send({ type: 'start' });
  n.send({ type: 'logger-ready' });
  n.send({ type: 'up-done' });
  assert.deepEqual(n.send({ type: 'stage2-exited' }), []);
  assert.equal(n.phase, 'running');
});

test('--no-logger-wait: the services and stage 2 at once, the output held until the logger is ready', () => {
  const w = new World(container({ noLoggerWait: true }));
  const fx = w.send({ type: 'start' });
  assert.ok(has(fx, { do: 'fallback', mode: 'hold' }) && has(fx, { do: 'release' }) && has(fx, { do: 'services-up' }));
  assert.ok(!w.timers.has('gate'));
  w.send({ type: 'up-done' });
  assert.equal(w.phase, 'stage2');
  assert.deepEqual(w.send({ type: 'logger-ready' }), [{ do: 'fallback', mode: 'off' }]);
});

test('a slow logger: stage 2 after --logger-timeout (output still held), the console after 15 s, back when ready', () => {
  const w = new World(container({ loggerTimeoutMs: 300 }));
  w.send({ type: 'start' });
  const fx = w.advance(300);
  assert.ok(has(fx, { do: 'log' }) && has(fx, { do: 'release' }));
  assert.ok(!has(fx, { do: 'fallback' }), 'held output must not go to the console yet');
  assert.equal(w.timers.get('logger'), SLOW_LOGGER_CAP_MS);
  assert.deepEqual(w.advance(SLOW_LOGGER_CAP_MS - 300 - 1), []);
  const given = w.advance(1);
  assert.ok(has(given, { do: 'fallback', mode: 'console' }) && has(given, { do: 'say' }));
  assert.match((given.find((f) => f.do === 'say') as { text: string }).text, /not ready/);
  assert.equal(w.state.logger, 'console');
  // it dies again while on the console: nothing changes (no new timer, no hold)
  assert.deepEqual(w.send({ type: 'logger-down' }), []);
  assert.deepEqual(w.send({ type: 'logger-ready' }), [{ do: 'fallback', mode: 'off' }]);
  assert.equal(w.state.logger, 'ready');
});

test('a logger that dies: held for --logger-timeout from the first death (later deaths do not push it back), then the console', () => {
  const w = booted(container());
  const fx = w.send({ type: 'logger-down' });
  assert.deepEqual(fx, [{ do: 'fallback', mode: 'hold' }, { do: 'timer', id: 'logger', ms: 2000 }]);
  w.advance(1500);
  assert.deepEqual(w.send({ type: 'logger-down' }), [{ do: 'fallback', mode: 'hold' }], 'a second death must not re-arm the bound');
  assert.equal(w.timers.get('logger'), 2000);
  const given = w.advance(500);
  assert.ok(has(given, { do: 'fallback', mode: 'console' }));
  assert.match((given.find((f) => f.do === 'say') as { text: string }).text, /is down/);
  // back before the bound: the held output goes to the logger, no console
  const v = booted(container());
  v.send({ type: 'logger-down' });
  v.advance(1999);
  assert.deepEqual(kinds(v.send({ type: 'logger-ready' })), ['cancel-timer', 'fallback']);
  assert.deepEqual(v.advance(10000), []);
});

test('a logger death during the slow wait replaces the 15 s cap with the short bound', () => {
  const w = new World(container({ loggerTimeoutMs: 300 }));
  w.send({ type: 'start' });
  w.advance(300);
  w.advance(100);
  const fx = w.send({ type: 'logger-down' });
  assert.ok(has(fx, { do: 'cancel-timer', id: 'logger' }) && has(fx, { do: 'timer', id: 'logger', ms: 300 }));
  assert.ok(has(w.advance(300), { do: 'fallback', mode: 'console' }));
});

test('CMD exit: halt; exit code is CMD\'s, 128+N when killed, 127/126 when it could not start, the exitcode file without CMD', () => {
  const code = (w: World): number | null => {
    assert.equal(w.phase, 'services-down');
    throughStage3(w);
    w.send({ type: 'all-gone' });
    w.send({ type: 'scanner-stopped' });
    const end = w.send({ type: 'script-exited', name: 'rc.shutdown.final' });
    assert.equal(w.phase, 'done');
    const e = end.find((f) => f.do === 'exit') as { code: number | null };
    return e.code;
  };
  const a = booted(container());
  a.send({ type: 'cmd-exited', status: 7 << 8 });
  assert.equal(code(a), 7);
  const b = booted(container());
  b.send({ type: 'cmd-exited', status: 9 });
  assert.equal(code(b), 137);
  const c = booted(container());
  c.send({ type: 'cmd-failed', code: 127 });
  assert.equal(code(c), 127);
  const d = booted(container({ hasCmd: false }));
  d.send({ type: 'signal', sig: 'TERM' });
  assert.equal(code(d), null);
  // TERM while CMD runs: CMD gets TERM with everything else, its status is the exit code
  const e = booted(container());
  e.send({ type: 'signal', sig: 'TERM' });
  throughStage3(e);
  e.send({ type: 'cmd-exited', status: 15 });
  e.send({ type: 'all-gone' });
  e.send({ type: 'scanner-stopped' });
  assert.deepEqual(e.send({ type: 'script-exited', name: 'rc.shutdown.final' }), [{ do: 'exit', code: 143 }]);
});

test('the shutdown sequence: rc.shutdown, the tree, TERM+CONT, stopped as soon as all are gone, the logger last, rc.shutdown.final', () => {
  const w = booted(container());
  assert.deepEqual(w.send({ type: 'signal', sig: 'TERM' }), [{ do: 'cancel-timer', id: 'gate' }, { do: 'cancel-timer', id: 'plan' }, { do: 'services-down' }]);
  assert.deepEqual(w.send({ type: 'down-done' }), [{ do: 'run-script', name: 'rc.shutdown', arg: 'halt' }]);
  const tree = w.send({ type: 'script-exited', name: 'rc.shutdown' });
  assert.deepEqual(tree.filter((f) => f.do !== 'cancel-timer'), [
    { do: 'stop-shutdownd' }, { do: 'scanner', cmd: 't' },
    { do: 'signal-all', sig: 'TERM', spareLogger: true }, { do: 'signal-all', sig: 'CONT', spareLogger: true },
    { do: 'timer', id: 'grace', ms: 3000 }, { do: 'watch-gone' },
  ]);
  assert.equal(w.phase, 'tree-term');
  w.advance(120);
  const gone = w.send({ type: 'all-gone' });
  assert.ok(has(gone, { do: 'close-fifo' }) && has(gone, { do: 'timer', id: 'drain', ms: LOGGER_DRAIN_MS }));
  assert.ok(!w.timers.has('grace'), 'the grace timer must go once everything has exited');
  assert.equal(w.phase, 'logger-drain');
  const fin = w.send({ type: 'scanner-stopped' });
  assert.deepEqual(fin.filter((f) => f.do !== 'cancel-timer'), [{ do: 'console-back' }, { do: 'run-script', name: 'rc.shutdown.final', arg: 'halt' }]);
  assert.equal(w.phase, 'final');
  // signals, records and logger deaths after this change nothing
  for (const ev of [{ type: 'signal', sig: 'TERM' }, { type: 'shutdown', what: 'r', delayMs: 0, graceMs: 0 }, { type: 'logger-down' }, { type: 'tree-stopping' }] as Event[]) {
    assert.deepEqual(w.send(ev), [], JSON.stringify(ev));
  }
});

test('grace: KILL exactly when it ends (TERM ignored), repeated every 10 ms until all are gone, at most 50 rounds', () => {
  const w = booted(container({ graceMs: 1500 }));
  w.send({ type: 'signal', sig: 'INT' });
  throughStage3(w);
  assert.deepEqual(w.advance(1499), []);
  const k = w.advance(1);
  assert.deepEqual(k, [{ do: 'signal-all', sig: 'KILL', spareLogger: true }, { do: 'timer', id: 'kill', ms: KILL_EVERY_MS }]);
  assert.equal(w.phase, 'tree-kill');
  w.advance(3 * KILL_EVERY_MS);
  assert.equal(w.done.filter((d) => d.fx.do === 'signal-all' && d.fx.sig === 'KILL').length, 4);
  assert.ok(has(w.send({ type: 'all-gone' }), { do: 'close-fifo' }));
  assert.ok(!w.timers.has('kill'));
  // never all gone (a process in D state): after 50 rounds init goes on anyway
  const v = booted(container({ graceMs: 100 }));
  v.send({ type: 'signal', sig: 'TERM' });
  throughStage3(v);
  v.advance(100 + KILL_ROUNDS * KILL_EVERY_MS);
  assert.equal(v.done.filter((d) => d.fx.do === 'signal-all' && d.fx.sig === 'KILL').length, KILL_ROUNDS);
  assert.equal(v.phase, 'logger-drain');
});

test('a logger that does not exit: KILLed after 2 s, then 0.5 s more at most; a scanner already stopped ends at once', () => {
  const w = booted(container());
  w.send({ type: 'signal', sig: 'TERM' });
  throughStage3(w);
  w.send({ type: 'all-gone' });
  assert.deepEqual(w.advance(LOGGER_DRAIN_MS - 1), []);
  const k = w.advance(1);
  assert.ok(has(k, { do: 'signal-all', sig: 'KILL', spareLogger: false }) && has(k, { do: 'log' }));
  assert.equal(w.phase, 'logger-kill');
  const fin = w.advance(LOGGER_KILL_WAIT_MS);
  assert.ok(has(fin, { do: 'run-script', name: 'rc.shutdown.final' }));
  assert.equal(w.phase, 'final');
  // the scanner reported the end early (the tree was stopped from outside): no drain wait at all
  const v = booted(container());
  v.send({ type: 'tree-stopping' });
  v.send({ type: 'scanner-stopped' });
  throughStage3(v);
  assert.ok(has(v.send({ type: 'all-gone' }), { do: 'run-script', name: 'rc.shutdown.final' }));
});

test('machine mode: sync and the s6 messages, unmount, rc.shutdown.final, sync, reboot(2) with what was asked', () => {
  for (const [sig, what] of [['INT', 'r'], ['USR1', 'p'], ['PWR', 'p'], ['USR2', 'h']] as const) {
    const w = booted(machine());
    w.send({ type: 'signal', sig });
    assert.equal(w.state.what, what, sig);
    const tree = throughStage3(w);
    assert.ok(has(tree, { do: 'sync' }) && tree.some((f) => f.do === 'log' && /TERM signal/.test(f.text)));
    const kill = w.advance(3000);
    assert.ok(has(kill, { do: 'sync' }) && kill.some((f) => f.do === 'log' && /KILL signal/.test(f.text)));
    w.send({ type: 'all-gone' });
    const fin = w.send({ type: 'scanner-stopped' });
    assert.deepEqual(fin.filter((f) => f.do !== 'cancel-timer').map((f) => f.do), ['console-back', 'sync', 'unmount', 'run-script']);
    assert.deepEqual(w.send({ type: 'script-exited', name: 'rc.shutdown.final' }), [{ do: 'sync' }, { do: 'reboot', what }]);
  }
});

test('every signal in every phase (container with CMD, container without, machine)', () => {
  const phases: Array<[string, (cfg: MachineConfig) => World]> = [
    ['awaiting-logger', (cfg) => { const w = new World(cfg); w.send({ type: 'start' }); return w; }],
    ['stage2', (cfg) => { const w = new World(cfg); w.send({ type: 'start' }); w.send({ type: 'logger-ready' }); w.send({ type: 'up-done' }); return w; }],
    ['cmd/running', booted],
    ['stage3', (cfg) => { const w = booted(cfg); w.send({ type: cfg.mode === 'machine' ? 'tree-stopping' : 'cmd-exited', status: 0 } as Event); w.send({ type: 'down-done' }); return w; }],
    ['tree-term', (cfg) => { const w = booted(cfg); w.send({ type: 'tree-stopping' }); throughStage3(w); return w; }],
  ];
  // what each signal does while the system is up (before the tree is taken apart)
  const expectUp = (cfg: MachineConfig, cmdRunning: boolean, sig: string): string => {
    if (sig === 'ALRM') return 'scanner a';
    if (cfg.mode === 'container') {
      if (cmdRunning && ['HUP', 'USR1', 'USR2', 'QUIT', 'WINCH'].includes(sig)) return 'forward';
      if (['TERM', 'INT', 'PWR', 'USR1', 'USR2'].includes(sig)) return 'halt h';
      if (sig === 'HUP') return 'scanner h';
      return 'nothing';
    }
    if (sig === 'INT') return 'halt r';
    if (sig === 'USR1' || sig === 'PWR') return 'halt p';
    if (sig === 'USR2') return 'halt h';
    if (sig === 'HUP') return 'scanner h';
    return 'nothing';
  };
  const seen = (w: World, fx: Effect[], before: Phase): string => {
    if (w.phase === 'services-down' && before !== 'services-down') return `halt ${w.state.what}`;
    const f = fx.find((x) => x.do === 'forward' || x.do === 'scanner');
    if (f?.do === 'forward') return 'forward';
    if (f?.do === 'scanner') return `scanner ${f.cmd}`;
    assert.deepEqual(fx, []);
    return 'nothing';
  };
  for (const cfg of [container(), container({ hasCmd: false }), machine()]) {
    for (const [name, make] of phases) {
      for (const sig of ['TERM', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2', 'PWR', 'WINCH', 'ALRM']) {
        const w = make(cfg);
        const before = w.phase;
        const cmdRunning = w.state.cmd === 'running';
        const got = seen(w, w.send({ type: 'signal', sig }), before);
        let want: string;
        if (before === 'tree-term') want = cmdRunning && cfg.mode === 'container' && ['HUP', 'USR1', 'USR2', 'QUIT', 'WINCH'].includes(sig) ? 'forward' : 'nothing';
        else if (before === 'stage3' || before === 'services-down') {
          want = expectUp(cfg, cmdRunning, sig);
          if (want.startsWith('halt')) want = 'nothing'; // already going down
        } else want = expectUp(cfg, cmdRunning, sig);
        assert.equal(got, want, `${cfg.mode}${cfg.hasCmd ? '+CMD' : ''} in ${name} (${before}): SIG${sig}`);
      }
    }
  }
});

test('a shutdown asked for during boot: stage 2 and CMD never start, the logger gate no longer releases', () => {
  const w = new World(container());
  w.send({ type: 'start' });
  w.send({ type: 'signal', sig: 'TERM' });
  assert.equal(w.phase, 'services-down');
  assert.ok(!w.timers.has('gate'));
  assert.deepEqual(w.send({ type: 'logger-ready' }), [{ do: 'fallback', mode: 'off' }]);
  w.advance(5000);
  assert.ok(!w.done.some((d) => d.fx.do === 'release' || d.fx.do === 'start-stage2' || d.fx.do === 'start-cmd'));
  // and during stage 2: its exit starts no CMD
  const v = new World(container());
  v.send({ type: 'start' });
  v.send({ type: 'logger-ready' });
  v.send({ type: 'up-done' });
  v.send({ type: 'shutdown', what: 'p', delayMs: 0, graceMs: 700 });
  assert.deepEqual(v.send({ type: 'stage2-exited' }), []);
  throughStage3(v);
  assert.equal(v.timers.get('grace'), v.now + 700, 'the grace time of the record');
});

test('planned shutdowns: fire at the deadline, a later record replaces, cancel, 30 days re-armed past setTimeout\'s cap', () => {
  const w = booted(container());
  w.send({ type: 'shutdown', what: 'r', delayMs: 5000, graceMs: 0 });
  assert.deepEqual(w.advance(4999), []);
  w.send({ type: 'shutdown', what: 'p', delayMs: 10000, graceMs: 0 });
  assert.deepEqual(w.advance(5000), [], 'the replaced plan fired');
  assert.equal(w.phase, 'cmd');
  w.advance(5000);
  assert.equal(w.phase, 'services-down');
  assert.equal(w.state.what, 'p');
  assert.equal(w.state.graceMs, 3000, '0 in the record means --grace');

  const c = booted(container());
  c.send({ type: 'shutdown', what: 'h', delayMs: 1000, graceMs: 0 });
  c.send({ type: 'cancel' });
  assert.deepEqual(c.advance(DAY), []);
  assert.equal(c.phase, 'cmd');

  const far = booted(machine());
  far.send({ type: 'shutdown', what: 'r', delayMs: 30 * DAY, graceMs: 0 });
  assert.equal(far.timers.get('plan'), far.now + MAX_TIMER_MS);
  far.advance(MAX_TIMER_MS);
  assert.equal(far.phase, 'running', 'fired at 24.8 days');
  assert.equal(far.timers.get('plan'), 30 * DAY, 're-armed for the rest');
  far.advance(30 * DAY - MAX_TIMER_MS - 1);
  assert.equal(far.phase, 'running');
  far.advance(1);
  assert.equal(far.phase, 'services-down');
  assert.equal(far.state.what, 'r');
});

test('stage 3 only (S): managed services down and rc.shutdown "none", the rest goes on; a halt meanwhile waits for it', () => {
  const w = booted(container());
  assert.deepEqual(w.send({ type: 'shutdown', what: 'S', delayMs: 0, graceMs: 0 }), [{ do: 'services-down' }]);
  assert.equal(w.phase, 'cmd');
  assert.deepEqual(w.send({ type: 'down-done' }), [{ do: 'run-script', name: 'rc.shutdown', arg: 'none' }]);
  // CMD's signals still work; a TERM is remembered, not run beside rc.shutdown
  assert.deepEqual(w.send({ type: 'signal', sig: 'HUP' }), [{ do: 'forward', sig: 'HUP' }]);
  assert.deepEqual(w.send({ type: 'signal', sig: 'TERM' }), []);
  assert.deepEqual(w.send({ type: 'shutdown', what: 'S', delayMs: 0, graceMs: 0 }), []);
  const after = w.send({ type: 'script-exited', name: 'rc.shutdown' });
  assert.ok(has(after, { do: 'services-down' }));
  assert.equal(w.phase, 'services-down');
  assert.equal(w.state.what, 'h');
  // without a halt meanwhile: back to running, nothing else
  const v = booted(container({ hasCmd: false }));
  v.send({ type: 'shutdown', what: 'S', delayMs: 0, graceMs: 0 });
  v.send({ type: 'down-done' });
  assert.deepEqual(v.send({ type: 'script-exited', name: 'rc.shutdown' }), []);
  assert.equal(v.phase, 'running');
  assert.equal(v.state.stage3Only, null);
});

test('the tree stopped from outside (s6-svscanctl -t): a container halts, a machine reboots', () => {
  const c = booted(container());
  const fx = c.send({ type: 'tree-stopping' });
  assert.ok(has(fx, { do: 'log' }) && has(fx, { do: 'services-down' }));
  assert.equal(c.state.what, 'h');
  const m = booted(machine());
  m.send({ type: 'tree-stopping' });
  assert.equal(m.state.what, 'r');
});

test('boot progress is independent of a stage-3-only run: stage 2 ends during it and CMD starts', () => {
  const w = new World(container());
  w.send({ type: 'start' });
  w.send({ type: 'logger-ready' });
  w.send({ type: 'up-done' });
  w.send({ type: 'shutdown', what: 'S', delayMs: 0, graceMs: 0 });
  assert.deepEqual(w.send({ type: 'stage2-exited' }), [{ do: 'start-cmd' }]);
  assert.equal(w.phase, 'cmd');
  // CMD ends during it: the halt waits for rc.shutdown
  w.send({ type: 'down-done' });
  w.send({ type: 'cmd-exited', status: 0 });
  assert.equal(w.phase, 'cmd');
  w.send({ type: 'script-exited', name: 'rc.shutdown' });
  assert.equal(w.phase, 'services-down');
});

test('the service manager failing to bring default up: continue (default) goes on; stop shuts down with its code', () => {
  const w = new World(container());
  w.send({ type: 'start' });
  w.send({ type: 'logger-ready' });
  assert.deepEqual(w.send({ type: 'up-done', code: 1 }), [{ do: 'start-stage2' }, { do: 'scanner', cmd: 'a' }]);
  assert.equal(w.phase, 'stage2');
  const s = new World(container({ rcFailure: 'stop' }));
  s.send({ type: 'start' });
  s.send({ type: 'logger-ready' });
  const fx = s.send({ type: 'up-done', code: 2 });
  assert.ok(has(fx, { do: 'services-down' }) && !has(fx, { do: 'start-stage2' }), JSON.stringify(fx));
  assert.equal(s.phase, 'services-down');
  throughStage3(s);
  s.send({ type: 'all-gone' });
  s.send({ type: 'scanner-stopped' });
  const end = s.send({ type: 'script-exited', name: 'rc.shutdown.final' });
  assert.ok(has(end, { do: 'exit', code: 2 }), `exits with the service manager's code: ${JSON.stringify(end)}`);
  // success with stop: nothing changes
  const ok = new World(container({ rcFailure: 'stop' }));
  ok.send({ type: 'start' });
  ok.send({ type: 'logger-ready' });
  ok.send({ type: 'up-done', code: 0 });
  assert.equal(ok.phase, 'stage2');
});
