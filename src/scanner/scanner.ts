/**
 * The scanner: s6-svscan's job (s6-protocol.md §8) on top of the in-process Supervisor — every service of a
 * scan directory supervised by this one process.
 *
 * In-process API (the init engine runs stage 1, then "becomes the scanner" in the same process):
 *
 *   const sc = new Scanner({
 *     scandir,              // the scan directory (made absolute)
 *     rescanMs?,            // -t: rescan every ms (0/undefined = only on command or signal)
 *     maxServices?,         // -c: table size, default 500, clamped to [2, 90000]
 *     readyFd?,             // -d: write "\n" there and close it before the first scan
 *     consoleFd?,           // -X: stderr of the `s6-svscan-log` service; put back on fds 1 and 2 at stop
 *     subreaper?,           // -r: PR_SET_CHILD_SUBREAPER (PID 1 reaps orphans anyway)
 *     handleSignals?,       // default true: listen to HUP INT TERM QUIT USR1 USR2 PWR WINCH ALRM ABRT
 *     onSignal?: (sig) => boolean,        // true = handled, skip the .s6-svscan/SIG* script and the default
 *     onStopping?: () => void,            // once, when the tree starts stopping
 *     onStopped?: (how: 'finish' | 'crash') => void,
 *                           // replaces the exec of .s6-svscan/finish (or crash); without it the process
 *                           // execs finish (exit 0 if there is none, crash / exit 111 on other failures)
 *     log?: (line) => void, // one line per warning (default: stderr, synchronous)
 *     serviceStdout?, serviceStderr?,     // fds for services instead of this process's 1 and 2
 *     stdoutFor?: (name, dir, key) => fd | undefined,
 *                           // in-process logging hook: stdout of a service without log/ (dup'ed)
 *     onDiscover?: (name, dir, key, hasLogSubdir) => void,   // first discovery of a service (key = dev:ino)
 *     onForget?: (name, dir, key) => void,  // an inactive service's entry is dropped (its supervision ended)
 *   });
 *   With handleSignals: false the caller must itself listen to SIGUSR1 (else Node opens its inspector).
 *   sc.start();             // throws ScannerError (exitCode 100: lock held / .s6-svscan not a dir; 111)
 *   sc.command('h');        // the letters of .s6-svscan/control: z a b h i t q n N
 *   sc.signal('SIGTERM');   // as if the scanner received it (scripts, then defaults)
 *   sc.services();          // [{ name, dir, active, logged, main: info|null, log: info|null }]
 *   sc.supervisor;          // the Supervisor (control(svc, letters), signal(svc, sig)) for direct use
 *
 * Rules kept from s6-svscan: dot names skipped; stat follows symlinks; non-dirs skipped; services known by
 * (dev, ino); `log/` looked at only on first discovery, with a pipe made then whose BOTH ends the scanner holds
 * until the service is inactive and one side's supervision has ended; `s6-svscan-log` ignores its log/.
 * What happens to a service once found (started, restarted 1 s after its supervision ended, backed off when
 * it cannot be set up, dropped once inactive and ended) is entry.ts's step machine; this file reads the
 * directory, runs that machine's effects, and handles control, signals and the stop. "Killing a supervisor"
 * is the in-process equivalent: TERM/HUP to a service's supervision (Supervisor.signal), with s6's semantics
 * (§5.3).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';
import { closeQuiet } from '../sys/fds';
import { isSymlink } from '../sys/stat';
import { drain as reapNow, holdReaping, releaseReaping, setSubreaper, reaperStats } from '../sys/reaper';
import { watchReadable, FdWatch } from '../sys/fdwatch';
import { NotAFifo, openControlFifo } from '../sys/fifo';
import { lockFile } from '../sys/lock';
import { raiseNofileLimit, getNofileLimit } from '../sys/rlimit';
import { envList } from '../sys/spawn';
import { onExit } from '../sys/reaper';
import {
  LOG_SUBDIR, SVSCAN_CONTROL, SVSCAN_CRASH, SVSCAN_DIR, SVSCAN_FINISH, SVSCAN_LOCK, SVSCAN_LOG_SERVICE,
} from '../formats/paths';
import { Supervisor, defaultLog } from '../supervisor/supervisor';
import { adoptDevnull, devnullFd, takeRunPipe } from '../supervisor/realworld';
import { recordFds } from '../supervisor/reexec';
import type { ServiceRecord } from '../supervisor/machine';
import { SVSCAN_REEXEC } from '../formats/control';
import { checkServiceDir, forgetReports, saidOnce } from '../formats/servicedir';
import { Service, SetupError, SupervisorSignal } from '../supervisor/service';
import { TimerHandle } from '../supervisor/timers';
import { EntryEvent, EntryRecord, newEntry, Side, stepEntry } from './entry';

export type StopHow = 'finish' | 'crash';

export interface ScannerOptions {
  scandir: string;
  rescanMs?: number;
  maxServices?: number;
  readyFd?: number;
  consoleFd?: number;
  subreaper?: boolean;
  handleSignals?: boolean;
  onSignal?: (sig: NodeJS.Signals) => boolean;
  onStopped?: (how: StopHow) => void;
  log?: (line: string) => void;
  /**
   * stdout / stderr given to services that have no log/ (stderr: to every service except s6-svscan-log)
   * instead of this process's own fds 1 and 2. vigil init passes a blocking description of the catch-all
   * fifo that init never writes to itself (libuv may make init's own fds 1/2 O_NONBLOCK).
   */
  serviceStdout?: number;
  serviceStderr?: number;
  /** called once when the tree starts stopping (t/i/q/b or a signal doing that): vigil init's hook */
  onStopping?: () => void;
  /**
   * Hook for in-process logging: the fd a service without a log/ subdir gets as stdout (overrides
   * serviceStdout), e.g. the write end of a pipe whose read end feeds a logger engine (feed(chunk)/end()).
   * Asked each time that service's supervision starts; the fd is dup'ed, the caller keeps its own copy.
   * Return undefined for the default.
   */
  stdoutFor?: (name: string, dir: string, key: string) => number | undefined;
  /**
   * The fd a service without a log/ subdir gets as stdin (default: this process's fd 0), asked each time
   * its supervision starts and dup'ed: the read end of a pipe the caller holds (the service manager's
   * pipelines, src/rc). Return undefined for the default.
   */
  stdinFor?: (name: string, dir: string, key: string) => number | undefined;
  /**
   * In-process logging hooks (src/scanner/inlog.ts): a service found for the first time (key = "dev:ino",
   * hasLogSubdir = it has a log/ and gets s6's pipe), and an inactive service dropped once its supervision
   * has ended (the place to drain and close what onDiscover opened). Exceptions are caught and reported.
   */
  onDiscover?: (name: string, dir: string, key: string, hasLogSubdir: boolean) => void;
  onForget?: (name: string, dir: string, key: string) => void;
  /**
   * The state a previous image of this process handed over (handover(), then execve): start() takes the
   * scan directory and every service back from it instead of taking them afresh. Reaping is held from the
   * constructor until the services are restored, so an exit during the exec reaches its service.
   */
  resume?: ScannerState;
  /**
   * A cold re-exec (the event-loop watchdog fired in the previous image: no state, src/supervisor/reexec.ts):
   * start as usual, but every run found in supervise/vigil-run is our own child: reaping is held until the
   * first scan has given each its owner, -d readiness is not written again (the first image did), and the
   * service → logger pipe of a logged service is taken back from its running logger.
   */
  cold?: boolean;
  /** `vigil reexec` (the R byte on .s6-svscan/control): the owner re-executes the process (see handover()) */
  onReexec?: () => void;
}

/** What a scanner hands to its next image across execve (plain data; fds by number). */
export interface ScannerState {
  scandir: string;
  /** .s6-svscan/lock (the OFD lock stays ours: the description stays open) and the control fifo */
  lockFd: number;
  ctlR: number;
  baselineFds: number;
  /** the /dev/null fd the services' stdio may name */
  devnull: number;
  /** every entry with the records of its live supervisions */
  entries: Array<{ rec: EntryRecord; main: ServiceRecord | null; log: ServiceRecord | null }>;
}

export class ScannerError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** An entry: its record (entry.ts's machine) and what cannot be serialised: its supervisions and timers. */
interface Entry {
  rec: EntryRecord;
  main: Service | null;
  log: Service | null;
  mainTimer: TimerHandle | null;
  logTimer: TimerHandle | null;
}

export interface SideInfo {
  name: string;
  state: string;
  pid: number;
  wantUp: boolean;
  ready: boolean;
}

export interface ServiceInfo {
  name: string;
  dir: string;
  active: boolean;
  logged: boolean;
  main: SideInfo | null;
  log: SideInfo | null;
}

const SCANNED_SIGNALS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPWR', 'SIGWINCH', 'SIGALRM', 'SIGABRT'];
const STAT_RETRY_MS = 3000;
/** fds always left free for spawning and file writes */
const FD_RESERVE = 64;

export class Scanner {
  readonly scandir: string;
  readonly supervisor: Supervisor;
  private readonly opts: ScannerOptions;
  private readonly logLine: (line: string) => void;
  private entries = new Map<string, Entry>();
  private owner = new Map<Service, Entry>();
  private lockFd = -1;
  private ctlR = -1;
  private ctlWatch: FdWatch | null = null;
  private sigHandlers: Array<[NodeJS.Signals, () => void]> = [];
  private rescanTimer: TimerHandle | null = null;
  private retryScanTimer: TimerHandle | null = null;
  private stopping: '' | 'wait' | 'done' = '';
  private readonly max: number;
  private readonly ctlBuf = Buffer.allocUnsafe(4096);
  private fdLimit = 1024;
  private baselineFds = 32;
  /** service → logger pipes held (2 fds each) */
  private pipes = 0;
  /** scan problems already reported, by name */
  private reported = new Map<string, string>();

  constructor(opts: ScannerOptions) {
    this.opts = opts;
    this.scandir = path.resolve(opts.scandir);
    // every warning of the tree: one bounded line, and the same complaint about a service said once
    this.logLine = saidOnce(opts.log ?? defaultLog);
    this.max = Math.min(90000, Math.max(2, opts.maxServices ?? 500));
    // a resumed scanner's children may have died during the exec: nobody reaps them before their owners
    // are back (the Supervisor's world installs the reaper, which reaps at once)
    if (opts.resume || opts.cold) holdReaping();
    this.supervisor = new Supervisor({ log: this.logLine, onEnded: (svc) => this.onEnded(svc) });
  }

  private warn(msg: string): void {
    this.logLine(`vigil: warning: ${msg}`);
  }

  /** Take the scan directory and run: .s6-svscan/, lock, control fifo, signals, -d readiness, first scan. */
  start(): void {
    if (this.opts.resume) {
      this.resumeFrom(this.opts.resume);
      return;
    }
    this.raiseFdLimit();
    try {
      this.baselineFds = fs.readdirSync('/proc/self/fd').length + 4;
    } catch {
      /* no /proc: keep the estimate */
    }
    this.startInner();
  }

  private raiseFdLimit(): void {
    try {
      this.fdLimit = raiseNofileLimit().soft;
    } catch (e) {
      this.warn(`unable to raise the open files limit: ${(e as Error).message}`);
      try {
        this.fdLimit = getNofileLimit().soft;
      } catch {
        /* keep the default */
      }
    }
  }

  private startInner(): void {
    if (this.opts.subreaper) setSubreaper(true);
    let st: fs.Stats;
    try {
      st = fs.statSync(this.scandir);
    } catch (e) {
      throw new ScannerError(`unable to chdir to ${this.scandir}: ${(e as NodeJS.ErrnoException).code}`, 111);
    }
    if (!st.isDirectory()) throw new ScannerError(`unable to chdir to ${this.scandir}: ENOTDIR`, 111);
    const dot = path.join(this.scandir, SVSCAN_DIR);
    try {
      fs.mkdirSync(dot);
      fs.chmodSync(dot, 0o700);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ScannerError(`unable to mkdir ${SVSCAN_DIR}: ${(e as NodeJS.ErrnoException).code}`, 111);
      let ds: fs.Stats | null = null;
      try {
        ds = fs.statSync(dot);
      } catch {
        ds = null;
      }
      if (!ds || !ds.isDirectory()) throw new ScannerError(`${SVSCAN_DIR} exists and is not a directory`, 100);
    }
    let lock: number | 'busy';
    try {
      lock = lockFile(path.join(this.scandir, SVSCAN_LOCK), 'exclusive', { fileMode: 0o600 });
    } catch (e) {
      throw new ScannerError(`unable to open ${SVSCAN_LOCK}: ${(e as NodeJS.ErrnoException).code}`, 111);
    }
    if (lock === 'busy') throw new ScannerError('another instance of s6-svscan is already running on the same directory', 100);
    this.lockFd = lock;
    try {
      this.ctlR = openControlFifo(path.join(this.scandir, SVSCAN_CONTROL));
    } catch (e) {
      if (e instanceof NotAFifo && !e.dangling) throw new ScannerError(`${SVSCAN_CONTROL} exists and is not a fifo`, 100);
      const code = e instanceof NotAFifo ? 'ENOENT' : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new ScannerError(`unable to set up ${SVSCAN_CONTROL}: ${code}`, 111);
    }
    this.listen();
    reapNow();
    if (this.opts.readyFd !== undefined && !this.opts.cold) {
      try {
        fs.writeSync(this.opts.readyFd, '\n');
      } catch (e) {
        this.warn(`unable to write readiness to fd ${this.opts.readyFd}: ${(e as NodeJS.ErrnoException).code}`);
      }
      try {
        fs.closeSync(this.opts.readyFd);
      } catch {
        /* already closed */
      }
    }
    this.scan();
    if (this.opts.cold) releaseReaping();
  }

  /** the control fifo and the signals */
  private listen(): void {
    this.ctlWatch = watchReadable(this.ctlR, () => this.onControlReadable());
    if (this.opts.handleSignals !== false) {
      for (const sig of SCANNED_SIGNALS) {
        const h = () => this.signal(sig);
        this.sigHandlers.push([sig, h]);
        process.on(sig, h);
      }
    }
  }

  // ------------------------------------------------------------------------------------------- re-exec

  /**
   * Everything this scanner needs to carry on in a new image of the process, and the fds it names (they
   * must be kept open across execve). The scanner is left as it is (an exec that fails carries on with it).
   * Throws when there is nothing sane to hand over (the tree is stopping).
   */
  handover(): { state: ScannerState; fds: number[] } {
    if (this.stopping) throw new Error('the tree is stopping');
    const fds = [this.lockFd, this.ctlR];
    const entries: ScannerState['entries'] = [];
    for (const e of this.entries.values()) {
      const main = e.main && !e.main.done ? e.main.snapshot() : null;
      const log = e.log && !e.log.done ? e.log.snapshot() : null;
      for (const r of [main, log]) if (r) fds.push(...recordFds(r));
      if (e.rec.pipe) fds.push(...e.rec.pipe);
      entries.push({ rec: structuredClone(e.rec), main, log });
    }
    const devnull = devnullFd();
    for (const fd of [devnull, this.opts.consoleFd, this.opts.serviceStdout, this.opts.serviceStderr]) if (fd !== undefined && fd >= 0) fds.push(fd);
    const state: ScannerState = {
      scandir: this.scandir, lockFd: this.lockFd, ctlR: this.ctlR, baselineFds: this.baselineFds, devnull, entries,
    };
    return { state, fds: [...new Set(fds)].filter((fd) => fd >= 0) };
  }

  /**
   * start() of a re-executed scanner: the lock and the control fifo are still ours (their fds came across
   * the exec), every entry and supervision is restored from its record (its deadlines re-armed, its fds
   * re-watched, its pids re-registered), then what died meanwhile is reaped and handled, then a scan (as
   * s6-svscan does at start: a service added meanwhile is found). -d readiness is not written again.
   */
  private resumeFrom(st: ScannerState): void {
    if (st.scandir !== this.scandir) throw new ScannerError(`the handed-over state is for ${st.scandir}, not ${this.scandir}`, 111);
    this.raiseFdLimit();
    this.baselineFds = st.baselineFds;
    this.lockFd = st.lockFd;
    this.ctlR = st.ctlR;
    adoptDevnull(st.devnull);
    this.listen();
    const recs: ServiceRecord[] = [];
    const slots: Array<[Entry, Side]> = [];
    for (const saved of st.entries) {
      const e: Entry = { rec: saved.rec, main: null, log: null, mainTimer: null, logTimer: null };
      this.entries.set(saved.rec.key, e);
      if (saved.rec.pipe) this.pipes++;
      for (const side of ['main', 'log'] as const) {
        const r = saved[side];
        if (!r) continue;
        recs.push(r);
        slots.push([e, side]);
      }
    }
    this.supervisor.restore(recs, (svc, i) => {
      const [e, side] = slots[i];
      e[side] = svc;
      this.owner.set(svc, e);
    });
    // a supervision that could not be restored (it had ended) is an ended side for its entry
    for (const [e, side] of slots) if (e[side] === null) this.feed(e, { t: 'ended', side });
    for (const e of this.entries.values()) {
      this.syncTimer(e, 'main');
      this.syncTimer(e, 'log');
    }
    releaseReaping();
    this.scan();
  }

  // ------------------------------------------------------------------------------------------------ scan

  /** readdir, (dev, ino) identity, start what is missing, mark and reap the inactive. */
  scan(): void {
    if (this.stopping) return;
    if (this.rescanTimer) {
      this.supervisor.timers.cancel(this.rescanTimer);
      this.rescanTimer = null;
    }
    let names: string[];
    try {
      names = fs.readdirSync(this.scandir);
    } catch (e) {
      this.warn(`unable to read the scan directory ${this.scandir}: ${(e as NodeJS.ErrnoException).code}`);
      this.scheduleRetryScan();
      this.armRescan();
      return;
    }
    const seen = new Set<string>();
    const problems = new Map<string, string>();
    let statFailed = false;
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const dir = path.join(this.scandir, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        let msg: string;
        if (code === 'ENOENT' && isSymlink(dir)) {
          msg = `${name}: dangling symlink - skipping it`;
        } else {
          msg = `${name}: unable to stat: ${code}${code === 'ELOOP' ? ' (symlink loop)' : ''} - skipping it`;
          statFailed = true;
        }
        problems.set(name, msg);
        // said once per name while the problem lasts (the 3 s retries stay quiet)
        if (this.reported.get(name) !== msg) this.warn(msg);
        continue;
      }
      if (!st.isDirectory()) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let e = this.entries.get(key);
      if (!e) {
        if (this.entries.size >= this.max) {
          const msg = `${name}: too many services (maximum ${this.max}, see -c) - not supervising it`;
          problems.set(name, msg);
          if (this.reported.get(name) !== msg) this.warn(msg);
          continue;
        }
        // user input, checked when found: config files read with a cap and range-checked now (each problem
        // said once), supervise/ or event/ that are not directories refuse the service (s6's message)
        const refusal = this.checkDir(name, dir);
        if (refusal) {
          problems.set(name, refusal);
          if (this.reported.get(name) !== refusal) this.logLine(`vigil: warning: ${refusal}`);
          continue;
        }
        e = this.discover(key, name, dir) ?? undefined;
        if (!e) continue;
      }
      // a new name for a known dir (same dev+ino) counts only once the old name no longer leads to it:
      // two links to one dir keep the first (the supervision keeps its NAME, as s6-supervise's argv)
      this.feed(e, { t: 'seen', dir: e.rec.dir !== dir && !sameDir(e.rec.dir, key) ? dir : e.rec.dir });
    }
    this.reported = problems;
    let dotKeys: Map<string, string> | null = null;
    for (const e of [...this.entries.values()]) {
      if (seen.has(e.rec.key)) continue;
      let movedTo: string | undefined;
      if (!sameDir(e.rec.dir, e.rec.key)) {
        // gone from its name: a rename to a dot name (how s6-linux-init-shutdownd takes the tree apart)
        // is followed, so the supervision can still write its status while it winds down
        if (!dotKeys) dotKeys = this.dotNameKeys(names);
        movedTo = dotKeys.get(e.rec.key);
      }
      this.feed(e, { t: 'missing', ...(movedTo !== undefined ? { movedTo } : {}) });
    }
    if (statFailed) this.scheduleRetryScan();
    this.armRescan();
  }

  /** checkServiceDir on the service and on its log/ (when it has one): the refusal line, or null */
  private checkDir(name: string, dir: string): string | null {
    const warn = (l: string) => this.warn(l);
    const refusal = checkServiceDir(dir, name, warn);
    if (refusal || name === SVSCAN_LOG_SERVICE) return refusal;
    const log = path.join(dir, LOG_SUBDIR);
    let isDir = false;
    try {
      isDir = fs.statSync(log).isDirectory();
    } catch {
      isDir = false;
    }
    return isDir ? checkServiceDir(log, `${name}/${LOG_SUBDIR}`, warn) : null;
  }

  /** dev:ino → path of the dot-named directories of the scan dir */
  private dotNameKeys(names: string[]): Map<string, string> {
    const m = new Map<string, string>();
    for (const name of names) {
      if (!name.startsWith('.') || name === SVSCAN_DIR) continue;
      const p = path.join(this.scandir, name);
      try {
        const st = fs.statSync(p);
        if (st.isDirectory()) m.set(`${st.dev}:${st.ino}`, p);
      } catch {
        /* vanished */
      }
    }
    return m;
  }

  private armRescan(): void {
    const ms = this.opts.rescanMs;
    if (ms && ms > 0 && !this.stopping) this.rescanTimer = this.supervisor.timers.after(ms, () => this.scan());
  }

  private scheduleRetryScan(): void {
    if (this.retryScanTimer && !this.retryScanTimer.cancelled) return;
    this.retryScanTimer = this.supervisor.timers.after(STAT_RETRY_MS, () => {
      this.retryScanTimer = null;
      this.scan();
    });
  }

  /** first discovery: log/ looked at now only, the pipe made now; the entry's machine takes it from here */
  private discover(key: string, name: string, dir: string): Entry | null {
    const special = name === SVSCAN_LOG_SERVICE;
    let logged = false;
    if (!special) {
      try {
        logged = fs.statSync(path.join(dir, LOG_SUBDIR), { throwIfNoEntry: false })?.isDirectory() ?? false;
      } catch {
        logged = false;
      }
    }
    let pipe: [number, number] | null = null;
    if (logged) {
      try {
        pipe = (this.opts.cold ? takeRunPipe(path.join(dir, LOG_SUBDIR), 0) : null) ?? native().pipe(false);
      } catch (e) {
        this.warn(`${name}: unable to create the log pipe: ${(e as NodeJS.ErrnoException).code} - will retry`);
        this.scheduleRetryScan();
        return null;
      }
    }
    const e: Entry = { rec: newEntry(key, name, dir, special, pipe), main: null, log: null, mainTimer: null, logTimer: null };
    if (pipe) this.pipes++;
    this.entries.set(key, e);
    if (this.opts.onDiscover) {
      try {
        this.opts.onDiscover(name, dir, key, logged);
      } catch (err) {
        this.warn(`${name}: internal error in onDiscover: ${(err as Error).message}`);
      }
    }
    return e;
  }

  /** An event for an entry: its machine, then the effects; a start's result goes straight back in. */
  private feed(e: Entry, first: EntryEvent): void {
    let ev: EntryEvent | null = first;
    while (ev) {
      const out = stepEntry(e.rec, ev, this.supervisor.timers.now());
      e.rec = out.record;
      ev = null;
      for (const fx of out.effects) {
        switch (fx.t) {
          case 'start':
            ev = this.startSide(e, fx.side);
            break;
          case 'relocate':
            e.main?.relocate(fx.dir);
            e.log?.relocate(path.join(fx.dir, LOG_SUBDIR));
            break;
          case 'closePipe':
            closeQuiet(fx.fds[0]);
            closeQuiet(fx.fds[1]);
            this.pipes--;
            break;
          case 'warn':
            this.warn(fx.msg);
            break;
          case 'forget':
            this.entries.delete(e.rec.key);
            forgetReports(e.rec.dir);
            forgetReports(path.join(e.rec.dir, LOG_SUBDIR));
            if (fx.inactive && this.opts.onForget) {
              try {
                this.opts.onForget(e.rec.name, e.rec.dir, e.rec.key);
              } catch (err) {
                this.warn(`${e.rec.name}: internal error in onForget: ${(err as Error).message}`);
              }
            }
            break;
          case 'rescan':
            this.supervisor.timers.after(fx.after, () => this.scan());
            break;
          default: {
            const never: never = fx;
            throw new Error(`unknown entry effect ${JSON.stringify(never)}`);
          }
        }
      }
    }
    this.syncTimer(e, 'main');
    this.syncTimer(e, 'log');
  }

  /** a side's deadline (restart or back-off), mirrored into the timer queue */
  private syncTimer(e: Entry, side: Side): void {
    const s = side === 'main' ? e.rec.main : e.rec.log;
    const key = side === 'main' ? 'mainTimer' : 'logTimer';
    const d = s && !e.rec.gone ? s.deadline : null;
    const t = e[key];
    if (t && !t.cancelled && t.when === d) return;
    if (t) this.supervisor.timers.cancel(t);
    e[key] = d === null ? null : this.supervisor.timers.at(d, () => {
      e[key] = null;
      this.feed(e, { t: 'timeout', side });
    });
  }

  /** fds in use by the scanner's own supervision work (baseline + services + held pipes) */
  private fdsInUse(): number {
    return this.baselineFds + this.supervisor.fdsHeld + 2 * this.pipes;
  }

  /** the `start` effect: set up one side's supervision; returns the result event */
  private startSide(e: Entry, side: Side): EntryEvent {
    const r = e.rec;
    const label = side === 'main' ? r.name : `${r.name}/${LOG_SUBDIR}`;
    // keep FD_RESERVE fds free for spawning, readiness pipes, status writes: a tree that took the last fd
    // could no longer start anything
    const needed = 3 + (r.pipe ? 1 : 0);
    if (this.fdsInUse() + needed + FD_RESERVE > this.fdLimit) {
      return { t: 'setupFailed', side, msg: `${label}: not enough file descriptors (limit ${this.fdLimit}) - not supervising it` };
    }
    const opts =
      side === 'main'
        ? {
            dir: r.dir,
            name: r.name,
            stdin: r.pipe ? undefined : this.opts.stdinFor?.(r.name, r.dir, r.key),
            stdout: r.pipe ? r.pipe[1] : this.opts.stdoutFor?.(r.name, r.dir, r.key) ?? this.opts.serviceStdout,
            stderr: r.special && this.opts.consoleFd !== undefined ? this.opts.consoleFd : this.opts.serviceStderr,
            dupStdio: true,
          }
        : { dir: path.join(r.dir, LOG_SUBDIR), name: label, stdin: r.pipe![0], dupStdio: true };
    let svc: Service;
    try {
      svc = this.supervisor.add(opts);
    } catch (err) {
      return { t: 'setupFailed', side, msg: err instanceof SetupError ? err.message : `${label}: ${(err as Error).message}` };
    }
    e[side] = svc;
    this.owner.set(svc, e);
    return { t: 'started', side };
  }

  private onEnded(svc: Service): void {
    const e = this.owner.get(svc);
    if (!e) return;
    this.owner.delete(svc);
    const side = e.main === svc ? 'main' : e.log === svc ? 'log' : null;
    if (!side) return;
    e[side] = null;
    this.feed(e, { t: 'ended', side });
    if (this.stopping === 'wait') this.checkStopped();
  }

  // ------------------------------------------------------------------------------------- control, signals

  private onControlReadable(): void {
    if (this.ctlR < 0) return;
    const r = native().read(this.ctlR, this.ctlBuf, 0, this.ctlBuf.length);
    if (r <= 0) return;
    this.command(this.ctlBuf.toString('latin1', 0, r));
  }

  /** Process .s6-svscan/control letters, in order (z a b h i t q n N; others: a warning). */
  command(letters: string): void {
    for (const c of letters) {
      if (this.stopping === 'done') return;
      try {
        this.letter(c);
      } catch (e) {
        this.warn(`internal error handling control command ${c}: ${(e as Error).message}`);
      }
    }
  }

  private letter(c: string): void {
    switch (c) {
      case 'z':
        reapNow();
        return;
      case 'a':
        this.scan();
        return;
      case 'b':
        this.stop(false);
        return;
      case 'h':
        this.scan();
        this.killSupervisors(true, 'term', 'hup', 'hup');
        return;
      case 'n':
        this.killSupervisors(true, 'term', 'hup', 'hup');
        return;
      case 'N':
        this.killSupervisors(true, 'term', 'term', 'term');
        return;
      case 't':
      case 'i':
        this.killSupervisors(false, 'term', 'hup', 'hup');
        this.stop(true);
        return;
      case 'q':
        this.killSupervisors(false, 'term', 'term', 'term');
        this.stop(true);
        return;
      case SVSCAN_REEXEC:
        if (this.opts.onReexec) this.opts.onReexec();
        else this.warn('received R (re-exec), but this scanner cannot re-execute itself - ignored');
        return;
      default:
        this.warn(`received unknown control command: ${JSON.stringify(c).slice(1, -1)}`);
    }
  }

  /** "kill" supervisors: main / logger / s6-svscan-log get the given supervisor signal */
  private killSupervisors(inactiveOnly: boolean, mainSig: SupervisorSignal, logSig: SupervisorSignal, specialSig: SupervisorSignal): void {
    for (const e of [...this.entries.values()]) {
      if (inactiveOnly && e.rec.active) continue;
      if (e.main) this.supervisor.signal(e.main, e.rec.special ? specialSig : mainSig);
      if (e.log) this.supervisor.signal(e.log, logSig);
    }
  }

  /** A signal received by the scanner (§8.2). */
  signal(sig: NodeJS.Signals): void {
    if (this.stopping === 'done') return;
    try {
      if (this.opts.onSignal && this.opts.onSignal(sig)) return;
      if (sig === 'SIGALRM') return this.scan();
      if (sig === 'SIGABRT') return this.command('b');
      if (this.runSignalScript(sig)) return;
      switch (sig) {
        case 'SIGHUP':
          return this.command('h');
        case 'SIGINT':
        case 'SIGTERM':
          return this.command('t');
        case 'SIGQUIT':
          return this.command('q');
        default:
          return;
      }
    } catch (e) {
      this.warn(`internal error handling ${sig}: ${(e as Error).message}`);
    }
  }

  /** spawn .s6-svscan/SIGNAME (no args, cwd = scandir); true if it could be spawned */
  private runSignalScript(sig: NodeJS.Signals): boolean {
    const rel = `${SVSCAN_DIR}/${sig}`;
    const file = path.join(this.scandir, rel);
    try {
      const pid = native().spawn(file, [rel], envList(process.env), [0, 1, 2], { setsid: false, resetSignals: true, cwd: this.scandir });
      onExit(pid, () => {});
      return true;
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      if (x.code !== 'ENOENT') this.warn(`unable to spawn ${rel}: ${x.code} - using the default action`);
      return false;
    }
  }

  // ------------------------------------------------------------------------------------------------ stop

  private stop(wait: boolean): void {
    if (this.stopping === 'done') return;
    const first = this.stopping === '';
    this.stopping = wait ? 'wait' : 'done';
    if (first && this.opts.onStopping) {
      try {
        this.opts.onStopping();
      } catch (e) {
        this.warn(`onStopping: ${(e as Error).message}`);
      }
    }
    if (this.rescanTimer) this.supervisor.timers.cancel(this.rescanTimer);
    if (this.retryScanTimer) this.supervisor.timers.cancel(this.retryScanTimer);
    for (const e of [...this.entries.values()]) this.feed(e, { t: 'stop' });
    const n = native();
    let hasSpecial = false;
    for (const e of this.entries.values()) if (e.rec.special) hasSpecial = true;
    if (hasSpecial) {
      try {
        n.dup2(this.supervisor.devnull(), 1);
      } catch {
        /* keep going */
      }
    }
    if (this.opts.consoleFd !== undefined) {
      try {
        n.dup2(this.opts.consoleFd, 2);
        n.dup2(this.opts.consoleFd, 1);
      } catch {
        /* keep going */
      }
    }
    if (wait) this.checkStopped();
    else this.finish('finish');
  }

  private checkStopped(): void {
    if (this.stopping !== 'wait') return;
    for (const e of this.entries.values()) if (e.main || e.log) return;
    this.stopping = 'done';
    // let the `x` writes and status files settle before the image is replaced
    this.finish('finish');
  }

  private teardown(): void {
    for (const [s, h] of this.sigHandlers) process.removeListener(s, h);
    this.sigHandlers = [];
    if (this.ctlWatch) this.ctlWatch.stop();
    this.ctlWatch = null;
    closeQuiet(this.ctlR);
    this.ctlR = -1;
    this.supervisor.timers.cancel(this.rescanTimer);
    this.supervisor.timers.cancel(this.retryScanTimer);
    // every pending restart is dead too
    for (const e of [...this.entries.values()]) this.feed(e, { t: 'stop' });
  }

  private finish(how: StopHow): void {
    this.stopping = 'done';
    this.teardown();
    if (this.opts.onStopped) {
      closeQuiet(this.lockFd);
      this.lockFd = -1;
      this.opts.onStopped(how);
      return;
    }
    execStopScript(this.scandir, how, this.logLine);
  }

  /** one row per known service */
  services(): ServiceInfo[] {
    const side = (s: Service | null): SideInfo | null =>
      s ? { name: s.name, state: s.state, pid: s.status.pid, wantUp: s.status.wantUp, ready: s.status.ready } : null;
    return [...this.entries.values()].map((e) => ({
      name: e.rec.name, dir: e.rec.dir, active: e.rec.active, logged: e.rec.logged, main: side(e.main), log: side(e.log),
    }));
  }

  /** reaped pids nobody owned (orphans), for tests and status tools */
  orphansReaped(): number {
    return reaperStats().orphans;
  }
}

/**
 * exec .s6-svscan/finish (or crash) in place of this process: argv [".s6-svscan/finish"], cwd = scandir,
 * fds 0-2 kept. finish missing → exit 0; any other failure of finish → crash; crash failing → exit 111.
 */
export function execStopScript(scandir: string, how: StopHow, log: (line: string) => void = defaultLog): never {
  const n = native();
  let inDir = false;
  try {
    process.chdir(scandir);
    inDir = true;
  } catch {
    /* exec with absolute paths anyway */
  }
  // as s6-svscan: execve(".s6-svscan/finish") from the scan dir, so a script's $0 is .s6-svscan/finish
  const file = (rel: string) => (inDir ? rel : path.join(scandir, rel));
  for (const fd of [0, 1, 2]) {
    try {
      n.setCloexec(fd, false);
    } catch {
      /* closed */
    }
  }
  const env = envList(process.env);
  if (how === 'finish') {
    try {
      n.execve(file(SVSCAN_FINISH), [SVSCAN_FINISH], env);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') process.exit(0);
      log(`vigil: warning: unable to exec ${SVSCAN_FINISH}: ${code}`);
    }
  }
  try {
    n.execve(file(SVSCAN_CRASH), [SVSCAN_CRASH], env);
  } catch (e) {
    log(`vigil: fatal: unable to exec ${SVSCAN_CRASH}: ${(e as NodeJS.ErrnoException).code}`);
  }
  process.exit(111);
}

/** does path p still lead to the directory known as key (dev:ino)? */
function sameDir(p: string, key: string): boolean {
  try {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}` === key;
  } catch {
    return false;
  }
}
