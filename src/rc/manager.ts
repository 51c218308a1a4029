/**
 * The service manager inside the supervising process: the engine (engine.ts) wired to the real world — the
 * Scanner/Supervisor for longruns, the native spawn for oneshots, the Supervisor's timer queue, the live
 * directory (livedir.ts) and the control socket (control.ts). Hosted by `vigil svscan --rc` and `vigil init`.
 *
 *   const m = new Manager({ sources, rundir, log });
 *   const sc = new Scanner({ ...m.scannerHooks(inlog.scannerHooks()), scandir: `${rundir}/service`, ... });
 *   m.prepare(sc.scandir);   // read the sources, build LIVE/servicedirs and the scan directory's symlinks
 *   sc.start();              // the scanner finds them (down: each has a `down` file)
 *   m.attach(sc);            // listen to the supervisor's events, open LIVE/rc.sock
 *   await m.up('default');   // init's stage 2: { code, failed }
 *   await m.shutdown();      // stage 3: cancel what is pending, everything down in reverse order
 *
 * Queue then drain: every input (a control request, a reaped oneshot, a supervisor event, a timer) is an
 * engine event posted here; the drain hands each to step() and performs its effects in order, and an effect
 * that produces an event (a snapshot, a spawn failure) posts it behind. An exception in that handling is one
 * line in the tree's log; the tree goes on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';
import { envList, spawnProcess } from '../sys/spawn';
import { strerror } from '../sys/errors';
import { SIGNALS } from '../sys/signals';
import { lockFile } from '../sys/lock';
import { Service } from '../supervisor/service';
import { defaultLog } from '../supervisor/supervisor';
import { TimerHandle, TimerQueue } from '../supervisor/timers';
import type { Timers } from '../supervisor/world';
import { Scanner } from '../scanner/scanner';
import { Graph, buildGraph, closure, resolveNames, selectedNames, selection } from './graph';
import { readSources, Problem } from './source';
import { createState, Effect, EngineEvent, EngineState, rcState, step } from './engine';
import { ControlServer, Conn, ConnState } from './control';
import { onExit } from '../sys/reaper';
import { decodeEngine, decodeEvent, encodeEngine, encodeEvent, EngineJ } from './reexec';
import { livePaths, Request } from './protocol';
import {
  buildServicedir, linkService, listServicedirs, makeLive, removeServicedir, setDownFile, unlinkService,
} from './livedir';

export interface ManagerOptions {
  /** the s6-rc source directories, in order */
  sources: string[];
  /** RUNDIR: the live directory is RUNDIR/s6-rc; VIGIL_RUNDIR is set to it for everything the tree starts */
  rundir: string;
  /** where the manager's own lines go (default: stderr) */
  log?: (line: string) => void;
  /** stdout / stderr of a oneshot with no `vigil rc` waiting for it (default: this process's 1 and 2) */
  catchallOut?: number;
  catchallErr?: number;
  /** names that are bundles when their definition has no `type` (s6-overlay's user and user2) */
  untypedBundles?: string[];
  /** oneshot SIGTERM → SIGKILL grace (ms, default 3000) */
  killGraceMs?: number;
}

export interface JobResult {
  code: number;
  failed: string[];
}

/** Where a job's messages and answer go: a `vigil rc` client, or an in-process caller (init). */
interface JobSink {
  conn: Conn | null;
  prefix: string;
  resolve?: (r: JobResult) => void;
  /** an in-process job: who asked (a re-exec hands the job over by this name, and the new image re-attaches it) */
  tag?: string;
  /** its client went away (its messages go nowhere) */
  gone?: boolean;
}

/**
 * What the service manager hands to the next image of its process (a re-exec: src/supervisor/reexec.ts),
 * JSON-safe, fds by number (they stay open across the exec). The engine's state as it is (the graph in force,
 * every record, the job in flight with its phases and counters: engine state is plain data), the oneshots
 * running (their pids: our children across execve; an exit during the exec waits as a zombie and is handed to
 * the engine once the new image reaps), the engine's timers as monotonic deadlines, the pipelines' pipes, the
 * control socket and each client connection with what it had not yet been sent. Supervisions are not here: they
 * are the scanner's records (scanner.ts handover), found again by name.
 */
export interface ManagerState {
  sources: string[];
  untypedBundles?: string[];
  scandir: string;
  lockFd: number;
  loadProblems: Problem[];
  engine: EngineJ;
  queue: unknown[];
  nextJob: number;
  /** conn: an index into conns; null: in process (tag) or gone */
  jobs: Array<{ id: number; conn: number | null; prefix: string; tag?: string; gone?: boolean }>;
  pids: Array<[string, number]>;
  pipes: Array<[string, [number, number]]>;
  conflicts: string[];
  toRemove: string[];
  timers: Array<[string, number]>;
  /** the listening socket (-1: none) and its connections */
  server: number;
  conns: ConnState[];
}

export interface StatusRow {
  name: string;
  type: 'oneshot' | 'longrun';
  state: string;
  essential: boolean;
  supervise: { state: string; pid: number; ready: boolean; wantUp: boolean } | null;
  last: { dir: string; ok: boolean; at: string; error?: string } | null;
  /** why it is failed, if it is */
  failed: string | null;
  /** its dependencies that are failed */
  dependencyFailed: string[];
}

const PROG = 'vigil rc';

type StdioHook = (name: string, dir: string, key: string) => number | undefined;
interface StdioHooks {
  stdoutFor?: StdioHook;
  stdinFor?: StdioHook;
}

const emptyGraph = (): Graph => ({ atoms: [], byName: new Map(), bundles: new Map() });

export class Manager {
  readonly live: string;
  readonly servicedirs: string;
  private scandir = '';
  private scanner: Scanner | null = null;
  private timers: Timers;
  private st: EngineState;
  /** problems of the last load at start-up (nothing is managed then) */
  private loadProblems: Problem[] = [];
  private readonly logLine: (line: string) => void;
  private readonly queue: EngineEvent[] = [];
  private draining = false;
  private readonly timerHandles = new Map<string, TimerHandle>();
  private readonly jobs = new Map<number, JobSink>();
  private nextJob = 1;
  /** the supervision of each longrun, by name (from the supervisor's events) */
  private readonly services = new Map<string, Service>();
  /** oneshot processes in flight: name → pid (= its process group) */
  private readonly pids = new Map<string, number>();
  /** longrun names whose scan-directory entry is someone else's directory */
  private readonly conflicts = new Set<string>();
  /** consumer name → [read, write] of the pipe its producers write to, held for the tree's life */
  private readonly pipes = new Map<string, [number, number]>();
  /** removed longruns whose directory goes once their supervision has ended */
  private readonly toRemove = new Set<string>();
  private server: ControlServer | null = null;
  /** LIVE/lock, held for the manager's life: one service manager per live directory */
  private lockFd = -1;
  private unlisten: (() => void) | null = null;
  private devnull = -1;
  /** a resumed manager: events wait here until resumed() (the scanner has taken its supervisions back) */
  private holding = false;
  /** the handed-over state, until attach() takes the socket, the connections and the timers */
  private handed: ManagerState | null = null;

  constructor(private readonly opts: ManagerOptions) {
    this.live = path.join(path.resolve(opts.rundir), 's6-rc');
    this.servicedirs = livePaths(this.live).servicedirs;
    this.logLine = opts.log ?? defaultLog;
    this.timers = new TimerQueue();
    this.st = createState(emptyGraph(), { killGraceMs: opts.killGraceMs ?? 3000 });
  }

  private log(level: string, text: string): void {
    this.logLine(`${PROG}: ${level}: ${text}`);
  }

  /** Hooks to give the Scanner, composed with others (in-supervisor logging's): the pipelines' stdio. */
  scannerHooks<T extends StdioHooks>(inner: T): T & Required<StdioHooks> {
    return {
      ...inner,
      stdoutFor: (n: string, d: string, k: string) => this.pipeOut(n) ?? inner.stdoutFor?.(n, d, k),
      stdinFor: (n: string, d: string, k: string) => this.pipeIn(n) ?? inner.stdinFor?.(n, d, k),
    };
  }

  private atomOf(name: string) {
    const i = this.st.graph.byName.get(name);
    return i === undefined || this.conflicts.has(name) ? null : this.st.graph.atoms[i];
  }

  private pipeOut(name: string): number | undefined {
    const a = this.atomOf(name);
    if (!a || a.consumer < 0) return undefined;
    return this.pipeFor(this.st.graph.atoms[a.consumer].name)?.[1];
  }

  private pipeIn(name: string): number | undefined {
    const a = this.atomOf(name);
    if (!a || !a.producers.length) return undefined;
    return this.pipeFor(name)?.[0];
  }

  private pipeFor(consumer: string): [number, number] | undefined {
    let p = this.pipes.get(consumer);
    if (!p) {
      try {
        p = native().pipe(false);
      } catch (e) {
        this.log('warning', `unable to make the pipe for ${consumer}: ${strerror(e)}`);
        return undefined;
      }
      this.pipes.set(consumer, p);
    }
    return p;
  }

  // -------------------------------------------------------------------------------------------- set-up

  /**
   * Read the sources and build the live directory, before the scanner's first scan. A problem in the sources
   * is logged (one line each) and nothing is managed; the tree itself runs.
   */
  prepare(scandir: string): void {
    this.scandir = path.resolve(scandir);
    // before the first service starts: the supervisor takes the environment once, at its first spawn
    process.env.VIGIL_RUNDIR = path.resolve(this.opts.rundir);
    // before anything in the live directory is touched: another tree may be running on it
    fs.mkdirSync(this.live, { recursive: true });
    const lock = lockFile(path.join(this.live, 'lock'));
    if (lock === 'busy') throw new Error(`another service manager is running on ${this.live} (its lock is held)`);
    this.lockFd = lock;
    makeLive(this.live, this.scandir);
    const r = this.load();
    if (r.problems.length) {
      this.loadProblems = r.problems;
      for (const p of r.problems) this.log('fatal', p.text);
      this.log('warning', `the service definitions in ${this.opts.sources.join(' ')} were not loaded: no service is managed`);
    } else {
      this.st = createState(r.graph!, { killGraceMs: this.opts.killGraceMs ?? 3000 });
    }
    // what a previous run left and the sources no longer define
    const longruns = new Set(this.st.graph.atoms.filter((a) => a.kind === 'longrun').map((a) => a.name));
    for (const name of listServicedirs(this.servicedirs)) {
      if (longruns.has(name)) continue;
      unlinkService(this.scandir, this.servicedirs, name);
      removeServicedir(this.servicedirs, name);
    }
    for (const a of this.st.graph.atoms) {
      if (a.kind !== 'longrun') continue;
      this.install(a.name, true);
    }
  }

  /** build (or rebuild) one longrun's service directory and link it into the scan directory */
  private install(name: string, down: boolean): void {
    const a = this.st.graph.atoms[this.st.graph.byName.get(name)!];
    try {
      buildServicedir(this.servicedirs, a.def);
      if (down) setDownFile(this.servicedirs, name, true);
      if (linkService(this.scandir, this.servicedirs, name) === 'conflict') {
        this.conflicts.add(name);
        this.log('warning', `${this.scandir}/${name} exists and is not vigil rc's: longrun ${name} cannot be started`);
      } else {
        this.conflicts.delete(name);
      }
    } catch (e) {
      this.log('warning', `unable to build the service directory of ${name}: ${strerror(e)}`);
    }
  }

  private load(): { graph: Graph | null; problems: Problem[] } {
    const set = readSources(this.opts.sources, undefined, { untypedBundles: this.opts.untypedBundles });
    for (const w of set.warnings) this.log('warning', w);
    let problems = set.problems.filter((p) => !p.late);
    let graph: Graph | null = null;
    if (!problems.length) {
      const g = buildGraph(set.defs);
      problems = g.problems;
      graph = g.graph;
    }
    problems = [...problems, ...set.problems.filter((p) => p.late)];
    return { graph: problems.length ? null : graph, problems };
  }

  /** After the scanner started: observe its services, open the control socket. */
  attach(scanner: Scanner): void {
    this.scanner = scanner;
    this.timers = scanner.supervisor.timers;
    const sup = scanner.supervisor;
    for (const svc of sup.services) if (this.isOurs(svc)) this.services.set(svc.name, svc);
    if (this.handed) return this.reattach(this.handed);
    this.listen();
    this.server = new ControlServer(livePaths(this.live).socket, (c, r) => this.request(c, r), this.logLine);
    try {
      this.server.start();
    } catch (e) {
      this.log('warning', `unable to open the control socket ${livePaths(this.live).socket}: ${strerror(e)} - vigil rc cannot reach this tree`);
      this.server = null;
    }
  }

  /** the supervisor's events about our longruns, as engine events */
  private listen(): void {
    const sup = this.scanner!.supervisor;
    this.unlisten = sup.addEventListener((svc, events) => {
      if (events.includes('x') && this.toRemove.has(svc.name) && svc.dir === path.join(this.scandir, svc.name)) {
        this.toRemove.delete(svc.name);
        removeServicedir(this.servicedirs, svc.name);
      }
      if (!this.isOurs(svc)) return;
      if (events.includes('s')) this.services.set(svc.name, svc);
      if (events.includes('x') && this.services.get(svc.name) === svc) this.services.delete(svc.name);
      const rest = events.replace(/s/g, '');
      if (rest) this.post({ t: 'sv', now: this.timers.now(), svc: svc.name, events: rest });
    });
  }

  // ------------------------------------------------------------------------------------------- re-exec

  /**
   * Everything the next image needs to carry on exactly where this one is (ManagerState), and the fds it
   * names. Nothing here changes: an exec that fails carries on with this manager as it is.
   */
  handover(): { state: ManagerState; fds: number[] } {
    const srv = this.server ? this.server.handover() : { fd: -1, conns: [] as Conn[] };
    const connIndex = new Map(srv.conns.map((c, i) => [c, i]));
    const jobs: ManagerState['jobs'] = [];
    for (const [id, sink] of this.jobs) {
      const ci = sink.conn ? connIndex.get(sink.conn) : undefined;
      jobs.push({ id, conn: ci ?? null, prefix: sink.prefix, tag: sink.tag, gone: sink.gone || (sink.conn !== null && ci === undefined) });
    }
    const timers: Array<[string, number]> = [];
    for (const [k, h] of this.timerHandles) if (!h.cancelled) timers.push([k, h.when]);
    const conns = srv.conns.map((c) => c.save());
    const state: ManagerState = {
      sources: this.opts.sources, untypedBundles: this.opts.untypedBundles, scandir: this.scandir, lockFd: this.lockFd,
      loadProblems: this.loadProblems, engine: encodeEngine(this.st), queue: this.queue.map(encodeEvent), nextJob: this.nextJob, jobs,
      pids: [...this.pids], pipes: [...this.pipes], conflicts: [...this.conflicts], toRemove: [...this.toRemove], timers,
      server: srv.fd, conns,
    };
    const fds = [this.lockFd, srv.fd, ...[...this.pipes.values()].flat(), ...conns.flatMap((c) => [c.fd, ...c.fds])];
    return { state, fds: fds.filter((fd) => fd >= 0) };
  }

  /**
   * prepare() of a re-executed process: the state the previous image handed over, taken back before the
   * scanner resumes (the reaper is held: a oneshot that exited during the exec is handed to the engine once
   * the new image reaps). An in-process job is given back to whoever re-attaches its tag (`up`, `shutdown`);
   * one nobody re-attaches says its messages in the log and its answer goes nowhere. Then attach(scanner), scanner.start(), resumed().
   */
  resume(h: ManagerState, reattach: (tag: string) => ((r: JobResult) => void) | undefined = () => undefined): void {
    this.scandir = h.scandir;
    this.lockFd = h.lockFd;
    this.loadProblems = h.loadProblems;
    this.st = decodeEngine(h.engine);
    for (const n of h.conflicts) this.conflicts.add(n);
    for (const n of h.toRemove) this.toRemove.add(n);
    for (const [n, p] of h.pipes) this.pipes.set(n, p);
    this.nextJob = h.nextJob;
    for (const j of h.jobs) {
      const fn = j.tag ? reattach(j.tag) : undefined;
      // a turn later, as the promise of up()/shutdown() answered in the previous image
      const resolve = fn ? (r: JobResult) => queueMicrotask(() => fn(r)) : undefined;
      this.jobs.set(j.id, { conn: null, prefix: j.prefix, tag: j.tag, gone: j.gone, resolve });
    }
    this.holding = true;
    this.queue.push(...h.queue.map(decodeEvent));
    for (const [name, pid] of h.pids) this.watchOneshot(name, pid);
    this.handed = h;
  }

  /** attach() of a resumed manager: its socket and connections, its timers, the supervisor's events */
  private reattach(h: ManagerState): void {
    this.handed = null;
    this.listen();
    if (h.server >= 0) {
      this.server = new ControlServer(livePaths(this.live).socket, (c, r) => this.request(c, r), this.logLine);
      const conns = this.server.adopt(h.server, h.conns);
      const owned = new Set<Conn>();
      for (const j of h.jobs) {
        if (j.conn === null) continue;
        const conn = conns[j.conn];
        const sink = this.jobs.get(j.id);
        if (!sink || !conn) continue;
        sink.conn = conn;
        owned.add(conn);
        conn.onCancel = () => this.post({ t: 'cancel', now: this.timers.now(), reason: `vigil rc (pid ${conn.pid}) was interrupted`, job: j.id });
      }
      // a request answered by no job and not yet answered: a dry run (-n), whose timers were the previous
      // image's own; it is told so rather than left waiting
      for (const c of conns) {
        if (owned.has(c) || c.closed || c.answered || !c.requested) continue;
        c.msg('fatal', 'the service manager was re-executed during this dry run: run it again');
        c.exit(111);
      }
    }
    for (const [key, at] of h.timers) this.arm(key, at);
  }

  /**
   * The scanner has taken its supervisions back (and reaped what died during the exec): our longruns are
   * known again, and the events that waited (exits of oneshots, supervisor events) are handled, in order.
   */
  resumed(): void {
    for (const svc of this.scanner?.supervisor.services ?? []) if (this.isOurs(svc) && !svc.done) this.services.set(svc.name, svc);
    this.holding = false;
    this.drainQueue();
  }

  /** a longrun of ours: its name is a longrun here and its directory is our symlink */
  private isOurs(svc: Service): boolean {
    const a = this.atomOf(svc.name);
    return !!a && a.kind === 'longrun' && svc.dir === path.join(this.scandir, svc.name);
  }

  // ------------------------------------------------------------------------------------- in-process API

  /** Bring NAME (e.g. the bundle `default`) up; resolves with the exit code s6-rc would give and what failed. */
  up(name: string, opts: { timeout?: number; verbosity?: number } = {}, tag = 'up'): Promise<JobResult> {
    return this.inProcess(tag, (job) => ({
      t: 'change', now: this.timers.now(), job, up: true, names: [name], all: false, prune: false, force: false, timeout: opts.timeout ?? 0,
      verbosity: opts.verbosity ?? 1, block: true,
    }));
  }

  /**
   * Cancel whatever is pending and bring every service down, in reverse dependency order (essential ones too).
   * `final` (default): the tree is ending, no change is accepted any more; else changes are accepted again
   * once everything is down (vigil init's stage-3-only run).
   */
  shutdown(opts: { timeout?: number; verbosity?: number; final?: boolean } = {}, tag = 'shutdown'): Promise<JobResult> {
    return this.inProcess(tag, (job) => ({
      t: 'shutdown', now: this.timers.now(), job, timeout: opts.timeout ?? 0, verbosity: opts.verbosity ?? 1, final: opts.final ?? true,
    }));
  }

  /** Is NAME a service or bundle of the sources? */
  has(name: string): boolean {
    return this.st.graph.byName.has(name) || this.st.graph.bundles.has(name);
  }

  /** The sources were refused at start-up (the first problem), or null. */
  refused(): string | null {
    return this.loadProblems.length ? this.loadProblems[0].text : null;
  }

  /** Cancel the running change and every waiting one (they answer 1); nothing new starts until the next request. */
  cancel(reason: string): void {
    this.post({ t: 'cancel', now: this.timers.now(), reason });
  }

  private inProcess(tag: string, make: (job: number) => EngineEvent): Promise<JobResult> {
    return new Promise((resolve) => {
      const job = this.nextJob++;
      this.jobs.set(job, { conn: null, prefix: '', resolve, tag });
      this.post(make(job));
    });
  }

  /** Stop listening (the tree is going away); the live directory's lock goes with the process. */
  close(): void {
    if (this.unlisten) this.unlisten();
    this.unlisten = null;
    if (this.server) this.server.stop();
    this.server = null;
  }

  // ------------------------------------------------------------------------------------------- engine

  post(ev: EngineEvent): void {
    this.queue.push(ev);
    this.drainQueue();
  }

  private drainQueue(): void {
    if (this.draining || this.holding) return;
    this.draining = true;
    try {
      while (this.queue.length) {
        const e = this.queue.shift()!;
        let fx: Effect[];
        try {
          fx = step(this.st, e);
        } catch (err) {
          this.log('warning', `internal error handling ${e.t}: ${(err as Error)?.stack?.split('\n').slice(0, 2).join(' ') ?? err}`);
          continue;
        }
        for (const f of fx) {
          try {
            this.apply(f);
          } catch (err) {
            this.log('warning', `internal error performing ${f.t}: ${(err as Error)?.message ?? err}`);
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private apply(f: Effect): void {
    switch (f.t) {
      case 'spawn':
        return this.spawn(f.svc, f.argv, f.job);
      case 'kill': {
        const pid = this.pids.get(f.svc);
        if (pid) native().kill(-pid, SIGNALS[f.sig]);
        return;
      }
      case 'longrun':
        return this.longrun(f.svc, f.dir);
      case 'settled':
        try {
          setDownFile(this.servicedirs, f.svc, f.dir === 'down');
        } catch (e) {
          this.log('warning', `${f.svc}: unable to ${f.dir === 'down' ? 'create' : 'remove'} its down file: ${strerror(e)}`);
        }
        return;
      case 'longrunAbort': {
        const svc = this.services.get(f.svc);
        if (svc && !svc.done) this.scanner!.supervisor.control(svc, 'd');
        return;
      }
      case 'timer':
        return this.arm(f.key, f.at);
      case 'cancelTimer':
        this.timers.cancel(this.timerHandles.get(f.key));
        this.timerHandles.delete(f.key);
        return;
      case 'msg': {
        const sink = this.jobs.get(f.job);
        if (sink?.conn) sink.conn.msg(f.level, sink.prefix + f.text);
        else if (!sink?.gone) this.log(f.level, f.text);
        return;
      }
      case 'reply': {
        const sink = this.jobs.get(f.job);
        if (!sink) return;
        if (sink.conn) sink.conn.exit(f.code);
        if (sink.resolve) sink.resolve({ code: f.code, failed: f.failed });
        return;
      }
      case 'jobEnd': {
        const sink = this.jobs.get(f.job);
        this.jobs.delete(f.job);
        if (sink?.conn) sink.conn.closeFds();
        return;
      }
      case 'swap':
        return this.swap(f.graph, f.removed, f.added, f.edited);
    }
  }

  /** the engine's timer `key`, due at monotonic `at` */
  private arm(key: string, at: number): void {
    this.timers.cancel(this.timerHandles.get(key));
    this.timerHandles.set(key, this.timers.at(at, () => {
      this.timerHandles.delete(key);
      this.post({ t: 'timer', now: this.timers.now(), key });
    }));
  }

  /** a oneshot's process: its exit goes to the engine */
  private watchOneshot(name: string, pid: number): void {
    this.pids.set(name, pid);
    onExit(pid, (status) => {
      if (this.pids.get(name) === pid) this.pids.delete(name);
      this.post({ t: 'exit', now: this.timers.now(), svc: name, status });
    });
  }

  private spawn(name: string, argv: string[], job: number): void {
    const conn = this.jobs.get(job)?.conn;
    const a = this.atomOf(name)!;
    if (this.devnull < 0) this.devnull = fs.openSync('/dev/null', fs.constants.O_RDWR);
    const fds = conn && conn.fds.length === 3
      ? conn.fds
      : [this.devnull, this.opts.catchallOut ?? 1, this.opts.catchallErr ?? 2];
    const env = [...envList(process.env).filter((e) => !e.startsWith('RC_NAME=')), `RC_NAME=${name}`];
    let pid: number;
    try {
      pid = spawnProcess({
        argv, env, fds, cwd: a.def.dir, setsid: true,
        onExit: (status) => {
          if (this.pids.get(name) === pid) this.pids.delete(name);
          this.post({ t: 'exit', now: this.timers.now(), svc: name, status });
        },
      });
    } catch (e) {
      const x = e as NodeJS.ErrnoException & { stage?: string };
      const code = x.code === 'ENOENT' ? 127 : 126;
      const what = x.stage === 'chdir' ? `unable to chdir to ${a.def.dir}` : `unable to exec ${argv[0]}`;
      this.post({ t: 'spawnFailed', now: this.timers.now(), svc: name, code, error: `${what}: ${strerror(e)}` });
      return;
    }
    this.pids.set(name, pid);
  }

  private longrun(name: string, dir: 'up' | 'down'): void {
    const now = this.timers.now();
    const svc = this.services.get(name);
    if (this.conflicts.has(name) || !svc || svc.done) {
      const why = this.conflicts.has(name)
        ? `${this.scandir}/${name} is not vigil rc's`
        : 'its supervision is not running (see the tree\'s log)';
      this.post({ t: 'snapshot', now, svc: name, supervised: false, up: false, ready: false, error: why });
      return;
    }
    const s = svc.status;
    this.post({ t: 'snapshot', now, svc: name, supervised: true, up: s.pid > 0 && !s.finishing, ready: s.ready });
    this.scanner!.supervisor.control(svc, dir === 'up' ? 'u' : 'd');
  }

  /** reload: make the live directory match the new graph (the engine already swapped its state) */
  private swap(graph: Graph, removed: string[], added: string[], edited: string[]): void {
    const oldLongruns = new Set(listServicedirs(this.servicedirs));
    for (const name of removed) {
      if (!oldLongruns.has(name)) continue;
      unlinkService(this.scandir, this.servicedirs, name);
      const svc = this.services.get(name);
      this.services.delete(name);
      const p = this.pipes.get(name);
      if (p && !graph.byName.has(name)) {
        for (const fd of p) native().close(fd);
        this.pipes.delete(name);
      }
      const stays = graph.byName.has(name) && graph.atoms[graph.byName.get(name)!].kind === 'longrun';
      if (stays) continue;
      // its directory goes once its supervision has ended (which `x` asks for, after `d`)
      if (svc && !svc.done) {
        this.toRemove.add(name);
        this.scanner!.supervisor.control(svc, 'dx');
      } else {
        removeServicedir(this.servicedirs, name);
      }
    }
    this.scanner?.scan();
    for (const name of [...added, ...edited]) {
      const i = graph.byName.get(name)!;
      if (graph.atoms[i].kind !== 'longrun') continue;
      this.install(name, added.includes(name));
    }
    this.scanner?.scan();
  }

  // ----------------------------------------------------------------------------------------- requests

  private request(conn: Conn, req: Request): void {
    const needsGraph = req.cmd !== 'status' && req.cmd !== 'reload';
    if (needsGraph && this.loadProblems.length) {
      conn.msg('fatal', `no service database: the sources were refused at start-up (${this.loadProblems[0].text}); fix them and run vigil rc reload`);
      return conn.exit(4);
    }
    switch (req.cmd) {
      case 'list':
      case 'listall':
        return this.list(conn, req);
      case 'diff':
        return this.diff(conn);
      case 'status':
        return this.status(conn, req.json);
      case 'change':
      case 'restart':
      case 'reload':
        return this.job(conn, req);
    }
  }

  private list(conn: Conn, req: Request): void {
    const g = this.st.graph;
    const r = resolveNames(g, req.names);
    if ('unknown' in r) {
      conn.msg('fatal', `${r.unknown} is not a recognized identifier`);
      return conn.exit(3);
    }
    const sel = selection(g, r.atoms);
    if (req.all) for (let i = 0; i < sel.length; i++) if (this.st.recs[i].cur === 'up') sel[i] = 1;
    if (req.cmd === 'listall') closure(g, sel, req.up);
    else if (!req.up) for (let i = 0; i < sel.length; i++) sel[i] ^= 1;
    const names = selectedNames(g, sel);
    if (names.length) conn.out(names.map((n) => `${n}\n`).join(''));
    conn.exit(0);
  }

  private diff(conn: Conn): void {
    let out = '';
    for (const a of this.st.graph.atoms) {
      if (a.kind !== 'longrun') continue;
      const svc = this.services.get(a.name);
      const wantUp = !!svc && !svc.done && svc.status.wantUp;
      const rcUp = this.st.recs[a.index].cur === 'up';
      if (wantUp !== rcUp) out += `${wantUp ? '+' : '-'}${a.name}\n`;
    }
    if (out) conn.out(out);
    conn.exit(out ? 1 : 0);
  }

  /** monotonic ms → ISO wall-clock time */
  private wall(mono: number): string {
    return new Date(Date.now() - (this.timers.now() - mono)).toISOString();
  }

  statusRows(): StatusRow[] {
    const g = this.st.graph;
    return g.atoms.map((a) => {
      const r = this.st.recs[a.index];
      const svc = a.kind === 'longrun' ? this.services.get(a.name) : undefined;
      const state = rcState(r);
      return {
        name: a.name,
        type: a.kind,
        state,
        essential: a.essential,
        supervise: a.kind === 'longrun'
          ? svc && !svc.done
            ? { state: svc.status.pid > 0 && !svc.status.finishing ? 'up' : 'down', pid: svc.status.pid, ready: svc.status.ready, wantUp: svc.status.wantUp }
            : { state: 'unsupervised', pid: 0, ready: false, wantUp: false }
          : null,
        last: r.last ? { dir: r.last.dir, ok: r.last.ok, at: this.wall(r.last.at), ...(r.last.error ? { error: r.last.error } : {}) } : null,
        failed: state === 'failed' ? r.failed : null,
        dependencyFailed: a.deps.filter((d) => rcState(this.st.recs[d]) === 'failed').map((d) => g.atoms[d].name),
      };
    });
  }

  private status(conn: Conn, json: boolean): void {
    const rows = this.statusRows();
    if (json) {
      const body = { live: this.live, sources: this.opts.sources, loadProblems: this.loadProblems.map((p) => p.text), services: rows };
      conn.out(`${JSON.stringify(body, null, 2)}\n`);
      return conn.exit(0);
    }
    const lines: string[] = [];
    if (this.loadProblems.length) lines.push(`sources refused: ${this.loadProblems[0].text}`);
    const table = [['SERVICE', 'TYPE', 'STATE', 'SUPERVISION', 'LAST TRANSITION']];
    const now = Date.now();
    for (const r of rows) {
      const sv = r.supervise
        ? r.supervise.state === 'up' ? `up (pid ${r.supervise.pid}${r.supervise.ready ? ', ready' : ''})` : r.supervise.state
        : '-';
      let last = '-';
      if (r.last) {
        const ago = Math.max(0, Math.round((now - Date.parse(r.last.at)) / 1000));
        last = `${r.last.dir} ${r.last.ok ? 'ok' : 'failed'} ${ago}s ago${r.last.error ? `: ${r.last.error}` : ''}`;
      }
      if (r.dependencyFailed.length) last += ` (dependency failed: ${r.dependencyFailed.join(', ')})`;
      table.push([r.name, r.type, r.state, sv, last]);
    }
    const w = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) lines.push(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(w[i]))).join('  ').trimEnd());
    conn.out(lines.join('\n') + '\n');
    conn.exit(0);
  }

  private job(conn: Conn, req: Request): void {
    const now = this.timers.now();
    if (req.cmd === 'change' && req.dryrun !== null) return this.dryRun(conn, req);
    let ev: EngineEvent;
    const job = this.nextJob++;
    if (req.cmd === 'reload') {
      const r = this.load();
      if (r.problems.length) {
        for (const p of r.problems) conn.msg('fatal', p.text);
        conn.msg('warning', 'nothing was changed');
        return conn.exit(r.problems[0].code);
      }
      if (this.loadProblems.length) {
        // the first good load after a refused start-up: start managing
        this.loadProblems = [];
        this.st = createState(r.graph!, { killGraceMs: this.opts.killGraceMs ?? 3000 });
        for (const a of this.st.graph.atoms) if (a.kind === 'longrun') this.install(a.name, true);
        this.scanner?.scan();
        conn.msg('info', 'sources loaded');
        return conn.exit(0);
      }
      ev = { t: 'reload', now, job, graph: r.graph!, rerun: req.rerun, timeout: req.timeout, verbosity: req.verbosity, block: req.block };
    } else if (req.cmd === 'restart') {
      ev = { t: 'restart', now, job, names: req.names, timeout: req.timeout, verbosity: req.verbosity, block: req.block };
    } else {
      ev = {
        t: 'change', now, job, up: req.up, names: req.names, all: req.all, prune: req.prune, force: req.force, timeout: req.timeout,
        verbosity: req.verbosity, block: req.block,
      };
    }
    this.jobs.set(job, { conn, prefix: '' });
    conn.onCancel = () => this.post({ t: 'cancel', now: this.timers.now(), reason: `vigil rc (pid ${conn.pid}) was interrupted`, job });
    this.post(ev);
  }

  /**
   * -n MS: a dry run on a copy of the state. Each transition prints what it would do on the client's stdout
   * and "succeeds" after MS ms; nothing is started, stopped or changed.
   */
  private dryRun(conn: Conn, req: Request): void {
    const sim: EngineState = createState(this.st.graph, this.st.opts);
    sim.recs.forEach((r, i) => {
      r.cur = this.st.recs[i].cur;
      r.failed = this.st.recs[i].failed;
    });
    for (const k of this.st.keptUp) sim.keptUp.add(k);
    const ms = req.dryrun ?? 1000;
    const handles = new Map<string, TimerHandle>();
    const queue: EngineEvent[] = [];
    let busy = false;
    const post = (ev: EngineEvent) => {
      queue.push(ev);
      if (busy) return;
      busy = true;
      try {
        while (queue.length) for (const f of step(sim, queue.shift()!)) effect(f);
      } finally {
        busy = false;
      }
    };
    const later = (fn: () => void) => this.timers.after(ms, fn);
    const effect = (f: Effect): void => {
      const now = this.timers.now();
      switch (f.t) {
        case 'spawn':
          if (req.verbosity) conn.out(`${PROG}-dryrun: ${f.dir} ${f.svc}: ${f.argv.join(' ')}\n`);
          later(() => post({ t: 'exit', now: this.timers.now(), svc: f.svc, status: 0 }));
          return;
        case 'longrun': {
          if (req.verbosity) conn.out(`${PROG}-dryrun: ${f.dir} ${f.svc} (longrun)\n`);
          post({ t: 'snapshot', now, svc: f.svc, supervised: true, up: f.dir === 'down', ready: true });
          later(() => post({ t: 'sv', now: this.timers.now(), svc: f.svc, events: f.dir === 'up' ? 'uU' : 'dD' }));
          return;
        }
        case 'timer':
          this.timers.cancel(handles.get(f.key));
          handles.set(f.key, this.timers.at(f.at, () => post({ t: 'timer', now: this.timers.now(), key: f.key })));
          return;
        case 'cancelTimer':
          this.timers.cancel(handles.get(f.key));
          return;
        case 'msg':
          conn.msg(f.level, f.level === 'info' ? `simulation: ${f.text}` : f.text);
          return;
        case 'reply':
          for (const h of handles.values()) this.timers.cancel(h);
          conn.exit(f.code);
          return;
        default:
          return;
      }
    };
    post({
      t: 'change', now: this.timers.now(), job: 0, up: req.up, names: req.names, all: req.all, prune: req.prune, force: req.force,
      timeout: req.timeout, verbosity: req.verbosity, block: true,
    });
  }

  /** for tests and status tools */
  get graph(): Graph {
    return this.st.graph;
  }
}
