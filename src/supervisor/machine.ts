/**
 * One service's supervision as a pure step machine: s6-supervise 2.11.3.2's `actions[state][event]` table
 * (s6-protocol.md §5), written so that the compiler checks every cell.
 *
 *   step(record, event, query) → { record', effects[] }
 *
 * - `record` (ServiceRecord) is a plain, serialisable object: the state, the 35-byte status, the single
 *   deadline and the readiness time as CLOCK_MONOTONIC milliseconds (system-wide, so they stay valid across
 *   an execve of the supervisor), and which fds the supervision holds. Nothing else lives anywhere: a service
 *   is restored from a saved record by re-arming its deadline, re-watching its fds and re-registering its pids.
 * - `event` is every input there is: the deadline passing, a child reaped, a control byte, a readiness line,
 *   a signal meant for "the supervisor", and the result of a spawn the machine asked for.
 * - `query` gives read-only access to the world: the monotonic and wall clocks and the service's config
 *   files, which s6 reads at the moment it needs them (timeout-kill when `d` comes...). Reading is not
 *   acting: the machine is deterministic given (record, event, query), and the unit tests give it a fake.
 * - `effects` are what the executor (service.ts) does, in order, over the injected world (world.ts): write
 *   the status, announce event bytes, spawn, kill, ... A spawn's outcome comes back as the next event
 *   (`spawned` / `spawnFailed` / `finishSpawned` / `finishFailed`), delivered before any other input.
 * The input record is never modified. `step` never calls `step`.
 *
 * States (s6's five, plus ENDED: s6-supervise has exited):
 *
 *                 timeout & want up: spawn run                      run reaped: finish spawned
 *        ┌──────┐ ───────────────────────────────▶ ┌────┐ ───────────────────────────────▶ ┌────────┐
 *   ───▶ │ DOWN │   o / u / U: spawn at once        │ UP │   (d, + D if finish is missing)   │ FINISH │
 *        └──────┘ ◀─────────────────────────────────└────┘                                   └────────┘
 *          ▲  │     finish reaped / timed out: D (OD after exit 125), restart deadline set       │
 *          │  └──────────────────────────────────────────────────────────────────────────────◀─┘
 *          │  x / TERM / HUP / QUIT / INT in DOWN: end          x / HUP in UP: LASTUP; in FINISH: LASTFINISH
 *        ┌───────┐                                   ┌────────┐  run reaped   ┌────────────┐ finish reaped
 *        │ ENDED │ ◀──────────────────────────────── │ LASTUP │ ────────────▶ │ LASTFINISH │ ─────▶ ENDED
 *        └───────┘     QUIT anywhere: end at once     └────────┘               └────────────┘  (D, then x)
 *
 * The rules, and why each is so (all of them s6-supervise's, tested one by one in test/supervisor/rules):
 * - One deadline per service; what it means depends on the state (DOWN: start if still wanted up; UP after
 *   `d`: SIGKILL, then every 5 s; FINISH: SIGCONT+SIGKILL to finish, then every 5 s). One timer is all s6
 *   needs, so a service costs one heap entry in the shared timer queue at most, and none when idle.
 * - The DOWN deadline starts the service only if it is still wanted up. This is what makes `o` run a
 *   service once: after an exec failure the 10 s retry finds want-up false and does nothing (s6's
 *   `downtimeout`). (vigil before this machine retried every 10 s forever.)
 * - Throttle: the restart deadline is set when finish ends: readiness + 1 s if the run reported readiness,
 *   else 1 s after `D`. A service that stays up and ready for a second restarts at once; a crash loop makes
 *   at most one start per second. `o`, `u` and `U` in DOWN start at once: an operator's command is never
 *   throttled.
 * - exec of run failed: 10 s (a fix needs a human: do not spin); fork, pipe or lock failure: 60 s (the
 *   system is short of resources). Neither writes the status nor sends an event: nothing changed.
 * - lock-fd held by another process (an old instance still running): warn once and start anyway; the
 *   child blocks on the lock before exec and runs as soon as the old instance lets go (s6's "child will
 *   block"). Polling would delay the start by up to the poll period and warn every time.
 * - notification-fd equal to lock-fd: a configuration error no retry can fix: warn, never start (until a
 *   command comes).
 * - finish gets (exit code | 256, signal); its pid is the status pid with `finishing` set, so clients see
 *   "down" while it runs; timeout-finish (default 5000 ms, 0 = none) bounds it. Exit 125 = permanent
 *   failure: want-up off, `OD` in one write.
 * - `d`: down-signal (default SIGTERM) then SIGCONT (a stopped process must get to handle it), paused off,
 *   timeout-kill arms the SIGKILL deadline. `r` sends the down-signal only: want-up is unchanged, so the
 *   service restarts. Signal letters act on run only (not finish), and only on its pid, not its group.
 * - `x` / SIGHUP: end once the current cycle is over (LAST states), without stopping the service; the
 *   stdio fds the supervision holds become /dev/null at once (so a logger on the other side of a pipe can
 *   see EOF). SIGTERM: as `d`, then end. SIGQUIT: end now, leaving run alive. SIGINT: SIGINT to run's
 *   (or finish's) process group, then end.
 * - Every status change is persisted, then announced: a client woken by an event byte reads a status file
 *   that already says so. Ending releases the lock before `x` goes out, so a listener that sees `x` also
 *   sees the supervisor gone.
 * - Status writes separated only by announcements (and warnings) in one step are one write, of the last
 *   content, at the place of the first (coalesce): a run with no finish dies as `d` (finishing) then `D`
 *   (down and ready) in one step, and both bytes go out after one write saying down and ready. The state
 *   in between lived for no time a client could act in (in s6 it lasts a fork and a failed exec of finish;
 *   here it was the gap between two renames), while every write costs: on ext4 a rename over the old status
 *   starts a write-back of the new file, ~0.5 ms under load, and a stop of 250 services made ~750 of them.
 *   Across a spawn or a kill nothing is merged (run may read the status the moment it starts). The
 *   executor (service.ts) also skips a write whose content is what the file already holds.
 *
 * Adoption (issue 10: a restarted `vigil svscan` never doubles a service). s6 needs none: its s6-supervise
 * processes outlive a killed scanner. vigil supervises every service from one process, so what survives a
 * SIGKILL of it is only the services (each is a session leader, so the kill does not reach them). Every
 * spawn of run is recorded in supervise/vigil-run (pid, start time, boot id: src/formats/runrecord.ts), and
 * the supervisor that takes the directory next (it holds the lock, so the writer is gone) looks there first:
 * - the recorded run still runs (same pid, same start time in /proc, same boot, not a zombie) and a pidfd
 *   could be opened on it: `start` puts the service straight in UP with `adopted` set: no spawn, no second
 *   copy. The status keeps the previous supervisor's stamps, readiness, pause and wish when its status file
 *   names the same pid (else: up since now, not ready, want-up from `down`). Events: `s` only (run did not
 *   start now, so no `u`).
 * - An adopted run is not our child: no wait status will ever come. Its pidfd becomes readable when it
 *   exits (the `gone` event); every signal the machine sends it goes through that pidfd
 *   (pidfd_send_signal: a recycled pid can never be hit), except SIGINT to its process group. Every letter
 *   and supervisor signal acts as on any run (the same table cells): `d` sends the down-signal and SIGCONT
 *   and arms timeout-kill, `x` / SIGHUP go to LASTUP, SIGTERM stops it, SIGQUIT ends supervision and leaves
 *   it running (its record still says adopted: the next supervisor adopts it again).
 * - `gone`: the death of run as in `chld`, with what is unknown said so: the status's wstat is 0 (s6's
 *   35-byte status cannot say "unknown"; `s6-svstat` reads a valid file and prints `exitcode 0`), no death
 *   tally record (it holds a wait status), supervise/vigil-run says `exit-unknown` (`vigil status` prints
 *   LAST EXIT `unknown (adopted)`), finish gets `-1 0` (no real death gives -1). Then finish, restart and the
 *   throttle as always; the next run is our own child again.
 * - it still runs but no pidfd could be had (ENOSYS before Linux 5.3, EPERM under an old seccomp profile,
 *   EMFILE): reported once and left alone: `foreign` holds it, and every start (the first one, a later `u`)
 *   looks in /proc first and, while it lives, starts nothing and looks again in 10 s (without a pidfd the
 *   death of a process that is not our child is no event anywhere; only this degraded case polls).
 * - the recorded run is this process's own child (alive or a zombie not yet reaped): that happens only
 *   after a cold re-exec (the event-loop watchdog execs the process with no state file, reexec.ts; execve
 *   keeps its children). It is taken back as above, except that it is not `adopted`: its exit comes through
 *   waitpid with its real status (the `exit` event: finish gets the real code, the death tally a record),
 *   and signals go to its pid (ours to reap, so it cannot be recycled meanwhile). The reaper is held until
 *   every such run has its owner, so one that died during the exec is not dropped as an orphan.
 * The log pipe of an adopted pair: the dead supervisor held both ends of the service → logger pipe; the
 * adopted service still writes into it and the adopted logger still reads from it, so logging goes on. The
 * new supervisor makes a new pipe that neither of them has. When the service dies, the adopted logger
 * reads what is left, sees EOF (no writer remains) and exits (vigil log and s6-log both do), and the pair
 * restarts onto the new pipe: nothing lost. When the logger dies first, its successor reads the new pipe;
 * the adopted service's next write has no reader: SIGPIPE (or EPIPE if it ignores SIGPIPE), so it dies
 * and restarts onto the new pipe; what the old pipe held then is lost. A service logged in-supervisor
 * (`log-dir`) lost its reader with the dead supervisor: the same SIGPIPE, then a restart onto the new pipe.
 */
import type { SvStatus } from '../formats/status';
import type { Tain } from '../formats/tai64n';
import type { RunRecordKind } from '../formats/runrecord';
import { SVC_LETTER_SIGNALS, SVC_LETTERS } from '../formats/control';
import { SIGNALS } from '../sys/signals';
import { wexitstatus, wifexited, wtermsig } from '../sys/waitstatus';

export enum State {
  DOWN = 'DOWN',
  UP = 'UP',
  FINISH = 'FINISH',
  LASTUP = 'LASTUP',
  LASTFINISH = 'LASTFINISH',
  /** supervision over (s6-supervise has exited): every input is ignored */
  ENDED = 'ENDED',
}

/** What "the supervisor" receives as a signal in s6 (§5.3), as an in-process request. */
export type SupervisorSignal = 'term' | 'hup' | 'quit' | 'int';

/**
 * fds a supervision holds (numbers; -1 = none), so that a saved record says what to carry across an execve.
 * The machine never reads or writes them: the executor (service.ts) keeps them up to date.
 */
export interface HeldFds {
  /** supervise/lock, OFD write lock */
  lock: number;
  /** supervise/control, opened O_RDWR (reader and held writer in one) */
  control: number;
  /** read end of the readiness pipe while run may still report */
  notify: number;
  /** what run and finish get as 0, 1, 2 */
  stdio: [number, number, number];
  /** which of those the supervision owns (dup'ed copies, closed when it ends or at `x`) */
  owned: number[];
  /** a pidfd on the adopted run while it is watched (-1: none) */
  pidfd: number;
}

/** A run a previous supervisor of the directory started (supervise/vigil-run): the pid and its start time. */
export interface LeftRun {
  pid: number;
  /** /proc/PID/stat field 22: with the pid it names one process, never a later one that reused the pid */
  startTime: number;
}

/** What the executor found left running when it took the directory (given to `start`). */
export type Found =
  /**
   * a pidfd is open on it: adopt it; prev = the status file the dead supervisor left (null: unreadable).
   * child: it is this process's own child (a cold re-exec: execve kept it; maybe already a zombie): no
   * pidfd, its exit comes through the reaper with its real wait status, as for a run started here
   */
  | (LeftRun & { adopt: true; prev: SvStatus | null; child?: boolean })
  /** it runs but cannot be watched (why: the pidfd_open error): leave it alone, never start beside it */
  | (LeftRun & { adopt: false; why: string });

export interface ServiceRecord {
  /** argv[1] of run, last argument of finish (`foo` or `foo/log`) */
  name: string;
  /** absolute path of the service directory (follows a rename) */
  dir: string;
  state: State;
  /** exactly what supervise/status holds (pid: run's when up, finish's while finishing, else 0) */
  status: SvStatus;
  /** the one deadline, monotonic ms (null: none) */
  deadline: number | null;
  /** the deadline is the kill timer armed by `d` (s6 `gflags.dying`) */
  dying: boolean;
  /** readiness + 1 s, monotonic ms: the earliest restart after this run (s6 `nextstart`; null: no readiness) */
  nextStart: number | null;
  /** a spawn was asked for and its result event is due next */
  pending: 'run' | 'finish' | null;
  /** the readiness pipe is open (run may still write its line) */
  notifying: boolean;
  /** stdin/stdout were replaced by /dev/null (after `x` / SIGHUP) */
  stdioNull: boolean;
  /** why supervision ended ('' while it runs) */
  ended: '' | 'x' | SupervisorSignal | 'fork';
  /** run (status.pid in UP / LASTUP) was adopted from a supervisor that died: not our child, watched by pidfd */
  adopted: boolean;
  /** a run left by a dead supervisor that could not be adopted: no start while it lives */
  foreign: LeftRun | null;
  fds: HeldFds;
}

export type Event =
  /** the deadline passed */
  | { t: 'timeout' }
  /** a child of this supervision was reaped (run or finish: matched against status.pid) */
  | { t: 'exit'; pid: number; wstat: number }
  /** a chunk containing a newline arrived on the readiness pipe */
  | { t: 'ready' }
  /** the readiness pipe hit EOF (or an error) without a newline */
  | { t: 'notifyEof' }
  /** one byte from supervise/control */
  | { t: 'ctl'; c: number }
  | { t: 'sig'; sig: SupervisorSignal }
  /**
   * result of spawnRun: run is alive; notify: a readiness pipe is open on it; lockWait: it is blocked on
   * lock-fd's lock, which another process holds
   */
  | { t: 'spawned'; pid: number; notify: boolean; lockWait: boolean }
  /** result of spawnRun: exec failed (10 s) or a fork/pipe/lock failure (60 s); detail says what failed */
  | { t: 'spawnFailed'; why: 'exec' | 'fork'; detail: string }
  | { t: 'finishSpawned'; pid: number }
  /** exec failed (missing finish: quiet) = finish "exited 127"; fork failed = `dD` */
  | { t: 'finishFailed'; why: 'exec' | 'fork'; detail: string; quiet: boolean }
  /** the adopted run's pidfd became readable: it has exited (how is unknown: it is not our child) */
  | { t: 'gone'; pid: number };

export type Effect =
  /** write supervise/status (status.new + rename) with this content */
  | { t: 'persist'; status: SvStatus }
  /** send these bytes to every listener of event/ (and in-process observers) */
  | { t: 'announce'; bytes: string }
  /** spawn ./run NAME; the result comes back as `spawned` or `spawnFailed` */
  | { t: 'spawnRun'; notificationFd: number | undefined; lockFd: number | undefined }
  /** spawn ./finish A1 A2 NAME; the result comes back as `finishSpawned` or `finishFailed` */
  | { t: 'spawnFinish'; args: [string, string] }
  /** kill(pid, sig); a negative pid is a process group; pidfd: through the adopted run's pidfd instead */
  | { t: 'kill'; pid: number; sig: number; pidfd?: true }
  /** write supervise/vigil-run: run's pid (and, for `own`, its start time, read by the executor) */
  | { t: 'recordRun'; pid: number; kind: RunRecordKind }
  /** stop watching and close the adopted run's pidfd */
  | { t: 'closePidfd' }
  /** append one record to supervise/death_tally, keeping the newest `max` */
  | { t: 'recordDeath'; stamp: Tain; wstat: number; max: number }
  /** create (s6-svc -D/-Q) or remove (-U) the `down` file */
  | { t: 'downFile'; present: boolean }
  /** the stdin/stdout given to run and finish become /dev/null; the owned copies are closed */
  | { t: 'stdioToNull' }
  /** close the readiness pipe */
  | { t: 'closeNotify' }
  | { t: 'warn'; msg: string }
  /** end: forget these pids (an orphaned run), release the lock and the control fifo, close what is owned */
  | { t: 'release'; pids: number[] }
  /** supervision is over (after the `x` announce): tell the owner */
  | { t: 'ended' };

/** Config files, read when the machine needs them (each read warns on an invalid value by itself). */
export interface ServiceConfig {
  notificationFd(): number | undefined;
  lockFd(): number | undefined;
  /** ms, 0 = never */
  timeoutKill(): number;
  /** ms, 0 = no limit (default 5000) */
  timeoutFinish(): number;
  /** records to keep, 0..4096 (default 100) */
  maxDeathTally(): number;
  /** signal number (default SIGTERM) */
  downSignal(): number;
}

/** What the machine may ask of the world: clocks and config, nothing that acts. */
export interface Query {
  /** monotonic milliseconds (CLOCK_MONOTONIC) */
  now(): number;
  /** wall clock as TAI64N, for the status stamps */
  wall(): Tain;
  readonly config: ServiceConfig;
  /** that run still runs (its pid has that start time in /proc and is not a zombie) */
  runAlive(run: LeftRun): boolean;
}

export interface StepResult {
  record: ServiceRecord;
  effects: Effect[];
}

export const EXEC_RETRY_MS = 10000;
export const FORK_RETRY_MS = 60000;
export const KILL_REPEAT_MS = 5000;
export const THROTTLE_MS = 1000;
/** finish's exit code meaning "do not restart" */
export const PERMANENT_FAILURE = 125;

const SIG = SIGNALS;

/** The 21 control bytes s6-supervise knows, in s6's order (others are ignored). */
export const CONTROL_LETTERS = SVC_LETTERS;
export type Letter = 'a' | 'b' | 'q' | 'h' | 'k' | 't' | 'i' | '1' | '2' | 'p' | 'c' | 'y' | 'r' | 'o' | 'd' | 'u' | 'D' | 'U' | 'x' | 'O' | 'Q';
/** s6's inputs: the deadline, a reaped child, the four supervisor signals, the 21 letters */
export type Input = 'timeout' | 'chld' | SupervisorSignal | Letter;

/** A fresh record for a service whose directory was just taken (before the first status is written). */
export function initialRecord(name: string, dir: string, fds: HeldFds): ServiceRecord {
  return {
    name,
    dir,
    state: State.DOWN,
    status: {
      stamp: { sec: 0n, nsec: 0 }, readyStamp: { sec: 0n, nsec: 0 }, pid: 0, wstat: 0, paused: false, finishing: false, wantUp: false, ready: false,
    },
    deadline: null,
    dying: false,
    nextStart: null,
    pending: null,
    notifying: false,
    stdioNull: false,
    ended: '',
    adopted: false,
    foreign: null,
    fds,
  };
}

/**
 * s6-supervise's start-up (§3.1) once the directory is taken: status with both stamps = now, want-up unless
 * `down` exists, ready; written, then `s`; a deadline of now, so the first timeout starts the service if it
 * is wanted up (s6's `settimeout(0)`). The first effect is always the status write.
 * found: a run the previous supervisor left running (see Adoption in the header): adopted, the service
 * starts in UP with no deadline; not adoptable, it is reported and kept in `foreign`.
 */
export function start(rec: ServiceRecord, downFile: boolean, q: Query, found: Found | null = null): StepResult {
  const r = draft(rec);
  const fx: Effect[] = [];
  const now = q.wall();
  const s = r.status;
  if (found?.adopt) {
    const prev = found.prev !== null && found.prev.pid === found.pid && !found.prev.finishing ? found.prev : null;
    r.state = State.UP;
    r.adopted = !found.child;
    r.deadline = null;
    s.pid = found.pid;
    s.finishing = false;
    s.stamp = prev ? prev.stamp : now;
    s.readyStamp = prev ? prev.readyStamp : now;
    s.ready = prev ? prev.ready : false;
    s.paused = prev ? prev.paused : false;
    s.wantUp = prev ? prev.wantUp : !downFile;
    fx.push({ t: 'persist', status: { ...s } }, { t: 'announce', bytes: 's' }, { t: 'recordRun', pid: found.pid, kind: found.child ? 'own' : 'adopted' });
    return { record: r, effects: fx };
  }
  s.stamp = now;
  s.readyStamp = now;
  s.wantUp = !downFile;
  s.ready = true;
  r.deadline = q.now();
  fx.push({ t: 'persist', status: { ...s } }, { t: 'announce', bytes: 's' });
  if (found) {
    r.foreign = { pid: found.pid, startTime: found.startTime };
    fx.push({
      t: 'warn',
      msg: `run of a previous supervisor (pid ${found.pid}) is still running and cannot be adopted (${found.why}) - not starting a second copy while it runs`,
    });
  }
  return { record: r, effects: fx };
}

// ------------------------------------------------------------------------------------------ the machine

type Action = (m: Step) => void;

/** One step in progress: the draft record, the effects so far, the query. */
class Step {
  constructor(readonly r: ServiceRecord, readonly fx: Effect[], readonly q: Query, readonly wstat: number) {}
  persist(): void {
    this.fx.push({ t: 'persist', status: { ...this.r.status } });
  }
  announce(bytes: string): void {
    this.fx.push({ t: 'announce', bytes });
  }
  warn(msg: string): void {
    this.fx.push({ t: 'warn', msg });
  }
  after(ms: number): void {
    this.r.deadline = this.q.now() + ms;
  }
  never(): void {
    this.r.deadline = null;
  }
  kill(sig: number): void {
    // an adopted run is signalled through its pidfd (its pid is not ours to reap, so it could be recycled)
    if (this.r.adopted) this.fx.push({ t: 'kill', pid: this.r.status.pid, sig, pidfd: true });
    else this.fx.push({ t: 'kill', pid: this.r.status.pid, sig });
  }
}

const nop: Action = () => {};

/** end supervision (s6: the loop ends, `x` is sent, exit 0); the status file is left as it is */
function endWith(reason: ServiceRecord['ended']): Action {
  return (m) => {
    const r = m.r;
    // an adopted run is no child of ours to forget: its pidfd is closed and it runs on, unwatched
    const pids = r.status.pid > 0 && r.state !== State.DOWN && !r.adopted ? [r.status.pid] : [];
    if (r.notifying) {
      r.notifying = false;
      m.fx.push({ t: 'closeNotify' });
    }
    if (r.adopted) {
      r.adopted = false;
      m.fx.push({ t: 'closePidfd' });
    }
    r.state = State.ENDED;
    r.ended = reason;
    r.deadline = null;
    r.dying = false;
    r.pending = null;
    m.fx.push({ t: 'release', pids });
    m.announce('x');
    m.fx.push({ t: 'ended' });
  };
}
const bail = endWith('x');

/** SIGINT to run's (or finish's) process group (each is a session leader: pgid = pid), then end */
const sigint: Action = (m) => {
  if (m.r.status.pid > 0) m.fx.push({ t: 'kill', pid: -m.r.status.pid, sig: SIG.INT });
  endWith('int')(m);
};

/** `x` / SIGHUP: stdin and stdout of what runs next become /dev/null */
const closethem: Action = (m) => {
  if (m.r.stdioNull) return;
  m.r.stdioNull = true;
  m.fx.push({ t: 'stdioToNull' });
};

const adddown: Action = (m) => m.fx.push({ t: 'downFile', present: true });
const deldown: Action = (m) => m.fx.push({ t: 'downFile', present: false });

const killWith = (sig: number): Action => (m) => m.kill(sig);
const killp: Action = (m) => {
  m.kill(SIG.STOP);
  m.r.status.paused = true;
  m.persist();
};
const killc: Action = (m) => {
  m.kill(SIG.CONT);
  m.r.status.paused = false;
  m.persist();
};
const killr: Action = (m) => m.kill(m.q.config.downSignal());

const wantdown: Action = (m) => {
  m.r.status.wantUp = false;
  m.persist();
};
const wantup: Action = (m) => {
  m.r.status.wantUp = true;
  m.persist();
};
const wantDOWN: Action = (m) => {
  adddown(m);
  wantdown(m);
};
const wantUP: Action = (m) => {
  deldown(m);
  wantup(m);
};

/** ask for run to be spawned (s6 `trystart`); the outcome arrives as `spawned` / `spawnFailed` */
const trystart: Action = (m) => {
  const f = m.r.foreign;
  if (f !== null) {
    // the previous supervisor's run that could not be adopted: never a second copy while it runs
    if (m.q.runAlive(f)) {
      m.after(EXEC_RETRY_MS);
      return;
    }
    m.r.foreign = null;
  }
  const cfg = m.q.config;
  const lk = cfg.lockFd();
  const notif = cfg.notificationFd();
  if (lk !== undefined && notif !== undefined && notif === lk) {
    m.never();
    m.warn('unable to start service: notification-fd and lock-fd are the same');
    return;
  }
  m.r.pending = 'run';
  m.fx.push({ t: 'spawnRun', notificationFd: notif, lockFd: lk });
};

const downtimeout: Action = (m) => {
  if (m.r.status.wantUp) trystart(m);
  else m.never();
};
const down_o: Action = (m) => {
  wantdown(m);
  trystart(m);
};
const down_u: Action = (m) => {
  wantup(m);
  trystart(m);
};
const down_U: Action = (m) => {
  wantUP(m);
  trystart(m);
};

/**
 * run died (UP or LASTUP): status, death tally, then finish is asked for. An adopted run (its `gone`):
 * the status is unknown, so wstat 0, no tally record, vigil-run says exit-unknown, finish gets `-1 0`.
 */
function runDied(m: Step, finishState: State.FINISH | State.LASTFINISH): void {
  const r = m.r;
  const w = m.wstat;
  const unknown = r.adopted;
  r.status.wstat = unknown ? 0 : w & 0xffff;
  r.status.paused = false;
  r.status.ready = false;
  r.dying = false;
  r.status.stamp = m.q.wall();
  if (r.notifying) {
    r.notifying = false;
    m.fx.push({ t: 'closeNotify' });
  }
  if (unknown) {
    r.adopted = false;
    m.fx.push({ t: 'closePidfd' }, { t: 'recordRun', pid: r.status.pid, kind: 'exit-unknown' });
  } else {
    const max = m.q.config.maxDeathTally();
    if (max > 0) m.fx.push({ t: 'recordDeath', stamp: r.status.stamp, wstat: w, max });
  }
  r.state = finishState;
  r.pending = 'finish';
  const args: [string, string] = unknown ? ['-1', '0'] : wifexited(w) ? [String(wexitstatus(w)), '0'] : ['256', String(wtermsig(w))];
  m.fx.push({ t: 'spawnFinish', args });
}
const up_z: Action = (m) => runDied(m, State.FINISH);
const lastup_z: Action = (m) => runDied(m, State.LASTFINISH);

const uptimeout: Action = (m) => {
  if (m.r.dying) {
    m.kill(SIG.KILL);
    m.after(KILL_REPEAT_MS);
  } else {
    m.never();
    m.warn("can't happen: timeout while the service is up!");
  }
};

const up_d: Action = (m) => {
  m.r.status.wantUp = false;
  killr(m);
  killc(m);
  const tk = m.q.config.timeoutKill();
  if (tk > 0) {
    m.after(tk);
    m.r.dying = true;
  } else m.never();
};
const up_D: Action = (m) => {
  adddown(m);
  up_d(m);
};
const up_x: Action = (m) => {
  m.r.state = State.LASTUP;
  closethem(m);
};
const up_term: Action = (m) => {
  m.r.state = State.LASTUP;
  up_d(m);
};

const finishtimeout: Action = (m) => {
  m.warn('finish script lifetime reached maximum value - sending it a SIGKILL');
  killc(m);
  m.kill(SIG.KILL);
  m.after(KILL_REPEAT_MS);
};

/** down and ready: pid 0, ready; restart deadline (readiness + 1 s, else 1 s) if still wanted up */
function setDownAndReady(m: Step, bytes: string): void {
  const r = m.r;
  r.status.pid = 0;
  r.status.finishing = false;
  r.status.ready = true;
  r.state = State.DOWN;
  // s6 arms this deadline whether or not the service is wanted up and checks want-up when it fires
  // (downtimeout); arming it only when wanted up has the same outcome without a useless wake-up.
  if (r.status.wantUp) r.deadline = r.nextStart ?? m.q.now() + THROTTLE_MS;
  else r.deadline = null;
  r.status.readyStamp = m.q.wall();
  m.persist();
  m.announce(bytes);
}

const finish_z: Action = (m) => {
  const w = m.wstat;
  if (wifexited(w) && wexitstatus(w) === PERMANENT_FAILURE) {
    m.r.status.wantUp = false;
    setDownAndReady(m, 'OD');
  } else setDownAndReady(m, 'D');
};
const finish_x: Action = (m) => {
  m.r.state = State.LASTFINISH;
  closethem(m);
};
const lastfinish_z: Action = (m) => {
  finish_z(m);
  bail(m);
};

const letterKill = (l: string): Action => killWith(SVC_LETTER_SIGNALS[l]);
const K = {
  a: letterKill('a'), b: letterKill('b'), q: letterKill('q'), h: letterKill('h'), k: letterKill('k'), t: letterKill('t'),
  i: letterKill('i'), '1': letterKill('1'), '2': letterKill('2'), p: killp, c: killc, y: letterKill('y'), r: killr,
} as const;
const NO_SIGNALS = { a: nop, b: nop, q: nop, h: nop, k: nop, t: nop, i: nop, '1': nop, '2': nop, p: nop, c: nop, y: nop, r: nop } as const;

/**
 * s6-supervise's table, row by row: every state has an action for every input (the type makes a missing
 * cell a compile error). Read a row to see everything a state does.
 */
export const ACTIONS: Readonly<Record<Exclude<State, State.ENDED>, Readonly<Record<Input, Action>>>> = {
  [State.DOWN]: {
    timeout: downtimeout, chld: nop, term: endWith('term'), hup: endWith('hup'), quit: endWith('quit'), int: endWith('int'),
    ...NO_SIGNALS,
    o: down_o, d: wantdown, u: down_u, D: wantDOWN, U: down_U, x: bail, O: wantdown, Q: wantDOWN,
  },
  [State.UP]: {
    timeout: uptimeout, chld: up_z, term: up_term, hup: up_x, quit: endWith('quit'), int: sigint,
    ...K,
    o: wantdown, d: up_d, u: wantup, D: up_D, U: wantUP, x: up_x, O: wantdown, Q: wantDOWN,
  },
  [State.FINISH]: {
    timeout: finishtimeout, chld: finish_z, term: finish_x, hup: finish_x, quit: endWith('quit'), int: sigint,
    ...NO_SIGNALS,
    o: wantdown, d: wantdown, u: wantup, D: wantDOWN, U: wantUP, x: finish_x, O: wantdown, Q: wantDOWN,
  },
  [State.LASTUP]: {
    timeout: uptimeout, chld: lastup_z, term: up_d, hup: closethem, quit: endWith('quit'), int: sigint,
    ...K,
    o: wantdown, d: up_d, u: wantup, D: up_D, U: wantUP, x: closethem, O: wantdown, Q: wantDOWN,
  },
  [State.LASTFINISH]: {
    timeout: finishtimeout, chld: lastfinish_z, term: nop, hup: closethem, quit: endWith('quit'), int: sigint,
    ...NO_SIGNALS,
    o: wantdown, d: wantdown, u: wantup, D: wantDOWN, U: wantUP, x: closethem, O: wantdown, Q: wantDOWN,
  },
};

function draft(rec: ServiceRecord): ServiceRecord {
  return { ...rec, status: { ...rec.status } };
}

function assertNever(x: never): never {
  throw new Error(`unhandled event ${JSON.stringify(x)}`);
}

/**
 * Status writes separated only by announcements and warnings become one, at the first one's place, holding
 * the last one's content (see the rules above): every byte still goes out after a write that says so.
 */
export function coalesce(fx: Effect[]): Effect[] {
  const out: Effect[] = [];
  let open = -1; // index in `out` of a persist that only announcements and warnings follow
  for (const e of fx) {
    if (e.t === 'persist') {
      if (open >= 0) {
        out[open] = e;
        continue;
      }
      open = out.length;
    } else if (e.t !== 'announce' && e.t !== 'warn') open = -1;
    out.push(e);
  }
  return out;
}

/** The transition function. Pure: `rec` is not modified. */
export function step(rec: ServiceRecord, ev: Event, q: Query): StepResult {
  const fx: Effect[] = [];
  if (rec.state === State.ENDED) return { record: rec, effects: fx };
  const r = draft(rec);
  const state = rec.state;
  const cell = (input: Input, wstat = 0): void => ACTIONS[state][input](new Step(r, fx, q, wstat));
  switch (ev.t) {
    case 'timeout':
      // a stale timeout (the deadline went, or moved later) is not an input; 1 ms of slack for timer rounding
      if (r.deadline === null || r.deadline > q.now() + 1 || r.pending !== null) break;
      r.deadline = null;
      cell('timeout');
      break;
    case 'exit':
      // s6 waits for status.pid only: run while up, finish while finishing (an adopted run is no child)
      if (r.pending === null && ev.pid > 0 && ev.pid === r.status.pid && state !== State.DOWN && !r.adopted) cell('chld', ev.wstat);
      break;
    case 'gone':
      // the adopted run exited: the `chld` cell of UP / LASTUP, its wait status unknown (runDied)
      if (r.pending === null && r.adopted && ev.pid === r.status.pid && (state === State.UP || state === State.LASTUP)) cell('chld');
      break;
    case 'ctl': {
      const pos = CONTROL_LETTERS.indexOf(String.fromCharCode(ev.c));
      if (pos >= 0 && r.pending === null) cell(CONTROL_LETTERS[pos] as Letter);
      break; // unknown bytes are ignored
    }
    case 'sig':
      if (r.pending === null) cell(ev.sig);
      break;
    case 'ready': {
      const m = new Step(r, fx, q, 0);
      if (!r.notifying) break;
      r.notifying = false;
      fx.push({ t: 'closeNotify' });
      if (state !== State.UP && state !== State.LASTUP) break;
      r.nextStart = q.now() + THROTTLE_MS;
      r.status.readyStamp = q.wall();
      r.status.ready = true;
      m.persist();
      m.announce('U');
      break;
    }
    case 'notifyEof':
      if (r.notifying) {
        r.notifying = false;
        fx.push({ t: 'closeNotify' });
      }
      break;
    case 'spawned': {
      if (r.pending !== 'run') break;
      const m = new Step(r, fx, q, 0);
      r.pending = null;
      if (ev.lockWait) m.warn('another instance of the service is already running, child will block');
      // recorded before anything else: a supervisor killed from here on finds this run and adopts it
      fx.push({ t: 'recordRun', pid: ev.pid, kind: 'own' });
      r.deadline = null;
      r.nextStart = null;
      r.dying = false;
      r.state = State.UP;
      r.notifying = ev.notify;
      r.status.pid = ev.pid;
      r.status.ready = false;
      r.status.paused = false;
      r.status.finishing = false;
      r.status.stamp = q.wall();
      m.persist();
      m.announce('u');
      break;
    }
    case 'spawnFailed': {
      if (r.pending !== 'run') break;
      r.pending = null;
      const m = new Step(r, fx, q, 0);
      if (ev.why === 'exec') {
        m.after(EXEC_RETRY_MS);
        m.warn(`unable to spawn ./run - waiting 10 seconds: ${ev.detail}`);
      } else {
        m.after(FORK_RETRY_MS);
        m.warn(`${ev.detail} - waiting 60 seconds`);
      }
      break;
    }
    case 'finishSpawned': {
      if (r.pending !== 'finish') break;
      r.pending = null;
      const m = new Step(r, fx, q, 0);
      r.status.pid = ev.pid;
      r.status.finishing = true;
      m.persist();
      m.announce('d');
      const tf = q.config.timeoutFinish();
      if (tf > 0) m.after(tf);
      else m.never();
      break;
    }
    case 'finishFailed': {
      if (r.pending !== 'finish') break;
      r.pending = null;
      const m = new Step(r, fx, q, 127 << 8);
      const last = r.state === State.LASTFINISH;
      if (ev.why === 'fork') {
        // s6: "unable to fork for ./finish", then down and ready with `dD` (and the end, in LASTFINISH)
        m.warn(`unable to fork for ./finish: ${ev.detail}`);
        setDownAndReady(m, 'dD');
        if (last) bail(m);
        break;
      }
      // exec failed: what s6 sees as a forked finish that exits 127 at once (quietly when there is no
      // finish at all): `d` with finishing set, then the finish exit
      if (!ev.quiet) m.warn(`unable to spawn ./finish: ${ev.detail}`);
      r.status.pid = 0;
      r.status.finishing = true;
      m.persist();
      m.announce('d');
      if (last) lastfinish_z(m);
      else finish_z(m);
      break;
    }
    default:
      assertNever(ev);
  }
  return { record: r, effects: coalesce(fx) };
}

/** The run's pid while run is alive, else 0. */
export function runPid(rec: ServiceRecord): number {
  return rec.state === State.UP || rec.state === State.LASTUP ? rec.status.pid : 0;
}

/** finish's pid while it runs, else 0. */
export function finishPid(rec: ServiceRecord): number {
  return rec.state === State.FINISH || rec.state === State.LASTFINISH ? rec.status.pid : 0;
}
