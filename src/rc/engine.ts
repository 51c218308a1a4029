/**
 * The service manager's transition engine: a pure state machine, `step(state, event) → effects`, over a graph
 * (graph.ts). No I/O, no clock, no timers of its own: every event carries `now` (monotonic ms) and every
 * action is an Effect the world performs (src/rc/manager.ts does it for real; test/rc/engine.test.ts with a
 * fake world and a fake clock). Deterministic: the same state and event give the same effects.
 *
 * Shape (dinit's, with s6-rc's semantics, s6-rc-and-s6-overlay.md §A5-A6):
 * - per atomic service a record: its settled state (`cur`: up or down, s6-rc's state bit), the transition in
 *   flight (`busy`), why it last failed, and what the supervisor last said about it (longruns);
 * - a job is one request (change, restart, reload, shutdown) made of phases; a phase has a direction and a
 *   selection, and per service a count of the selected neighbours it waits for (dependencies going up,
 *   dependents going down). A service whose count reaches 0 is examined: already there (then it counts as
 *   done at once), essential and going down without -D (left alone, with a warning), or its transition
 *   starts. Transitions run in parallel as soon as they may.
 * - propagation is queue-then-drain: a success decrements its neighbours and queues them; the queue is
 *   drained in the same step, so no transition ever runs inside another and a 1000-deep chain uses no stack.
 * - a failure skips only what waits on it (its neighbours' counts never reach 0); everything independent goes
 *   on. When nothing is in flight the phase is over; the next phase runs unless the request says a failure
 *   stops it (-p, restart).
 * - one job at a time (s6-rc's lock): another request waits (-b) or is refused (busy, exit 111). A shutdown
 *   cancels the running job and every waiting one, and goes first.
 *
 * Transitions:
 * - oneshot: `spawn` its argv (an empty argv succeeds at once); exit 0 = success. Timeout (timeout-up/-down,
 *   capped by what is left of -t): SIGTERM (+SIGCONT) to its process group, SIGKILL after killGraceMs; the
 *   message names the service, the limit that fired and what was still pending.
 * - longrun: `longrun up|down`; the world answers with a snapshot of the supervisor's state, then the event
 *   bytes the supervisor announces. Up = `u` (spawned) without notification-fd, `U` (ready) with it; down =
 *   `D` (down, finish done). The supervision gave up = `O` (finish exited 125, s6's permanent failure), `x`
 *   (supervision ended), or, when the source declares `max-death-tally` N, N deaths in a row of runs that never
 *   stayed ready for a second (a crash loop: the runs s6-supervise itself throttles). Then the service is
 *   failed: a transition waiting for it fails, a service that was up becomes failed and is brought down
 *   (`longrunAbort`), and its dependents say so in status.
 */
import { Graph, closure, resolveNames } from './graph';

export type Dir = 'up' | 'down';
export type Level = 'info' | 'warning' | 'fatal';

/** What the world reports (everything carries `now`, monotonic ms). Services are named, not numbered. */
export type EngineEvent =
  | { t: 'change'; now: number; job: number; up: boolean; names: string[]; all: boolean; prune: boolean; force: boolean; timeout: number; verbosity: number; block: boolean }
  | { t: 'restart'; now: number; job: number; names: string[]; timeout: number; verbosity: number; block: boolean }
  | { t: 'reload'; now: number; job: number; graph: Graph; rerun: boolean; timeout: number; verbosity: number; block: boolean }
  /** everything down, essential services too, after cancelling what is pending; `final`: no change after it */
  | { t: 'shutdown'; now: number; job: number; timeout: number; verbosity: number; final: boolean }
  /** cancel the running job and every waiting one; with `job`, only that one (its client was interrupted) */
  | { t: 'cancel'; now: number; reason: string; job?: number }
  | { t: 'exit'; now: number; svc: string; status: number }
  | { t: 'spawnFailed'; now: number; svc: string; code: number; error: string }
  | { t: 'snapshot'; now: number; svc: string; supervised: boolean; up: boolean; ready: boolean; error?: string }
  | { t: 'sv'; now: number; svc: string; events: string }
  | { t: 'timer'; now: number; key: string };

export type Effect =
  /** run a oneshot's argv (own session and process group; the job says whose stdio) */
  | { t: 'spawn'; svc: string; dir: Dir; argv: string[]; job: number }
  /** a signal to a oneshot's process group */
  | { t: 'kill'; svc: string; sig: 'TERM' | 'CONT' | 'KILL' }
  /** snapshot the supervisor's state of this longrun (posted back as `snapshot`), then send it u or d */
  | { t: 'longrun'; svc: string; dir: Dir }
  /** the longrun's transition succeeded: down → remove ./down (the scanner may start it); up → create it */
  | { t: 'settled'; svc: string; dir: Dir }
  /** a longrun that failed to come up (or gave up while up) is sent d and stays down */
  | { t: 'longrunAbort'; svc: string }
  | { t: 'timer'; key: string; at: number }
  | { t: 'cancelTimer'; key: string }
  | { t: 'msg'; job: number; level: Level; text: string }
  /** the job's answer: exit code, and which services failed (init's policy uses them) */
  | { t: 'reply'; job: number; code: number; failed: string[] }
  /** reload: make the live directories match the new graph now (before the up phase) */
  | { t: 'swap'; graph: Graph; removed: string[]; added: string[]; edited: string[] }
  /** a job ended (the next may start; the world can forget its stdio) */
  | { t: 'jobEnd'; job: number };

export interface TransitionResult {
  dir: Dir;
  ok: boolean;
  /** monotonic ms */
  at: number;
  error?: string;
}

export interface Rec {
  name: string;
  cur: Dir;
  busy: Dir | null;
  /** why it is failed (a failed transition, or its supervision gave up); null once a transition succeeds */
  failed: string | null;
  last: TransitionResult | null;
  /** longruns: what the supervisor said */
  svUp: boolean;
  svReady: boolean;
  /** when the current run was spawned / became ready (monotonic ms; -1 none) */
  runAt: number;
  readyAt: number;
  /** deaths in a row of runs that never stayed ready for a second */
  streak: number;
  /** the transition in flight was timed out or cancelled (its failure is already said) */
  stopping: string | null;
  /** when the transition in flight started, and its limit (ms, 0 none) and what set it */
  startedAt: number;
  limit: number;
  limitBy: string;
}

export interface ChangePhase {
  kind: 'change';
  up: boolean;
  /** selection, already closed if it is to be */
  sel: Uint8Array;
  force: boolean;
  /** a failure in this phase ends the job */
  stopOnFail: boolean;
}

export interface SwapPhase {
  kind: 'swap';
  graph: Graph;
  /** names to select (closed up) in the next phase, once the new graph is in place */
  then: string[];
  removed: string[];
  added: string[];
  edited: string[];
}

export type Phase = ChangePhase | SwapPhase;

export interface Job {
  id: number;
  ev: Extract<EngineEvent, { t: 'change' | 'restart' | 'reload' | 'shutdown' }>;
  verbosity: number;
  phases: Phase[];
  pi: number;
  started: boolean;
  /** the current change phase has been set up (and not yet ended) */
  active: boolean;
  /** an exit code decided before any phase ran (3: unknown name) */
  code: number | null;
  // the current change phase
  pending: Int32Array;
  examined: Uint8Array;
  inflight: number;
  failedHere: number[];
  anyFail: boolean;
  failedNames: string[];
  deadline: number;
  timedOut: boolean;
  cancelled: string | null;
  replied: boolean;
}

export interface EngineOptions {
  /** SIGTERM → SIGKILL grace for a oneshot's process group (ms) */
  killGraceMs: number;
  /** a run ready (or, without notification-fd, alive) this long does not count towards a crash loop */
  stableMs: number;
}

export interface EngineState {
  graph: Graph;
  recs: Rec[];
  opts: EngineOptions;
  job: Job | null;
  queue: Job[];
  /** names brought up by a `change -u` and not brought down since (what reload keeps up) */
  keptUp: Set<string>;
  shuttingDown: boolean;
}

export const DEFAULT_OPTIONS: EngineOptions = { killGraceMs: 3000, stableMs: 1000 };

function newRec(name: string): Rec {
  return {
    name, cur: 'down', busy: null, failed: null, last: null, svUp: false, svReady: false, runAt: -1, readyAt: -1, streak: 0,
    stopping: null, startedAt: 0, limit: 0, limitBy: '',
  };
}

export function createState(graph: Graph, opts: Partial<EngineOptions> = {}): EngineState {
  return {
    graph, recs: graph.atoms.map((a) => newRec(a.name)), opts: { ...DEFAULT_OPTIONS, ...opts }, job: null, queue: [],
    keptUp: new Set(), shuttingDown: false,
  };
}

/** The state shown by `vigil rc status`: starting / stopping while in flight, failed, else up or down. */
export function rcState(r: Rec): 'up' | 'down' | 'starting' | 'stopping' | 'failed' {
  if (r.busy === 'up') return 'starting';
  if (r.busy === 'down') return 'stopping';
  if (r.failed !== null && r.cur === 'down') return 'failed';
  return r.cur;
}

const MAX_LISTED = 20;

function listNames(names: string[]): string {
  if (names.length <= MAX_LISTED) return names.join(', ');
  return `${names.slice(0, MAX_LISTED).join(', ')} and ${names.length - MAX_LISTED} more`;
}

/** One step: apply the event to the state, return what the world must do, in order. */
export function step(st: EngineState, ev: EngineEvent): Effect[] {
  const fx: Effect[] = [];
  const e = new Stepper(st, fx, ev.now);
  e.handle(ev);
  return fx;
}

class Stepper {
  private readonly queue: number[] = [];

  constructor(private readonly st: EngineState, private readonly fx: Effect[], private readonly now: number) {}

  private get g(): Graph {
    return this.st.graph;
  }

  private idx(name: string): number {
    const i = this.g.byName.get(name);
    return i === undefined ? -1 : i;
  }

  private msg(job: Job, v: number, level: Level, text: string): void {
    if (job.verbosity >= v) this.fx.push({ t: 'msg', job: job.id, level, text });
  }

  handle(ev: EngineEvent): void {
    switch (ev.t) {
      case 'change':
      case 'restart':
      case 'reload':
        this.request(ev);
        break;
      case 'shutdown':
        this.shutdown(ev);
        break;
      case 'cancel':
        if (ev.job === undefined) this.cancelAll(ev.reason);
        else this.cancelOne(ev.job, ev.reason);
        break;
      case 'exit':
        this.oneshotExit(ev.svc, ev.status);
        break;
      case 'spawnFailed':
        this.oneshotSpawnFailed(ev.svc, ev.code, ev.error);
        break;
      case 'snapshot':
        this.snapshot(ev);
        break;
      case 'sv':
        this.svEvents(ev.svc, ev.events);
        break;
      case 'timer':
        this.timer(ev.key);
        break;
    }
    this.settle();
  }

  /**
   * The one loop that moves jobs on: examine what is queued; when nothing is in flight, end the phase and
   * set up the next (or end the job and begin the next one). Handlers only mark and queue; this runs once per
   * step, so nothing ever recurses.
   */
  private settle(): void {
    for (;;) {
      const job = this.st.job;
      if (!job) {
        if (!this.st.queue.length) return;
        this.st.job = this.st.queue.shift()!;
        continue;
      }
      if (!job.started) {
        this.begin(job);
        continue;
      }
      this.drain(job);
      if (job.inflight > 0) return;
      if (job.active) {
        job.active = false;
        this.endPhase(job);
      }
      if (job.code !== null || job.pi >= job.phases.length || job.cancelled || job.timedOut) {
        this.finish(job);
        continue;
      }
      const ph = job.phases[job.pi];
      if (ph.kind === 'swap') {
        this.swap(job, ph);
        job.pi++;
        continue;
      }
      this.setupPhase(job, ph);
    }
  }

  // ------------------------------------------------------------------------------------------- requests

  private newJob(ev: Job['ev']): Job {
    return {
      id: ev.job, ev, verbosity: ev.verbosity, phases: [], pi: 0, started: false, active: false, code: null, pending: new Int32Array(0), examined: new Uint8Array(0),
      inflight: 0, failedHere: [], anyFail: false, failedNames: [], deadline: Infinity, timedOut: false, cancelled: null, replied: false,
    };
  }

  private request(ev: Extract<EngineEvent, { t: 'change' | 'restart' | 'reload' }>): void {
    const job = this.newJob(ev);
    if (this.st.shuttingDown) {
      this.msg(job, 0, 'fatal', 'the service manager is shutting down');
      return this.drop(job, 111);
    }
    if ((this.st.job || this.st.queue.length) && !ev.block) {
      this.msg(job, 0, 'fatal', 'unable to take locks: Resource busy');
      return this.drop(job, 111);
    }
    this.st.queue.push(job);
  }

  private shutdown(ev: Extract<EngineEvent, { t: 'shutdown' }>): void {
    // no change may start while it runs (and after it, when it is the last thing this tree does)
    this.st.shuttingDown = true;
    this.cancelAll('the service manager is shutting down');
    this.st.keptUp.clear();
    const job = this.newJob(ev);
    this.st.queue.unshift(job);
  }

  /** Cancel the running job (nothing new starts; oneshots in flight get TERM; longruns coming up are brought down) and every waiting one. */
  private cancelAll(reason: string): void {
    for (const q of this.st.queue.splice(0)) {
      this.msg(q, 1, 'warning', `cancelled: ${reason}`);
      this.drop(q, 1);
    }
    if (this.st.job) this.cancelRunning(this.st.job, reason);
  }

  private cancelOne(id: number, reason: string): void {
    const qi = this.st.queue.findIndex((q) => q.id === id);
    if (qi >= 0) {
      const [q] = this.st.queue.splice(qi, 1);
      this.msg(q, 1, 'warning', `cancelled: ${reason}`);
      this.drop(q, 1);
      return;
    }
    if (this.st.job && this.st.job.id === id) this.cancelRunning(this.st.job, reason);
  }

  private cancelRunning(job: Job, reason: string): void {
    if (job.cancelled) return;
    job.cancelled = reason;
    this.msg(job, 1, 'warning', `cancelled: ${reason}`);
    if (job.deadline !== Infinity) this.fx.push({ t: 'cancelTimer', key: 'J' });
    for (let i = 0; i < this.st.recs.length; i++) {
      const r = this.st.recs[i];
      if (!r.busy || r.stopping) continue;
      this.interrupt(job, i, `cancelled (${reason})`, false);
    }
  }

  /** Turn the request into phases against the state as it is now, then run the first. */
  private begin(job: Job): void {
    const ev = job.ev;
    const n = this.g.atoms.length;
    job.started = true;
    if (ev.timeout > 0) {
      job.deadline = this.now + ev.timeout;
      this.fx.push({ t: 'timer', key: 'J', at: job.deadline });
    }
    if (ev.t === 'change') {
      const r = resolveNames(this.g, ev.names);
      if ('unknown' in r) {
        this.msg(job, 0, 'fatal', `${r.unknown} is not a recognized identifier`);
        job.code = 3;
        return;
      }
      const sel = new Uint8Array(n);
      for (const a of r.atoms) sel[a] = 1;
      if (ev.all) for (let i = 0; i < n; i++) if (this.st.recs[i].cur === 'up') sel[i] = 1;
      closure(this.g, sel, ev.up);
      if (ev.up) {
        if (ev.prune) this.st.keptUp.clear();
        for (const name of ev.names) this.st.keptUp.add(name);
      } else {
        for (const k of [...this.st.keptUp]) {
          const kr = resolveNames(this.g, [k]);
          if ('unknown' in kr || kr.atoms.some((a) => sel[a])) this.st.keptUp.delete(k);
        }
      }
      if (ev.prune) {
        const inv = sel.map((x) => 1 - x);
        job.phases.push({ kind: 'change', up: false, sel: ev.up ? inv : sel, force: ev.force, stopOnFail: true });
        job.phases.push({ kind: 'change', up: true, sel: ev.up ? sel : inv, force: ev.force, stopOnFail: true });
      } else {
        job.phases.push({ kind: 'change', up: ev.up, sel, force: ev.force, stopOnFail: false });
      }
    } else if (ev.t === 'restart') {
      const r = resolveNames(this.g, ev.names);
      if ('unknown' in r) {
        this.msg(job, 0, 'fatal', `${r.unknown} is not a recognized identifier`);
        job.code = 3;
        return;
      }
      // down: the named services and every dependent; up again: the named ones and the dependents that were up
      const down = new Uint8Array(n);
      for (const a of r.atoms) down[a] = 1;
      closure(this.g, down, false);
      const upSel = new Uint8Array(n);
      for (let i = 0; i < n; i++) if (down[i] && (this.st.recs[i].cur === 'up' || r.atoms.includes(i))) upSel[i] = 1;
      closure(this.g, upSel, true);
      job.phases.push({ kind: 'change', up: false, sel: down, force: true, stopOnFail: true });
      job.phases.push({ kind: 'change', up: true, sel: upSel, force: false, stopOnFail: true });
    } else if (ev.t === 'reload') {
      this.planReload(job, ev.graph, ev.rerun);
    } else {
      // shutdown: everything down, essential services included (-D), in reverse dependency order
      job.phases.push({ kind: 'change', up: false, sel: new Uint8Array(n).fill(1), force: true, stopOnFail: false });
    }
  }

  private planReload(job: Job, graph: Graph, rerun: boolean): void {
    const old = this.g;
    const n = old.atoms.length;
    const removed: string[] = [];
    const edited: string[] = [];
    const down = new Uint8Array(n);
    const bounce: string[] = [];
    for (const a of old.atoms) {
      const ni = graph.byName.get(a.name);
      const b = ni === undefined ? undefined : graph.atoms[ni];
      if (!b || b.kind !== a.kind) {
        removed.push(a.name);
        down[a.index] = 1;
        continue;
      }
      if (b.def.digest !== a.def.digest) {
        edited.push(a.name);
        const r = this.st.recs[a.index];
        if (r.cur === 'up' && (a.kind === 'longrun' || rerun)) {
          down[a.index] = 1;
          bounce.push(a.name);
        }
      }
    }
    const added = graph.atoms.filter((b) => {
      const oi = old.byName.get(b.name);
      return oi === undefined || old.atoms[oi].kind !== b.kind;
    }).map((b) => b.name);
    // new services come up if a name kept up (e.g. the bundle `default`) now covers them
    const kept = new Uint8Array(graph.atoms.length);
    for (const k of this.st.keptUp) {
      const r = resolveNames(graph, [k]);
      if ('atoms' in r) for (const a of r.atoms) kept[a] = 1;
    }
    closure(graph, kept, true);
    const addedKept = added.filter((name) => kept[graph.byName.get(name)!]);
    if (job.verbosity >= 2) {
      this.msg(job, 2, 'info', `reload: ${added.length} added, ${removed.length} removed, ${edited.length} edited (${bounce.length} to restart)`);
    }
    job.phases.push({ kind: 'change', up: false, sel: down, force: true, stopOnFail: false });
    job.phases.push({ kind: 'swap', graph, then: [...bounce, ...addedKept], removed, added, edited });
  }

  // --------------------------------------------------------------------------------------------- phases

  private setupPhase(job: Job, ph: ChangePhase): void {
    const n = this.g.atoms.length;
    job.pending = new Int32Array(n);
    job.examined = new Uint8Array(n);
    job.failedHere = [];
    job.inflight = 0;
    job.active = true;
    this.msg(job, 3, 'info', `bringing selected services ${ph.up ? 'up' : 'down'}`);
    for (let i = 0; i < n; i++) {
      if (!ph.sel[i]) continue;
      let c = 0;
      for (const j of ph.up ? this.g.atoms[i].deps : this.g.atoms[i].rdeps) if (ph.sel[j]) c++;
      job.pending[i] = c;
    }
    for (let i = n - 1; i >= 0; i--) if (ph.sel[i] && job.pending[i] === 0) this.queue.push(i);
  }

  /** the current phase has nothing in flight: say what was skipped, then move to the next phase */
  private endPhase(job: Job): void {
    const ph = job.phases[job.pi] as ChangePhase;
    this.reportSkipped(job, ph);
    job.pi++;
    if (job.failedHere.length && ph.stopOnFail) job.pi = job.phases.length;
  }

  /** examine queued services until the queue is empty (queue-then-drain: no recursion) */
  private drain(job: Job): void {
    const ph = job.phases[job.pi];
    while (this.queue.length) {
      const i = this.queue.pop()!;
      if (!ph || ph.kind !== 'change') continue;
      this.examine(job, ph, i);
    }
  }

  private examine(job: Job, ph: ChangePhase, i: number): void {
    if (!ph.sel[i] || job.pending[i] !== 0 || job.examined[i]) return;
    if (job.cancelled || job.timedOut) return;
    job.examined[i] = 1;
    const a = this.g.atoms[i];
    const r = this.st.recs[i];
    const want: Dir = ph.up ? 'up' : 'down';
    if (r.cur === want && r.busy === null) {
      this.msg(job, 3, 'info', `service ${a.name}: already ${want}`);
      this.broadcast(job, ph, i);
      return;
    }
    if (!ph.up && !ph.force && a.essential) {
      this.msg(job, 1, 'warning', `service ${a.name} is marked as essential, not stopping it`);
      return;
    }
    this.start(job, i, want);
  }

  private broadcast(job: Job, ph: ChangePhase, i: number): void {
    const a = this.g.atoms[i];
    for (const j of ph.up ? a.rdeps : a.deps) {
      if (!ph.sel[j]) continue;
      job.pending[j]--;
      if (job.pending[j] === 0) this.queue.push(j);
    }
  }

  // ---------------------------------------------------------------------------------------- transitions

  private start(job: Job, i: number, dir: Dir): void {
    const a = this.g.atoms[i];
    const r = this.st.recs[i];
    r.busy = dir;
    r.stopping = null;
    r.startedAt = this.now;
    job.inflight++;
    this.msg(job, 2, 'info', `service ${a.name}: ${dir === 'up' ? 'starting' : 'stopping'}`);
    // the limit: the service's own, capped by what is left of the job's deadline
    const own = dir === 'up' ? a.def.timeoutUp : a.def.timeoutDown;
    const left = job.deadline === Infinity ? 0 : Math.max(1, job.deadline - this.now);
    r.limit = own;
    r.limitBy = dir === 'up' ? 'timeout-up' : 'timeout-down';
    if (left && (!own || left < own)) {
      r.limit = left;
      r.limitBy = '-t';
    }
    if (r.limit) this.fx.push({ t: 'timer', key: `T\t${a.name}`, at: this.now + r.limit });
    if (a.kind === 'oneshot') {
      const argv = dir === 'up' ? a.def.up : a.def.down;
      if (!argv.length) return this.done(i, true);
      this.fx.push({ t: 'spawn', svc: a.name, dir, argv, job: job.id });
    } else {
      if (dir === 'up') r.streak = 0;
      this.fx.push({ t: 'longrun', svc: a.name, dir });
    }
  }

  /** A transition of service i ended (ok or not); `why` is said unless the failure was already said. */
  private done(i: number, ok: boolean, why?: string): void {
    const job = this.st.job;
    const a = this.g.atoms[i];
    const r = this.st.recs[i];
    const dir = r.busy;
    if (!dir) return;
    r.busy = null;
    if (r.limit) this.fx.push({ t: 'cancelTimer', key: `T\t${a.name}` });
    const already = r.stopping;
    r.stopping = null;
    if (ok) {
      r.cur = dir;
      r.failed = null;
      r.last = { dir, ok: true, at: this.now };
      if (a.kind === 'longrun') this.fx.push({ t: 'settled', svc: a.name, dir });
    } else {
      const error = already ?? why ?? 'failed';
      r.failed = error;
      r.last = { dir, ok: false, at: this.now, error };
      if (a.kind === 'longrun' && dir === 'up') {
        r.cur = 'down';
        this.fx.push({ t: 'longrunAbort', svc: a.name });
      }
    }
    if (!job) return;
    job.inflight--;
    const ph = job.phases[job.pi];
    if (ok) {
      this.msg(job, 2, 'info', `service ${a.name} successfully ${dir === 'up' ? 'started' : 'stopped'}`);
      if (ph && ph.kind === 'change' && !job.cancelled && !job.timedOut) this.broadcast(job, ph, i);
    } else {
      job.anyFail = true;
      job.failedHere.push(i);
      if (!job.failedNames.includes(a.name)) job.failedNames.push(a.name);
      if (!already) this.msg(job, 1, 'warning', `unable to ${dir === 'up' ? 'start' : 'stop'} service ${a.name}: ${why}`);
    }
  }

  /** stop waiting for a transition in flight: timed out or cancelled (said here, once) */
  private interrupt(job: Job, i: number, why: string, say: boolean): void {
    const a = this.g.atoms[i];
    const r = this.st.recs[i];
    const dir = r.busy!;
    if (say) this.msg(job, 1, 'warning', `unable to ${dir === 'up' ? 'start' : 'stop'} service ${a.name}: ${why}`);
    r.stopping = why;
    if (a.kind === 'oneshot') {
      // the process goes on until it exits: TERM now, KILL after the grace
      this.fx.push({ t: 'kill', svc: a.name, sig: 'TERM' }, { t: 'kill', svc: a.name, sig: 'CONT' });
      this.fx.push({ t: 'timer', key: `K\t${a.name}`, at: this.now + this.st.opts.killGraceMs });
      if (r.limit) {
        this.fx.push({ t: 'cancelTimer', key: `T\t${a.name}` });
        r.limit = 0;
      }
      return;
    }
    if (dir === 'up') {
      // s6-rc's failure_longrun: s6-svc -d, and the service stays down
      this.done(i, false);
      return;
    }
    // a longrun going down keeps going down (its supervisor kills it after timeout-kill); rc stops waiting
    this.done(i, false);
  }

  private pendingNames(job: Job, except: number): string[] {
    const ph = job.phases[job.pi];
    const out: string[] = [];
    for (let i = 0; i < this.st.recs.length; i++) {
      if (i === except) continue;
      const r = this.st.recs[i];
      if (r.busy && !r.stopping) out.push(`${r.name} (${r.busy === 'up' ? 'starting' : 'stopping'})`);
      else if (ph && ph.kind === 'change' && ph.sel[i] && !job.examined[i]) out.push(r.name);
    }
    return out;
  }

  private timer(key: string): void {
    const job = this.st.job;
    if (key === 'J') {
      if (!job || job.timedOut || job.cancelled) return;
      job.timedOut = true;
      const pend = this.pendingNames(job, -1);
      this.msg(job, 0, 'fatal', `timed out after ${job.ev.timeout} ms (the -t limit)${pend.length ? `; still pending: ${listNames(pend)}` : ''}`);
      // s6-rc exits 2 at once; the transitions in flight are stopped here rather than left running
      this.reply(job, 2);
      for (let i = 0; i < this.st.recs.length; i++) {
        const r = this.st.recs[i];
        if (r.busy && !r.stopping) this.interrupt(job, i, 'timed out (the -t limit)', false);
      }
      return;
    }
    const [kind, name] = key.split('\t');
    const i = this.idx(name);
    if (i < 0) return;
    const r = this.st.recs[i];
    if (kind === 'K') {
      if (r.busy) this.fx.push({ t: 'kill', svc: name, sig: 'KILL' });
      return;
    }
    if (kind === 'T' && r.busy && !r.stopping && job) {
      const pend = this.pendingNames(job, i);
      const what = r.limitBy === '-t' ? 'the -t limit' : r.limitBy;
      const action = this.g.atoms[i].kind === 'oneshot' ? '; sent SIGTERM to its process group' : r.busy === 'up' ? '; bringing it down' : '';
      const limit = r.limit;
      r.limit = 0;
      this.interrupt(job, i, `timed out after ${limit} ms (${what})${action}${pend.length ? `; still pending: ${listNames(pend)}` : ''}`, true);
    }
  }

  // ------------------------------------------------------------------------------------------ oneshots

  private oneshotExit(name: string, status: number): void {
    const i = this.idx(name);
    if (i < 0) return;
    const r = this.st.recs[i];
    if (!r.busy) return;
    this.fx.push({ t: 'cancelTimer', key: `K\t${name}` });
    const sig = status & 0x7f;
    const code = (status >> 8) & 0xff;
    if (sig === 0 && code === 0 && !r.stopping) return this.done(i, true);
    this.done(i, false, sig ? `command crashed with signal ${sig}` : `command exited ${code}`);
  }

  private oneshotSpawnFailed(name: string, code: number, error: string): void {
    const i = this.idx(name);
    if (i < 0 || !this.st.recs[i].busy) return;
    this.done(i, false, `command exited ${code} (${error})`);
  }

  // ------------------------------------------------------------------------------------------ longruns

  private notif(i: number): boolean {
    return this.g.atoms[i].def.longrun?.notificationFd !== undefined;
  }

  private snapshot(ev: Extract<EngineEvent, { t: 'snapshot' }>): void {
    const i = this.idx(ev.svc);
    if (i < 0) return;
    const r = this.st.recs[i];
    r.svUp = ev.up;
    r.svReady = ev.ready;
    if (!r.busy || r.stopping) return;
    if (!ev.supervised) return this.done(i, false, `not supervised${ev.error ? `: ${ev.error}` : ''}`);
    if (r.busy === 'up' && ev.up && (ev.ready || !this.notif(i))) return this.done(i, true);
    if (r.busy === 'down' && !ev.up && ev.ready) return this.done(i, true);
  }

  private svEvents(name: string, events: string): void {
    const i = this.idx(name);
    if (i < 0 || this.g.atoms[i].kind !== 'longrun') return;
    for (const c of events) {
      this.svEvent(i, c);
    }
  }

  private svEvent(i: number, c: string): void {
    const r = this.st.recs[i];
    const a = this.g.atoms[i];
    const notif = this.notif(i);
    const waitingUp = r.busy === 'up' && !r.stopping;
    const waitingDown = r.busy === 'down' && !r.stopping;
    switch (c) {
      case 'u':
        r.svUp = true;
        r.svReady = false;
        r.runAt = this.now;
        r.readyAt = -1;
        if (waitingUp && !notif) this.done(i, true);
        return;
      case 'U':
        r.svUp = true;
        r.svReady = true;
        r.readyAt = this.now;
        if (waitingUp) this.done(i, true);
        return;
      case 'd': {
        // a death: a crash loop is runs that never stayed ready (or alive, without notification-fd) for stableMs
        const since = notif ? r.readyAt : r.runAt;
        const stable = since >= 0 && this.now - since >= this.st.opts.stableMs;
        r.svUp = false;
        r.svReady = false;
        r.streak = stable ? 0 : r.streak + 1;
        const max = a.def.longrun?.maxDeathTally;
        if (max && r.streak >= max && (waitingUp || (r.cur === 'up' && !r.busy))) {
          this.gaveUp(i, `supervision gave up: ${r.streak} deaths in a row without staying ready for ${this.st.opts.stableMs} ms (max-death-tally ${max})`);
        }
        return;
      }
      case 'D':
        r.svUp = false;
        r.svReady = true;
        if (waitingDown) this.done(i, true);
        return;
      case 'O':
        if (waitingUp || (r.cur === 'up' && !r.busy)) this.gaveUp(i, 'supervision gave up: finish exited 125 (permanent failure)');
        return;
      case 'x':
        r.svUp = false;
        if (waitingUp || (r.cur === 'up' && !r.busy)) this.gaveUp(i, 'supervision ended');
        else if (waitingDown) this.done(i, true);
        return;
      default:
        return;
    }
  }

  /** the supervision gave up on a longrun: the transition waiting for it fails; one that was up is failed */
  private gaveUp(i: number, why: string): void {
    const r = this.st.recs[i];
    if (r.busy === 'up') return this.done(i, false, why);
    r.cur = 'down';
    r.failed = why;
    r.last = { dir: 'up', ok: false, at: this.now, error: why };
    this.fx.push({ t: 'longrunAbort', svc: r.name });
  }

  // ------------------------------------------------------------------------------------------ reload

  private swap(job: Job, ph: SwapPhase): void {
    const old = this.st.recs;
    const oldGraph = this.g;
    const recs = ph.graph.atoms.map((b) => {
      const oi = oldGraph.byName.get(b.name);
      if (oi !== undefined && oldGraph.atoms[oi].kind === b.kind) return old[oi];
      return newRec(b.name);
    });
    this.st.graph = ph.graph;
    this.st.recs = recs;
    for (const k of [...this.st.keptUp]) if ('unknown' in resolveNames(ph.graph, [k])) this.st.keptUp.delete(k);
    this.fx.push({ t: 'swap', graph: ph.graph, removed: ph.removed, added: ph.added, edited: ph.edited });
    const sel = new Uint8Array(ph.graph.atoms.length);
    for (const name of ph.then) sel[ph.graph.byName.get(name)!] = 1;
    closure(ph.graph, sel, true);
    job.phases.splice(job.pi + 1, 0, { kind: 'change', up: true, sel, force: false, stopOnFail: false });
  }

  // ------------------------------------------------------------------------------------------- the end

  private reportSkipped(job: Job, ph: ChangePhase): void {
    if (!job.failedHere.length || job.cancelled || job.timedOut) return;
    // each service left behind, grouped by the failure it waited on (the first found, following neighbours)
    const n = this.g.atoms.length;
    const cause = new Int32Array(n).fill(-1);
    for (const f of job.failedHere) cause[f] = f;
    const order = this.topo(ph);
    const groups = new Map<number, string[]>();
    for (const i of order) {
      if (!ph.sel[i] || job.examined[i]) continue;
      for (const j of ph.up ? this.g.atoms[i].deps : this.g.atoms[i].rdeps) {
        if (ph.sel[j] && cause[j] >= 0) {
          cause[i] = cause[j];
          break;
        }
      }
      if (cause[i] >= 0) {
        const list = groups.get(cause[i]) ?? [];
        list.push(this.g.atoms[i].name);
        groups.set(cause[i], list);
      }
    }
    for (const [f, names] of groups) {
      this.msg(job, 1, 'warning', `${ph.up ? 'not started' : 'not stopped'} because ${this.g.atoms[f].name} failed: ${listNames(names)}`);
    }
  }

  /** selected atoms, each after the neighbours it waits for (Kahn's algorithm over the phase's direction) */
  private topo(ph: ChangePhase): number[] {
    const n = this.g.atoms.length;
    const count = new Int32Array(n);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      if (!ph.sel[i]) continue;
      for (const j of ph.up ? this.g.atoms[i].deps : this.g.atoms[i].rdeps) if (ph.sel[j]) count[i]++;
      if (count[i] === 0) out.push(i);
    }
    for (let k = 0; k < out.length; k++) {
      for (const j of ph.up ? this.g.atoms[out[k]].rdeps : this.g.atoms[out[k]].deps) {
        if (ph.sel[j] && --count[j] === 0) out.push(j);
      }
    }
    return out;
  }

  /** a job that never ran: its answer, and its end */
  private drop(job: Job, code: number): void {
    this.reply(job, code);
    this.fx.push({ t: 'jobEnd', job: job.id });
  }

  private reply(job: Job, code: number): void {
    if (job.replied) return;
    job.replied = true;
    this.fx.push({ t: 'reply', job: job.id, code, failed: [...job.failedNames] });
  }

  private finish(job: Job): void {
    if (job.deadline !== Infinity && !job.timedOut && !job.cancelled) this.fx.push({ t: 'cancelTimer', key: 'J' });
    this.reply(job, job.code ?? (job.timedOut ? 2 : job.anyFail || job.cancelled ? 1 : 0));
    this.fx.push({ t: 'jobEnd', job: job.id });
    if (this.st.job === job) this.st.job = null;
    if (job.ev.t === 'shutdown' && !job.ev.final) this.st.shuttingDown = false;
  }
}
