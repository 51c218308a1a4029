/**
 * Shared test helpers (reusable): a fake world for the service manager's engine (src/rc/engine.ts) — a fake
 * monotonic clock, fake oneshot processes and fake supervisors — so whole start-ups, failures, timeouts and
 * shutdowns run in milliseconds with no process.
 *
 *   const w = new RcWorld(graphOf([def('a', 'oneshot'), def('b', 'longrun', { deps: ['a'] })]));
 *   const job = w.change(['b']);          // posts a change; oneshots stay "running" until w.exit(...)
 *   w.exit('a', 0);                       // a's up exits 0 → b's longrun transition starts
 *   w.run();                              // advance the clock through every timer (fake supervisors answer)
 *   assert.equal(w.code(job), 0);
 *
 * Oneshots: by default they stay running until w.exit(); `w.autoExit = (name, dir) => status | null` makes
 * them exit by themselves after `oneshotMs`. Longruns: a fake supervisor answers `longrun up` with `u` after
 * 1 ms (and `U` after readyMs when the definition has notification-fd), `longrun down` with `d` then `D`;
 * `w.sv[name]` overrides (e.g. { up: 'crash' }).
 */
import { Definition } from '../../src/rc/source';
import { buildGraph, Graph } from '../../src/rc/graph';
import { createState, Effect, EngineEvent, EngineOptions, EngineState, step } from '../../src/rc/engine';

export function def(name: string, type: Definition['type'], o: Partial<Definition> & { notif?: number; maxDeaths?: number } = {}): Definition {
  const d: Definition = {
    name, type, srcdir: '/src', dir: `/src/${name}`, deps: o.deps ?? [], contents: o.contents ?? [], timeoutUp: o.timeoutUp ?? 0,
    timeoutDown: o.timeoutDown ?? 0, essential: o.essential ?? false, recommended: false, up: o.up ?? (type === 'oneshot' ? ['/bin/up', name] : []),
    down: o.down ?? [], digest: o.digest ?? `d-${name}`,
  };
  if (type === 'longrun') {
    d.longrun = { finish: false, trees: [], extras: [], consumerFor: [], notificationFd: o.notif, maxDeathTally: o.maxDeaths };
  }
  return d;
}

export function graphOf(defs: Definition[]): Graph {
  const r = buildGraph(defs);
  if (!r.graph) throw new Error(`bad test graph: ${r.problems.map((p) => p.text).join('; ')}`);
  return r.graph;
}

export interface SvBehaviour {
  /** 'ok' (default): u (and U); 'crash': u then d, forever (a crash loop), 'once': u, d, then O; 'never': nothing */
  up?: 'ok' | 'crash' | 'once' | 'never';
  readyMs?: number;
  /** 'ok': d then D after downMs; 'never': nothing */
  down?: 'ok' | 'never';
  downMs?: number;
  /** the snapshot says the supervision is missing */
  unsupervised?: boolean;
}

export interface Proc {
  name: string;
  dir: 'up' | 'down';
  argv: string[];
  job: number;
  startedAt: number;
  signals: string[];
}

export class RcWorld {
  now = 0;
  readonly st: EngineState;
  readonly log: string[] = [];
  readonly effects: Effect[] = [];
  readonly running = new Map<string, Proc>();
  /** every spawn and every longrun command, in order, with the time: "12 up a" */
  readonly starts: string[] = [];
  readonly replies = new Map<number, { code: number; failed: string[] }>();
  readonly ended = new Set<number>();
  readonly sv: Record<string, SvBehaviour> = {};
  /** fake supervisor state per longrun */
  readonly svState = new Map<string, { up: boolean; ready: boolean }>();
  autoExit: ((name: string, dir: 'up' | 'down') => number | null) | null = null;
  oneshotMs = 5;
  private timers = new Map<string, number>();
  private scheduled: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  private nextJob = 1;

  constructor(graph: Graph, opts: Partial<EngineOptions> = {}) {
    this.st = createState(graph, opts);
  }

  post(ev: EngineEvent): void {
    const fx = step(this.st, ev);
    for (const e of fx) this.apply(e);
  }

  private later(ms: number, fn: () => void): void {
    this.scheduled.push({ at: this.now + ms, seq: this.seq++, fn });
  }

  private apply(e: Effect): void {
    this.effects.push(e);
    switch (e.t) {
      case 'spawn': {
        this.starts.push(`${this.now} ${e.dir} ${e.svc}`);
        const p: Proc = { name: e.svc, dir: e.dir, argv: e.argv, job: e.job, startedAt: this.now, signals: [] };
        this.running.set(e.svc, p);
        const auto = this.autoExit?.(e.svc, e.dir);
        if (auto !== null && auto !== undefined) this.later(this.oneshotMs, () => this.exit(e.svc, auto));
        return;
      }
      case 'kill': {
        const p = this.running.get(e.svc);
        if (!p) return;
        p.signals.push(e.sig);
        if (e.sig === 'KILL') this.later(1, () => this.exitStatus(e.svc, 9));
        return;
      }
      case 'longrun':
        this.starts.push(`${this.now} ${e.dir} ${e.svc}`);
        return this.longrun(e.svc, e.dir);
      case 'longrunAbort': {
        const s = this.svState.get(e.svc);
        if (s && s.up) this.later(1, () => this.svEvent(e.svc, 'd'));
        this.svState.set(e.svc, { up: false, ready: false });
        return;
      }
      case 'timer':
        this.timers.set(e.key, e.at);
        return;
      case 'cancelTimer':
        this.timers.delete(e.key);
        return;
      case 'msg':
        this.log.push(`${e.job} ${e.level}: ${e.text}`);
        return;
      case 'reply':
        this.replies.set(e.job, { code: e.code, failed: e.failed });
        return;
      case 'jobEnd':
        this.ended.add(e.job);
        return;
      default:
        return;
    }
  }

  private longrun(name: string, dir: 'up' | 'down'): void {
    const b = this.sv[name] ?? {};
    const cur = this.svState.get(name) ?? { up: false, ready: false };
    this.post({ t: 'snapshot', now: this.now, svc: name, supervised: !b.unsupervised, up: cur.up, ready: cur.ready });
    if (b.unsupervised) return;
    const atom = this.st.graph.atoms[this.st.graph.byName.get(name)!];
    const notif = atom.def.longrun?.notificationFd !== undefined;
    if (dir === 'up') {
      if (cur.up) return;
      const how = b.up ?? 'ok';
      if (how === 'never') return;
      const cycle = () => {
        this.svState.set(name, { up: true, ready: false });
        this.svEvent(name, 'u');
        if (how === 'ok') {
          if (notif) this.later(b.readyMs ?? 10, () => {
            this.svState.set(name, { up: true, ready: true });
            this.svEvent(name, 'U');
          });
          return;
        }
        this.later(5, () => {
          this.svState.set(name, { up: false, ready: false });
          this.svEvent(name, 'd');
          if (how === 'once') this.later(1, () => this.svEvent(name, 'OD'));
          else if (this.svWantUp.get(name)) this.later(1000, cycle);
        });
      };
      this.svWantUp.set(name, true);
      this.later(1, cycle);
    } else {
      this.svWantUp.set(name, false);
      if (!cur.up) return;
      if ((b.down ?? 'ok') === 'never') return;
      this.later(1, () => this.svEvent(name, 'd'));
      this.later(b.downMs ?? 3, () => {
        this.svState.set(name, { up: false, ready: true });
        this.svEvent(name, 'D');
      });
    }
  }

  private svWantUp = new Map<string, boolean>();

  svEvent(name: string, events: string): void {
    this.post({ t: 'sv', now: this.now, svc: name, events });
  }

  exit(name: string, code: number): void {
    this.exitStatus(name, (code & 0xff) << 8);
  }

  exitStatus(name: string, status: number): void {
    if (!this.running.has(name)) return;
    this.running.delete(name);
    this.post({ t: 'exit', now: this.now, svc: name, status });
  }

  /** advance the clock by ms, firing engine timers and scheduled fake events in time order (events first on a tie) */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let at = Infinity;
      let sched = -1;
      for (let i = 0; i < this.scheduled.length; i++) {
        const s = this.scheduled[i];
        if (s.at < at || (s.at === at && s.seq < this.scheduled[sched].seq)) {
          at = s.at;
          sched = i;
        }
      }
      let key: string | null = null;
      for (const [k, t] of this.timers) {
        if (t < at) {
          at = t;
          key = k;
          sched = -1;
        }
      }
      if (at > end) break;
      this.now = Math.max(this.now, at);
      if (sched >= 0) {
        const [s] = this.scheduled.splice(sched, 1);
        s.fn();
      } else if (key !== null) {
        this.timers.delete(key);
        this.post({ t: 'timer', now: this.now, key });
      }
    }
    this.now = end;
  }

  /** advance until nothing is scheduled (bounded) */
  run(maxMs = 600000): void {
    for (let i = 0; i < 100000 && (this.timers.size || this.scheduled.length); i++) {
      const before = this.now;
      let nextAt = Infinity;
      for (const at of this.timers.values()) nextAt = Math.min(nextAt, at);
      for (const s of this.scheduled) nextAt = Math.min(nextAt, s.at);
      if (nextAt - before > maxMs) break;
      this.advance(Math.max(0, nextAt - this.now));
    }
  }

  change(names: string[], o: Partial<{ up: boolean; all: boolean; prune: boolean; force: boolean; timeout: number; verbosity: number; block: boolean }> = {}): number {
    const job = this.nextJob++;
    this.post({
      t: 'change', now: this.now, job, names, up: o.up ?? true, all: o.all ?? false, prune: o.prune ?? false, force: o.force ?? false,
      timeout: o.timeout ?? 0, verbosity: o.verbosity ?? 2, block: o.block ?? false,
    });
    return job;
  }

  restart(names: string[], verbosity = 2): number {
    const job = this.nextJob++;
    this.post({ t: 'restart', now: this.now, job, names, timeout: 0, verbosity, block: false });
    return job;
  }

  reload(graph: Graph, rerun = false): number {
    const job = this.nextJob++;
    this.post({ t: 'reload', now: this.now, job, graph, rerun, timeout: 0, verbosity: 2, block: false });
    return job;
  }

  shutdown(final = true): number {
    const job = this.nextJob++;
    this.post({ t: 'shutdown', now: this.now, job, timeout: 0, verbosity: 2, final });
    return job;
  }

  code(job: number): number | undefined {
    return this.replies.get(job)?.code;
  }

  state(name: string): string {
    const r = this.st.recs[this.st.graph.byName.get(name)!];
    return r.busy ? (r.busy === 'up' ? 'starting' : 'stopping') : r.failed && r.cur === 'down' ? 'failed' : r.cur;
  }

  /** names whose settled state is up */
  up(): string[] {
    return this.st.recs.filter((r) => r.cur === 'up').map((r) => r.name).sort();
  }

  messages(job?: number): string[] {
    return job === undefined ? this.log : this.log.filter((l) => l.startsWith(`${job} `)).map((l) => l.slice(String(job).length + 1));
  }
}
