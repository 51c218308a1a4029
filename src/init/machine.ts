/**
 * `vigil init`'s life as one explicit state machine: a pure `step(state, event, now) → { state, effects }`.
 * Nothing here touches the system; init.ts executes the effects over the real world (spawn, kill, fifos,
 * the scanner, timers on the monotonic clock) and feeds back what happens as events. The unit tests
 * (test/init/machine.test.ts) drive it with a fake clock, in milliseconds, no processes.
 *
 * The phase (one enum) is where the system is in its life:
 *
 *   awaiting-logger ─logger ready / gate timer / --no-logger-wait─▶ services-up ─up-done─▶ stage2
 *   stage2 ─rc.init exited─▶ cmd (container with CMD) | running
 *   any of those ─halt/poweroff/reboot─▶ services-down ─down-done─▶ stage3 (rc.shutdown) ─exited─▶
 *   tree-term (scanner 't', TERM+CONT to all but the logger, grace) ─all gone─▶ logger-drain
 *            └─grace over─▶ tree-kill (KILL every 10 ms) ─all gone / 50 rounds─▶ logger-drain
 *   logger-drain (fifo writers closed) ─scanner stopped─▶ final  └─2 s─▶ logger-kill ─stopped / 0.5 s─▶ final
 *   final (rc.shutdown.final) ─exited─▶ done (container: exit; machine: reboot(2))
 *
 * `services-up` and `services-down` are where the service manager brings a bundle up before rc.init (and
 * CMD), and the managed services down before rc.shutdown: init.ts answers `up-done` / `down-done` (at once
 * while there is no service manager).
 *
 * Two small regions run beside the phase, as in a statechart:
 *   - the catch-all logger (`logger`): starting → ready ⇄ down → console. While it is not ready init's
 *     fallback reader holds what is written to the fifo ('hold'); a logger that died and is not back within
 *     --logger-timeout (or is alive but not ready after 15 s) sends it to the console until it is ready.
 *   - a stage-3-only run (`shutdown` without -h/-p/-r: record 'S'; `stage3Only`): managed services down, then
 *     rc.shutdown, while the rest goes on; a halt asked for meanwhile waits for it (`pending`).
 *
 * Timers are effects ({do: 'timer', id, ms}); a timer fires as the event {type: 'timer', id}. A delay
 * longer than setTimeout can wait (24.8 days) is armed for the cap and re-armed when it fires early: a
 * shutdown planned for 30 days from now happens in 30 days, not 24.8.
 */
import { waitStatusToExitCode } from '../sys/waitstatus';
import type { ShutdownWhat } from './protocol';

export type Phase =
  | 'awaiting-logger'
  | 'services-up'
  | 'stage2'
  | 'cmd'
  | 'running'
  | 'services-down'
  | 'stage3'
  | 'tree-term'
  | 'tree-kill'
  | 'logger-drain'
  | 'logger-kill'
  | 'final'
  | 'done';

/** phases from which the system is going down: requests, plans and rescans no longer apply */
const GOING_DOWN: ReadonlySet<Phase> = new Set<Phase>(['services-down', 'stage3', 'tree-term', 'tree-kill', 'logger-drain', 'logger-kill', 'final', 'done']);
/** phases in which the catch-all logger's life no longer matters (the tree is being taken apart) */
const TREE_ENDING: ReadonlySet<Phase> = new Set<Phase>(['tree-term', 'tree-kill', 'logger-drain', 'logger-kill', 'final', 'done']);

export type LoggerState = 'starting' | 'ready' | 'down' | 'console';
export type TimerId = 'gate' | 'logger' | 'plan' | 'grace' | 'kill' | 'drain';

export interface MachineConfig {
  mode: 'container' | 'machine';
  /** a main program was given (-- CMD) */
  hasCmd: boolean;
  graceMs: number;
  loggerTimeoutMs: number;
  noLoggerWait: boolean;
  /** the service manager failed to bring `default` up: 'stop' ends the system (default 'continue') */
  rcFailure?: 'continue' | 'stop';
}

export interface State {
  phase: Phase;
  logger: LoggerState;
  /** which bound the logger timer is: the long one for a slow logger, the short one after a death */
  loggerTimer: 'slow' | 'dead' | null;
  /** what the shutdown in progress ends with (set when it starts) */
  what: ShutdownWhat | null;
  graceMs: number;
  /** a stage-3-only run beside the phase: its step, or null */
  stage3Only: 'services-down' | 'rc.shutdown' | null;
  /** a halt/poweroff/reboot asked for while a stage-3-only run was going on */
  pending: { what: ShutdownWhat; graceMs: number } | null;
  /** a planned shutdown: deadline on the monotonic clock (ms) */
  plan: { what: ShutdownWhat; graceMs: number; deadline: number } | null;
  cmd: 'none' | 'running' | 'exited' | 'failed';
  /** CMD's raw wait status, or its 127/126 when it could not be started */
  cmdStatus: number | null;
  /** --on-rc-failure stop: the service manager's exit code that stopped the system */
  rcFailCode: number | null;
  cmdFailCode: number | null;
  /** the scanner has reported the tree stopped (it may come before init waits for it) */
  scannerStopped: boolean;
  killRounds: number;
}

export type Event =
  | { type: 'start' }
  | { type: 'logger-ready' }
  | { type: 'logger-down' }
  | { type: 'timer'; id: TimerId }
  /** the service manager is done with `default` (code: its exit code, 0 or absent = everything came up) */
  | { type: 'up-done'; code?: number }
  | { type: 'stage2-exited' }
  | { type: 'cmd-exited'; status: number }
  | { type: 'cmd-failed'; code: number }
  | { type: 'signal'; sig: string }
  | { type: 'shutdown'; what: ShutdownWhat; delayMs: number; graceMs: number }
  | { type: 'cancel' }
  | { type: 'down-done' }
  | { type: 'script-exited'; name: 'rc.shutdown' | 'rc.shutdown.final' }
  | { type: 'tree-stopping' }
  | { type: 'scanner-stopped' }
  | { type: 'all-gone' };

export type Effect =
  | { do: 'timer'; id: TimerId; ms: number }
  | { do: 'cancel-timer'; id: TimerId }
  /** the fallback reader: hold (keep for the logger), console (send there), off (the logger reads) */
  | { do: 'fallback'; mode: 'hold' | 'console' | 'off' }
  /** a line on the console (init's own stderr before the fifo trick, /dev/console on a machine) */
  | { do: 'say'; text: string }
  /** a line into the catch-all log */
  | { do: 'log'; text: string }
  /** copy the user's services into the scan directory (the scan that starts them comes with stage 2) */
  | { do: 'release' }
  | { do: 'services-up' }
  | { do: 'start-stage2' }
  | { do: 'start-cmd' }
  | { do: 'forward'; sig: string }
  | { do: 'scanner'; cmd: 'a' | 'h' | 't' }
  | { do: 'services-down' }
  | { do: 'run-script'; name: 'rc.shutdown' | 'rc.shutdown.final'; arg: string }
  | { do: 'stop-shutdownd' }
  | { do: 'sync' }
  /** signal every process of init's tree (sparing the catch-all logger, or not) */
  | { do: 'signal-all'; sig: 'TERM' | 'CONT' | 'KILL'; spareLogger: boolean }
  /** from now on, report 'all-gone' once no process but the catch-all logger is left (checked at once too) */
  | { do: 'watch-gone' }
  /** init's last write ends of the catch-all fifo go: the logger reads to EOF and exits */
  | { do: 'close-fifo' }
  /** init's fds 1 and 2 back on the console */
  | { do: 'console-back' }
  | { do: 'unmount' }
  | { do: 'reboot'; what: ShutdownWhat }
  /** container: end with this code (null: RUNDIR/vigil/exitcode, else 0) */
  | { do: 'exit'; code: number | null };

export interface Step {
  state: State;
  effects: Effect[];
}

/** The longest delay setTimeout honours (Node fires a longer one after 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** after every other process is gone, how long the catch-all logger gets to drain the fifo and exit */
export const LOGGER_DRAIN_MS = 2000;
/** after the logger is killed, how long the scanner gets to report the end */
export const LOGGER_KILL_WAIT_MS = 500;
/** a logger that is alive but still not ready after this long is treated as unable to run */
export const SLOW_LOGGER_CAP_MS = 15000;
/** KILL is repeated this often, this many times, until everything is gone */
export const KILL_EVERY_MS = 10;
export const KILL_ROUNDS = 50;

export const WHAT_WORD: Record<ShutdownWhat, string> = { S: 'none', h: 'halt', p: 'poweroff', r: 'reboot' };

export function initialState(): State {
  return {
    phase: 'awaiting-logger',
    logger: 'starting',
    loggerTimer: null,
    what: null,
    graceMs: 0,
    stage3Only: null,
    pending: null,
    plan: null,
    cmd: 'none',
    cmdStatus: null,
    rcFailCode: null,
    cmdFailCode: null,
    scannerStopped: false,
    killRounds: 0,
  };
}

/** One transition. `now` is the monotonic clock in ms (only plans use it). Never throws. */
export function step(cfg: MachineConfig, s0: State, ev: Event, now: number): Step {
  const s: State = { ...s0 };
  const fx: Effect[] = [];
  const timer = (id: TimerId, ms: number): void => { fx.push({ do: 'timer', id, ms: Math.min(Math.max(0, ms), MAX_TIMER_MS) }); };
  const cancel = (...ids: TimerId[]): void => { for (const id of ids) fx.push({ do: 'cancel-timer', id }); };
  const machine = cfg.mode === 'machine';

  /** the catch-all logger is up (or we stop waiting for it): the managed services, then stage 2 */
  const release = (): void => {
    cancel('gate');
    s.phase = 'services-up';
    fx.push({ do: 'release' }, { do: 'services-up' });
  };

  /** a halt/poweroff/reboot ('S': stage 3 only) asked for by a signal, a record, CMD's end, the tree's end */
  const request = (what: ShutdownWhat, graceMs: number): void => {
    if (GOING_DOWN.has(s.phase)) return;
    if (s.stage3Only) {
      if (what !== 'S' && !s.pending) s.pending = { what, graceMs };
      return;
    }
    if (what === 'S') {
      s.stage3Only = 'services-down';
      fx.push({ do: 'services-down' });
      return;
    }
    cancel('gate', 'plan');
    s.plan = null;
    s.phase = 'services-down';
    s.what = what;
    s.graceMs = graceMs > 0 ? graceMs : cfg.graceMs;
    fx.push({ do: 'services-down' });
  };

  /** every other process is gone (or KILL gave up): close the fifo, wait for the logger to drain and exit */
  const drain = (): void => {
    cancel('grace', 'kill');
    fx.push({ do: 'close-fifo' });
    s.phase = 'logger-drain';
    if (s.scannerStopped) finish();
    else timer('drain', LOGGER_DRAIN_MS);
  };

  const finish = (): void => {
    cancel('drain');
    fx.push({ do: 'console-back' });
    if (machine) fx.push({ do: 'sync' }, { do: 'unmount' });
    s.phase = 'final';
    fx.push({ do: 'run-script', name: 'rc.shutdown.final', arg: WHAT_WORD[s.what ?? 'h'] });
  };

  const killAll = (): void => {
    if (machine) fx.push({ do: 'sync' }, { do: 'log', text: 'vigil init: sending all processes the KILL signal...' });
    fx.push({ do: 'signal-all', sig: 'KILL', spareLogger: true });
    s.killRounds = 1;
    s.phase = 'tree-kill';
    timer('kill', KILL_EVERY_MS);
  };

  switch (ev.type) {
    case 'start':
      fx.push({ do: 'fallback', mode: 'hold' });
      if (cfg.noLoggerWait) release();
      else timer('gate', cfg.loggerTimeoutMs);
      break;

    case 'logger-ready':
      if (s.loggerTimer) cancel('logger');
      s.loggerTimer = null;
      s.logger = 'ready';
      fx.push({ do: 'fallback', mode: 'off' });
      if (s.phase === 'awaiting-logger') release();
      break;

    case 'logger-down':
      if (TREE_ENDING.has(s.phase) || s.logger === 'console') break;
      s.logger = 'down';
      fx.push({ do: 'fallback', mode: 'hold' });
      // the short bound applies from the first death and replaces the slow-logger cap; later deaths of a
      // crash-looping logger do not push it back
      if (s.loggerTimer === 'dead') break;
      if (s.loggerTimer) cancel('logger');
      s.loggerTimer = 'dead';
      timer('logger', cfg.loggerTimeoutMs);
      break;

    case 'timer':
      switch (ev.id) {
        case 'gate':
          if (s.phase !== 'awaiting-logger') break;
          // a slow logger (a loaded machine, QEMU without KVM) is not a broken one: stage 2 goes on and its
          // output is held for the logger; only a dead one, or one still not ready after the cap, sends
          // the uncaught output to the console
          fx.push({ do: 'log', text: `vigil init: warning: the catch-all logger is not ready after ${cfg.loggerTimeoutMs} ms: starting stage 2 anyway` });
          release();
          if (!s.loggerTimer) {
            s.loggerTimer = 'slow';
            timer('logger', SLOW_LOGGER_CAP_MS - cfg.loggerTimeoutMs);
          }
          break;
        case 'logger':
          s.loggerTimer = null;
          if (s.logger === 'ready' || s.logger === 'console' || TREE_ENDING.has(s.phase)) break;
          fx.push({ do: 'say', text: `vigil init: warning: the catch-all logger is ${s.logger === 'down' ? 'down' : 'not ready'}: uncaught output goes to the console` });
          fx.push({ do: 'fallback', mode: 'console' });
          s.logger = 'console';
          break;
        case 'plan': {
          const p = s.plan;
          if (!p) break;
          if (now < p.deadline) {
            timer('plan', p.deadline - now); // woken by the cap: not yet
            break;
          }
          s.plan = null;
          request(p.what, p.graceMs);
          break;
        }
        case 'grace':
          if (s.phase === 'tree-term') killAll();
          break;
        case 'kill':
          if (s.phase !== 'tree-kill') break;
          if (s.killRounds >= KILL_ROUNDS) {
            drain();
            break;
          }
          fx.push({ do: 'signal-all', sig: 'KILL', spareLogger: true });
          s.killRounds++;
          timer('kill', KILL_EVERY_MS);
          break;
        case 'drain':
          if (s.phase === 'logger-drain') {
            fx.push({ do: 'log', text: 'vigil init: warning: the catch-all logger did not exit: killing it' });
            fx.push({ do: 'signal-all', sig: 'KILL', spareLogger: false });
            s.phase = 'logger-kill';
            timer('drain', LOGGER_KILL_WAIT_MS);
          } else if (s.phase === 'logger-kill') {
            finish();
          }
          break;
      }
      break;

    case 'up-done':
      if (s.phase !== 'services-up') break;
      if (ev.code && cfg.rcFailure === 'stop') {
        // s6-overlay's S6_BEHAVIOUR_IF_STAGE2_FAILS=2: no stage 2, no CMD; the system stops with the code
        s.rcFailCode = ev.code;
        fx.push({ do: 'log', text: `vigil init: the service manager failed (exit ${ev.code}) and --on-rc-failure is stop: shutting down` });
        request('h', 0);
        break;
      }
      s.phase = 'stage2';
      // stage 2 first, then the scan that starts the user's services: each start is a clone+exec that PID 1
      // waits for (~0.5-5 ms), and rc.init need not wait for ten of them (in s6-linux-init too it runs
      // beside the scanner's start-up). Both happen in this same turn: a reap, and so CMD, comes after.
      fx.push({ do: 'start-stage2' }, { do: 'scanner', cmd: 'a' });
      break;

    case 'stage2-exited':
      if (s.phase !== 'stage2') break;
      if (cfg.hasCmd) {
        s.phase = 'cmd';
        s.cmd = 'running';
        fx.push({ do: 'start-cmd' });
      } else {
        s.phase = 'running';
      }
      break;

    case 'cmd-failed':
      s.cmd = 'failed';
      s.cmdFailCode = ev.code;
      request('h', 0);
      break;

    case 'cmd-exited':
      s.cmd = 'exited';
      s.cmdStatus = ev.status;
      request('h', 0);
      break;

    case 'signal':
      signal(ev.sig);
      break;

    case 'shutdown':
      if (GOING_DOWN.has(s.phase)) break;
      // a later record replaces a planned one
      if (s.plan) cancel('plan');
      s.plan = null;
      if (ev.delayMs <= 0) {
        request(ev.what, ev.graceMs);
      } else {
        s.plan = { what: ev.what, graceMs: ev.graceMs, deadline: now + ev.delayMs };
        timer('plan', ev.delayMs);
      }
      break;

    case 'cancel':
      if (s.plan) cancel('plan');
      s.plan = null;
      break;

    case 'down-done':
      if (s.stage3Only === 'services-down') {
        s.stage3Only = 'rc.shutdown';
        fx.push({ do: 'run-script', name: 'rc.shutdown', arg: WHAT_WORD.S });
      } else if (s.phase === 'services-down') {
        s.phase = 'stage3';
        fx.push({ do: 'run-script', name: 'rc.shutdown', arg: WHAT_WORD[s.what!] });
      }
      break;

    case 'script-exited':
      if (ev.name === 'rc.shutdown') {
        if (s.stage3Only === 'rc.shutdown') {
          s.stage3Only = null;
          const next = s.pending;
          s.pending = null;
          if (next) request(next.what, next.graceMs);
        } else if (s.phase === 'stage3') {
          // the tree: every service down through its supervision, TERM+CONT to every other process
          cancel('gate', 'plan', 'logger');
          s.loggerTimer = null;
          fx.push({ do: 'stop-shutdownd' }, { do: 'scanner', cmd: 't' });
          if (machine) fx.push({ do: 'sync' }, { do: 'log', text: 'vigil init: sending all processes the TERM signal...' });
          fx.push({ do: 'signal-all', sig: 'TERM', spareLogger: true }, { do: 'signal-all', sig: 'CONT', spareLogger: true });
          s.phase = 'tree-term';
          timer('grace', s.graceMs);
          fx.push({ do: 'watch-gone' });
        }
      } else if (s.phase === 'final') {
        s.phase = 'done';
        if (machine) fx.push({ do: 'sync' }, { do: 'reboot', what: s.what ?? 'h' });
        else fx.push({ do: 'exit', code: exitCode(cfg, s) });
      }
      break;

    case 'tree-stopping':
      // someone stops the tree from outside (s6-svscanctl -t, -b ...): as s6-linux-init's finish script
      // would, end the system — halt a container, reboot a machine
      if (GOING_DOWN.has(s.phase)) break;
      fx.push({ do: 'log', text: 'vigil init: warning: the supervision tree is stopping: shutting down' });
      request(machine ? 'r' : 'h', 0);
      break;

    case 'scanner-stopped':
      s.scannerStopped = true;
      if (s.phase === 'logger-drain' || s.phase === 'logger-kill') finish();
      break;

    case 'all-gone':
      if (s.phase === 'tree-term' || s.phase === 'tree-kill') drain();
      break;

    default: {
      const never: never = ev;
      void never;
    }
  }
  return { state: s, effects: fx };

  /** The signal table of README.md (SIGNAL_ACTIONS). */
  function signal(sig: string): void {
    if (!machine && s.cmd === 'running' && FORWARDED.has(sig)) {
      fx.push({ do: 'forward', sig });
      return;
    }
    const act = SIGNAL_ACTIONS[cfg.mode][sig];
    if (act === undefined) return;
    if (act === 'a' || act === 'hup') {
      if (!TREE_ENDING.has(s.phase)) fx.push({ do: 'scanner', cmd: act === 'a' ? 'a' : 'h' });
      return;
    }
    request(act, 0);
  }
}

/** Container: these go to CMD while it runs (nginx reloads on HUP). */
const FORWARDED: ReadonlySet<string> = new Set(['HUP', 'USR1', 'USR2', 'QUIT', 'WINCH']);
/**
 * What a signal to init does (when not forwarded): a shutdown (h/p/r), a rescan ('a', ALRM) or a rescan
 * that also kills inactive supervisions ('hup'). Missing: nothing (machine TERM/QUIT/WINCH, as s6-linux-init).
 */
const SIGNAL_ACTIONS: Record<'container' | 'machine', Record<string, ShutdownWhat | 'a' | 'hup'>> = {
  container: { TERM: 'h', INT: 'h', PWR: 'h', USR1: 'h', USR2: 'h', HUP: 'hup', ALRM: 'a' },
  machine: { INT: 'r', USR1: 'p', PWR: 'p', USR2: 'h', HUP: 'hup', ALRM: 'a' },
};

/**
 * Container exit code: the service manager's when it stopped the system (--on-rc-failure stop), else CMD's
 * (128+N if killed by N), 127/126 if it could not start; null: the exitcode file.
 */
export function exitCode(cfg: MachineConfig, s: State): number | null {
  if (s.rcFailCode !== null) return s.rcFailCode;
  if (!cfg.hasCmd) return null;
  if (s.cmdStatus !== null) return waitStatusToExitCode(s.cmdStatus);
  if (s.cmdFailCode !== null) return s.cmdFailCode;
  return null;
}
