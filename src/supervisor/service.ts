/**
 * One supervised service directory, with s6-supervise 2.11.3.2's semantics (s6-protocol.md §2–5).
 *
 * Shape: a plain object per service and ONE transition function, `step(ev)`. Every input — a reaped run or
 * finish, a control byte, the readiness line, the service's single deadline, a signal meant for "the
 * supervisor" — reaches the service as an Event queued on its Host (the Supervisor), which drains the queue
 * and calls step() one event at a time (queue then drain: step never calls step; follow-up events are posted).
 *
 *   state ×  event       start/timeout  runExit     finishExit   ready  ctl byte / term hup quit int
 *   DOWN                 trystart       -           -            -      §5.2 DOWN column; term/hup/int/quit: end
 *   UP                   SIGKILL (kill  → FINISH    -            U      §5.2; term: LASTUP + as d; hup: as x;
 *                        timer), +5 s                                   quit: end now; int: killpg INT + end
 *   FINISH               SIGCONT+KILL   -           → DOWN: D/OD -      term: LASTFINISH; hup: as x; ...
 *                        finish, +5 s                restart timer
 *   LASTUP               as UP          → LASTFIN.  -            U      term: as d; hup: stdio → /dev/null
 *   LASTFINISH           as FINISH      -           D, then end  -      term: nothing
 *
 * "Ending" (s6-supervise exiting) releases the lock, closes the control fifo, forgets the pids (a run left
 * behind by SIGQUIT becomes an orphan) and sends `x`. The status file is left as it was.
 *
 * Per service, when idle: this object, its status, three fds (lock, control read + write) and one uv_poll on
 * the control fifo. No timers (the Host's shared TimerQueue holds the one deadline when there is one), no
 * streams. Writes: status via status.new + rename on every change, then the event byte(s) to event/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CONTROL_FIFO, DOWN, EVENT_DIR, FINISH, LOCK_FILE, RUN, SERVICE_LOCK, SUPERVISE_DIR,
} from '../formats/paths';
import { SvStatus, writeStatus as writeStatusFile } from '../formats/status';
import { DeathRecord, readDtally, recordFromWstat, writeDtally } from '../formats/dtally';
import { ensureFifodir, notifyFifodir } from '../formats/fifodir';
import { tainNow, TAIN_ZERO } from '../formats/tai64n';
import {
  readDownSignal, readLockFd, readMaxDeathTally, readNotificationFd, readTimeoutFinish, readTimeoutKill,
} from '../formats/servicedir';
import { SVC_LETTER_SIGNALS } from '../formats/control';
import { native } from '../sys/native';
import { closeQuiet } from '../sys/fds';
import { exists, isDir } from '../sys/stat';
import { EAGAIN } from '../sys/errors';
import { NotAFifo, openControlFifo } from '../sys/fifo';
import { lockFile } from '../sys/lock';
import { SIGNALS as SIG } from '../sys/signals';
import { wexitstatus, wifexited, wtermsig } from '../sys/waitstatus';
import { onExit, forget } from '../sys/reaper';
import { FdWatch, watchReadable } from '../sys/fdwatch';
import { envList } from '../sys/spawn';
import { TimerHandle, TimerQueue } from './timers';

export enum State { DOWN = 'DOWN', UP = 'UP', FINISH = 'FINISH', LASTUP = 'LASTUP', LASTFINISH = 'LASTFINISH' }

/** What "the supervisor" receives as a signal in s6 (§5.3), as an in-process request. */
export type SupervisorSignal = 'term' | 'hup' | 'quit' | 'int';

export type Event =
  | { t: 'start' }
  | { t: 'timeout' }
  | { t: 'runExit'; status: number }
  | { t: 'finishExit'; status: number }
  | { t: 'ready' }
  | { t: 'notifEof' }
  | { t: 'ctl'; c: number }
  | { t: 'sig'; sig: SupervisorSignal };

/** What a Service needs from its owner (the Supervisor): the queue, the clock, where warnings go. */
export interface Host {
  post(svc: Service, ev: Event): void;
  readonly timers: TimerQueue;
  warn(svc: Service | null, msg: string): void;
  /** the service's supervision ended (lock released, `x` sent) */
  ended(svc: Service): void;
  /** an fd open on /dev/null, never closed */
  devnull(): number;
  /** the event bytes just sent to the service's event/ fifodir (s u U d D O x), status already written */
  announced?(svc: Service, events: string): void;
}

export interface ServiceOptions {
  /** absolute path of the service directory */
  dir: string;
  /** argv[1] of run and the last argument of finish (s6: `foo` or `foo/log`); default basename(dir) */
  name?: string;
  /** fds given to run and finish as 0/1/2 (default 0, 1, 2 of this process) */
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /**
   * true: stdin/stdout/stderr given here are dup'ed, and the copies belong to the service (closed when its
   * supervision ends or on `x`/SIGHUP, as s6-supervise's own fds 0/1 would be). Use it for log pipe ends the
   * caller also keeps, and as the hook for in-process logging: give the write end of a pipe as stdout and
   * feed what the read end yields to a logger engine.
   */
  dupStdio?: boolean;
}

export class SetupError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

const EXEC_RETRY_MS = 10000;
const FORK_RETRY_MS = 60000;
const KILL_REPEAT_MS = 5000;
const THROTTLE_MS = 1000;

const readBuf = Buffer.allocUnsafe(4096);
/** the shim accepts a relative file when cwd is given (checked once; else the absolute path is used) */
let relativeExecOk = true;

function errText(e: unknown): string {
  const x = e as NodeJS.ErrnoException & { stage?: string };
  if (x && typeof x.code === 'string') return `${x.code}${x.syscall ? ` (${x.syscall}${x.stage ? ` ${x.stage}` : ''})` : ''}`;
  return (e as Error)?.message ?? String(e);
}

function isUpState(s: State): boolean {
  return s === State.UP || s === State.LASTUP;
}
function isFinishState(s: State): boolean {
  return s === State.FINISH || s === State.LASTFINISH;
}

export class Service {
  /** the service directory (absolute; follows relocate()) */
  get dir(): string {
    return this.base;
  }
  readonly name: string;
  state: State = State.DOWN;
  status: SvStatus;
  runPid = 0;
  finishPid = 0;
  /** supervision ended (s6-supervise exited) */
  done = false;

  private lockFd = -1;
  private ctlR = -1;
  private ctlWatch: FdWatch | null = null;
  private notifFd = -1;
  private notifWatch: FdWatch | null = null;
  private deadline: TimerHandle | null = null;
  /** monotonic ms when this run reported readiness (undefined: it did not) */
  private readyAt: number | undefined = undefined;
  private stdio: [number, number, number];
  private owned: number[] = [];

  constructor(private readonly host: Host, opts: ServiceOptions) {
    this.base = opts.dir;
    this.name = opts.name ?? path.basename(opts.dir);
    this.status = {
      stamp: TAIN_ZERO, readyStamp: TAIN_ZERO, pid: 0, wstat: 0, paused: false, finishing: false, wantUp: false, ready: false,
    };
    const n = native();
    const fds: [number, number, number] = [opts.stdin ?? 0, opts.stdout ?? 1, opts.stderr ?? 2];
    if (opts.dupStdio) {
      for (let i = 0; i < 3; i++) {
        const given = [opts.stdin, opts.stdout, opts.stderr][i];
        if (given !== undefined) {
          fds[i] = n.dupCloexec(given, 3);
          this.owned.push(fds[i]);
        }
      }
    }
    this.stdio = fds;
  }

  /** where files are reached (the scanner moves it with relocate() when the dir was renamed) */
  private base: string;

  private p(rel: string): string {
    return path.join(this.base, rel);
  }

  /** the directory's current path */
  currentPath(): string {
    return this.base;
  }

  /**
   * The directory was renamed (same dev+ino under a new name): reach it there from now on. s6-supervise
   * follows a rename at once through its cwd; vigil keeps no fd on the dir (2 fds per service: lock and
   * control), so the scanner calls this when a scan finds the new name.
   */
  relocate(dir: string): void {
    this.base = dir;
  }

  /** spawn ./PROG in the service dir; returns pid or throws the shim's error */
  private spawnHere(prog: string, argv: string[], fdmap: Array<number | null>): number {
    const cwd = this.currentPath();
    if (!isDir(cwd)) {
      const e = new Error('the service directory was removed') as NodeJS.ErrnoException & { stage?: string; detail?: string };
      e.detail = 'the service directory was removed';
      e.code = 'ENOENT';
      e.syscall = 'spawn';
      e.stage = 'chdir';
      throw e;
    }
    const n = native();
    const opts = { setsid: true, resetSignals: true, cwd };
    if (relativeExecOk) {
      try {
        // as s6: execve("./run") in the service dir, so a script's $0 is ./run
        return n.spawn(`./${prog}`, argv, childEnv(), fdmap, opts);
      } catch (e) {
        if (!(e instanceof TypeError)) throw e;
        relativeExecOk = false;
      }
    }
    return n.spawn(path.join(cwd, prog), argv, childEnv(), fdmap, opts);
  }

  /**
   * Take the directory (s6-supervise's start-up, §3.1 order): event/, supervise/ (0700), lock (0644, OFD write
   * lock; held → SetupError exit 100), control fifo (0600; not a fifo → exit 100), death_tally truncated,
   * `down` checked once, status written, `s` sent. Then the first start is queued.
   */
  open(): void {
    try {
      this.openInner();
    } catch (e) {
      this.closeFds();
      if (e instanceof SetupError) {
        throw e.message.startsWith(`${this.name}: `) ? e : new SetupError(`${this.name}: ${e.message}`, e.exitCode);
      }
      throw new SetupError(`${this.name}: unable to set up supervision: ${(e as Error).message}`, 111);
    }
    this.heldFds = 2 + this.owned.length;
    this.host.post(this, { t: 'start' });
  }

  /** fds this supervision keeps open while idle (lock, control fifo, own stdio copies) */
  heldFds = 0;

  private openInner(): void {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.dir);
    } catch (e) {
      throw new SetupError(`${this.name}: unable to stat the service directory: ${errText(e)}`, 111);
    }
    if (!st.isDirectory()) throw new SetupError(`${this.name}: ${this.dir} is not a directory`, 100);
    try {
      fs.accessSync(this.dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
    } catch (e) {
      throw new SetupError(`${this.name}: the service directory is not accessible: ${errText(e)}`, 111);
    }
    mkdirFollowing(this.p(EVENT_DIR), 0o3730, true);
    mkdirFollowing(this.p(SUPERVISE_DIR), 0o700, false);
    const fd = lockFile(this.p(LOCK_FILE), 'exclusive', { fileMode: 0o644 });
    if (fd === 'busy') {
      throw new SetupError(
        `${this.name}: another supervisor (s6-supervise or vigil) already holds ${LOCK_FILE} - not supervising it`, 100);
    }
    this.lockFd = fd;
    try {
      this.ctlR = openControlFifo(this.p(CONTROL_FIFO));
    } catch (e) {
      if (!(e instanceof NotAFifo)) throw e;
      throw new SetupError(`${this.name}: ${CONTROL_FIFO} exists and ${e.dangling ? 'is a dangling symlink' : 'is not a fifo'}`, 100);
    }
    this.ctlWatch = watchReadable(this.ctlR, () => this.onControlReadable());
    writeDtally(this.base, []);
    const now = tainNow();
    const s = this.status;
    s.stamp = now;
    s.readyStamp = now;
    s.wantUp = !exists(this.p(DOWN));
    s.ready = true;
    // the first status must land (a supervisor nobody can read is no use): failing here fails the set-up
    writeStatusFile(this.base, s);
    this.announce('s');
  }

  /** the single transition function; called only by the Host's drain loop */
  step(ev: Event): void {
    if (this.done) return;
    switch (ev.t) {
      case 'start':
        if (this.state === State.DOWN && this.status.wantUp) this.trystart();
        return;
      case 'timeout':
        this.deadline = null;
        return this.onTimeout();
      case 'runExit':
        if (isUpState(this.state)) this.runDied(ev.status);
        return;
      case 'finishExit':
        if (isFinishState(this.state)) this.finishDied(ev.status);
        return;
      case 'ready':
        if (isUpState(this.state) && !this.status.ready) {
          this.closeNotif();
          this.status.ready = true;
          this.status.readyStamp = tainNow();
          this.readyAt = this.host.timers.now();
          this.persist();
          this.announce('U');
        }
        return;
      case 'notifEof':
        this.closeNotif();
        return;
      case 'ctl':
        return this.control(String.fromCharCode(ev.c));
      case 'sig':
        return this.signal(ev.sig);
    }
  }

  // ---------------------------------------------------------------------------------------------- inputs

  private onTimeout(): void {
    switch (this.state) {
      case State.DOWN:
        this.trystart();
        return;
      case State.UP:
      case State.LASTUP:
        if (this.runPid) {
          native().kill(this.runPid, SIG.KILL);
          this.setDeadline(KILL_REPEAT_MS);
        }
        return;
      case State.FINISH:
      case State.LASTFINISH:
        if (this.finishPid) {
          native().kill(this.finishPid, SIG.CONT);
          native().kill(this.finishPid, SIG.KILL);
          this.warn('finish script lifetime reached maximum value - sending it a SIGKILL');
          this.setDeadline(KILL_REPEAT_MS);
        }
        return;
    }
  }

  private control(c: string): void {
    const st = this.state;
    const up = isUpState(st);
    const sig = SVC_LETTER_SIGNALS[c];
    if (sig !== undefined) {
      if (up) native().kill(this.runPid, sig);
      return;
    }
    switch (c) {
      case 'p':
        if (up) {
          native().kill(this.runPid, SIG.STOP);
          this.status.paused = true;
          this.persist();
        }
        return;
      case 'c':
        if (up) {
          native().kill(this.runPid, SIG.CONT);
          this.status.paused = false;
          this.persist();
        }
        return;
      case 'r':
        if (up) native().kill(this.runPid, this.downSignal());
        return;
      case 'o':
        this.status.wantUp = false;
        this.persist();
        if (st === State.DOWN) this.trystart();
        return;
      case 'd':
        return this.wantDown();
      case 'u':
        this.status.wantUp = true;
        this.persist();
        if (st === State.DOWN) this.trystart();
        return;
      case 'D':
        this.downFile(true);
        return this.wantDown();
      case 'U':
        this.downFile(false);
        this.status.wantUp = true;
        this.persist();
        if (st === State.DOWN) this.trystart();
        return;
      case 'O':
        this.status.wantUp = false;
        if (st === State.DOWN) this.clearDeadline();
        this.persist();
        return;
      case 'Q':
        this.downFile(true);
        this.status.wantUp = false;
        if (st === State.DOWN) this.clearDeadline();
        this.persist();
        return;
      case 'x':
        return this.lastCycle();
      default:
        return; // unknown bytes are ignored
    }
  }

  /** `d`: want down; when up, send the down-signal + SIGCONT and start the timeout-kill timer */
  private wantDown(): void {
    this.status.wantUp = false;
    if (isUpState(this.state)) {
      native().kill(this.runPid, this.downSignal());
      native().kill(this.runPid, SIG.CONT);
      this.status.paused = false;
      const tk = readTimeoutKill(this.base, this.name, (l) => this.host.warn(null, l));
      if (tk > 0) this.setDeadline(tk);
    } else if (this.state === State.DOWN) {
      this.clearDeadline();
    }
    this.persist();
  }

  /** `x`: end supervision once the current cycle is over (DOWN: at once) */
  private lastCycle(): void {
    switch (this.state) {
      case State.DOWN:
        return this.end('x');
      case State.UP:
        this.state = State.LASTUP;
        break;
      case State.FINISH:
        this.state = State.LASTFINISH;
        break;
      default:
        break;
    }
    this.stdioToDevnull();
  }

  private signal(sig: SupervisorSignal): void {
    const st = this.state;
    if (sig === 'quit') return this.end('quit');
    if (st === State.DOWN) return this.end(sig);
    switch (sig) {
      case 'term':
        if (st === State.UP) {
          this.state = State.LASTUP;
          return this.wantDown();
        }
        if (st === State.LASTUP) return this.wantDown();
        if (st === State.FINISH) {
          this.state = State.LASTFINISH;
          this.stdioToDevnull();
        }
        return;
      case 'hup':
        return this.lastCycle();
      case 'int': {
        const pid = isUpState(st) ? this.runPid : this.finishPid;
        if (pid > 0) native().kill(-pid, SIG.INT);
        return this.end('int');
      }
    }
  }

  // ------------------------------------------------------------------------------------------- actions

  private trystart(): void {
    this.clearDeadline();
    const n = native();
    const warn = (l: string) => this.host.warn(null, l);
    const nfd = readNotificationFd(this.base, this.name, warn);
    const lfd = readLockFd(this.base, this.name, warn);
    if (nfd !== undefined && lfd !== undefined && nfd === lfd) {
      this.warn('notification-fd and lock-fd are the same - not starting the service');
      return;
    }
    let notifR = -1;
    let notifW = -1;
    let lockDesc = -1;
    const fdmap: Array<number | null> = [this.stdio[0], this.stdio[1], this.stdio[2]];
    const place = (target: number, fd: number) => {
      while (fdmap.length <= target) fdmap.push(null);
      fdmap[target] = fd;
    };
    try {
      if (nfd !== undefined) {
        [notifR, notifW] = n.pipe(false);
        n.setNonblock(notifR, true);
        place(nfd, notifW);
      }
      if (lfd !== undefined) {
        const lp = this.p(SERVICE_LOCK);
        lockDesc = fs.openSync(lp, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
        if (!n.lock(lockDesc, true, true)) {
          closeQuiet(lockDesc);
          lockDesc = -1;
          closeQuiet(notifR);
          closeQuiet(notifW);
          this.warn(`${SERVICE_LOCK} is held by another process - waiting 1 second`);
          this.setDeadline(THROTTLE_MS);
          return;
        }
        place(lfd, lockDesc);
      }
    } catch (e) {
      closeQuiet(notifR);
      closeQuiet(notifW);
      closeQuiet(lockDesc);
      this.warn(`unable to prepare the service's fds: ${errText(e)} - waiting 60 seconds`);
      this.setDeadline(FORK_RETRY_MS);
      return;
    }
    let pid: number;
    try {
      pid = this.spawnHere(RUN, ['run', this.name], fdmap);
    } catch (e) {
      closeQuiet(notifR);
      closeQuiet(notifW);
      closeQuiet(lockDesc);
      const x = e as NodeJS.ErrnoException;
      if (x.syscall === 'spawn') {
        this.warn(`unable to spawn ./run - waiting 10 seconds: ${describeSpawnError(x)}`);
        this.setDeadline(EXEC_RETRY_MS);
      } else {
        this.warn(`unable to fork: ${errText(e)} - waiting 60 seconds`);
        this.setDeadline(FORK_RETRY_MS);
      }
      return;
    }
    onExit(pid, (status) => this.host.post(this, { t: 'runExit', status }));
    closeQuiet(notifW);
    closeQuiet(lockDesc);
    this.runPid = pid;
    this.readyAt = undefined;
    if (notifR >= 0) {
      this.notifFd = notifR;
      this.notifWatch = watchReadable(notifR, () => this.onNotifReadable());
    }
    this.state = State.UP;
    const s = this.status;
    s.pid = pid;
    s.stamp = tainNow();
    s.ready = false;
    s.paused = false;
    s.finishing = false;
    this.persist();
    this.announce('u');
  }

  /** run died (UP/LASTUP): status, death tally, finish (§5.5) */
  private runDied(wstat: number): void {
    this.clearDeadline();
    this.closeNotif();
    this.runPid = 0;
    const s = this.status;
    s.wstat = wstat & 0xffff;
    s.ready = false;
    s.paused = false;
    s.stamp = tainNow();
    s.pid = 0;
    this.state = this.state === State.LASTUP ? State.LASTFINISH : State.FINISH;
    this.recordDeath(wstat);
    const sig = wifexited(wstat) ? 0 : wtermsig(wstat);
    const a1 = sig === 0 ? String(wexitstatus(wstat)) : '256';
    const a2 = String(sig);
    let pid: number;
    try {
      // no finish: the same outcome as s6's forked child whose exec fails (exit 127), without a fork
      if (!exists(this.p(FINISH))) throw finishMissing();
      pid = this.spawnHere(FINISH, ['finish', a1, a2, this.name], [this.stdio[0], this.stdio[1], this.stdio[2]]);
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      if (x.syscall === 'spawn') {
        // like a forked child whose exec failed: finish "exited 127"
        if (x.code !== 'ENOENT') this.warn(`unable to spawn ./finish: ${describeSpawnError(x)}`);
        s.finishing = true;
        this.persist();
        this.announce('d');
        this.host.post(this, { t: 'finishExit', status: 127 << 8 });
        return;
      }
      this.warn(`unable to fork for finish: ${errText(e)}`);
      s.finishing = false;
      this.downAndReady('dD');
      return;
    }
    onExit(pid, (status) => this.host.post(this, { t: 'finishExit', status }));
    this.finishPid = pid;
    s.pid = pid;
    s.finishing = true;
    this.persist();
    this.announce('d');
    const tf = readTimeoutFinish(this.base, this.name, (l) => this.host.warn(null, l));
    if (tf > 0) this.setDeadline(tf);
  }

  private finishDied(wstat: number): void {
    this.clearDeadline();
    this.finishPid = 0;
    const permanent = wifexited(wstat) && wexitstatus(wstat) === 125;
    if (permanent) this.status.wantUp = false;
    this.downAndReady(permanent ? 'OD' : 'D');
  }

  /** end of a cycle: pid 0, ready, then restart timer (DOWN) or end of supervision (LASTFINISH) */
  private downAndReady(ev: string): void {
    const s = this.status;
    s.pid = 0;
    s.finishing = false;
    s.ready = true;
    s.readyStamp = tainNow();
    const last = this.state === State.LASTFINISH;
    this.state = State.DOWN;
    this.persist();
    this.announce(ev);
    if (last) return this.end('x');
    if (s.wantUp) {
      const now = this.host.timers.now();
      const at = this.readyAt !== undefined ? Math.max(now, this.readyAt + THROTTLE_MS) : now + THROTTLE_MS;
      this.deadline = this.host.timers.at(at, () => this.host.post(this, { t: 'timeout' }));
    }
  }

  private recordDeath(wstat: number): void {
    const warn = (l: string) => this.host.warn(null, l);
    const max = readMaxDeathTally(this.base, this.name, warn);
    if (max === 0) return;
    try {
      const recs: DeathRecord[] = readDtally(this.base);
      recs.push(recordFromWstat(this.status.stamp, wstat));
      writeDtally(this.base, recs.length > max ? recs.slice(recs.length - max) : recs);
    } catch (e) {
      this.warn(`unable to update supervise/death_tally: ${errText(e)}`);
    }
  }

  /** End supervision (s6-supervise exits): lock released before `x` goes out, so listeners see it free. */
  end(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.clearDeadline();
    if (this.runPid) forget(this.runPid);
    if (this.finishPid) forget(this.finishPid);
    this.closeNotif();
    this.closeFds();
    this.announce('x');
    this.host.ended(this);
  }

  // ----------------------------------------------------------------------------------------------- helpers

  private downSignal(): number {
    return readDownSignal(this.base, this.name, (l) => this.host.warn(null, l)) ?? SIG.TERM;
  }

  private downFile(create: boolean): void {
    const p = this.p(DOWN);
    try {
      if (create) fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644));
      else fs.unlinkSync(p);
    } catch (e) {
      if (!create && (e as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.warn(`unable to ${create ? 'create' : 'remove'} ${DOWN}: ${errText(e)}`);
    }
  }

  private stdioToDevnull(): void {
    const nul = this.host.devnull();
    this.stdio[0] = nul;
    this.stdio[1] = nul;
    for (const fd of this.owned) if (fd !== this.stdio[2]) closeQuiet(fd);
    this.owned = this.owned.filter((fd) => fd === this.stdio[2]);
  }

  private setDeadline(ms: number): void {
    this.clearDeadline();
    this.deadline = this.host.timers.after(ms, () => this.host.post(this, { t: 'timeout' }));
  }

  private clearDeadline(): void {
    if (this.deadline) {
      this.host.timers.cancel(this.deadline);
      this.deadline = null;
    }
  }

  private persist(): void {
    try {
      writeStatusFile(this.base, this.status);
    } catch (e) {
      this.warn(`unable to write supervise/status: ${errText(e)}`);
    }
  }

  private announce(bytes: string): void {
    notifyFifodir(this.p(EVENT_DIR), bytes);
    this.host.announced?.(this, bytes);
  }

  private warn(msg: string): void {
    this.host.warn(this, msg);
  }

  private onControlReadable(): void {
    if (this.ctlR < 0) return;
    const r = native().read(this.ctlR, readBuf, 0, readBuf.length);
    if (r <= 0) return; // EAGAIN, or (never, we hold a writer) EOF
    for (let i = 0; i < r; i++) this.host.post(this, { t: 'ctl', c: readBuf[i] });
  }

  private onNotifReadable(): void {
    const fd = this.notifFd;
    if (fd < 0) return;
    const buf = Buffer.allocUnsafe(512);
    const r = native().read(fd, buf, 0, 512);
    if (r === 0) {
      this.stopNotifWatch();
      this.host.post(this, { t: 'notifEof' });
    } else if (r > 0) {
      if (buf.subarray(0, r).includes(10)) {
        this.stopNotifWatch();
        this.host.post(this, { t: 'ready' });
      }
    } else if (r !== -EAGAIN) {
      this.stopNotifWatch();
      this.host.post(this, { t: 'notifEof' });
    }
  }

  private stopNotifWatch(): void {
    if (this.notifWatch) {
      this.notifWatch.stop();
      this.notifWatch = null;
    }
  }

  private closeNotif(): void {
    this.stopNotifWatch();
    if (this.notifFd >= 0) {
      closeQuiet(this.notifFd);
      this.notifFd = -1;
    }
  }

  private closeFds(): void {
    if (this.ctlWatch) {
      this.ctlWatch.stop();
      this.ctlWatch = null;
    }
    for (const fd of [this.ctlR, this.lockFd]) closeQuiet(fd);
    this.ctlR = this.lockFd = -1;

    for (const fd of this.owned) closeQuiet(fd);
    this.owned = [];
    this.stdio = [-1, -1, -1];
  }
}

function describeSpawnError(x: NodeJS.ErrnoException & { stage?: string; detail?: string }): string {
  const stage = x.stage ? ` (${x.stage})` : '';
  if (x.detail) return `${x.code}${stage}: ${x.detail}`;
  if (x.code === 'ENOENT' && (x.stage === 'execve' || !x.stage)) return `ENOENT${stage}: no such file, or a missing interpreter`;
  if (x.code === 'EACCES' && x.stage === 'execve') return `EACCES${stage}: not executable`;
  return `${x.code}${stage}`;
}

function finishMissing(): Error {
  const e = new Error('no finish') as NodeJS.ErrnoException & { stage?: string };
  e.code = 'ENOENT';
  e.syscall = 'spawn';
  e.stage = 'execve';
  return e;
}

/** the environment given to run and finish: this process's, taken once (s6-supervise's is fixed too) */
let envCache: string[] | null = null;
function childEnv(): string[] {
  if (!envCache) envCache = envList(process.env);
  return envCache;
}




/**
 * mkdir with s6's rules: made with exactly `mode` (umask ignored); an existing dir is kept as it is; a
 * dangling symlink gets its target created.
 */
function mkdirFollowing(p: string, mode: number, fifodir: boolean): void {
  try {
    if (fifodir) ensureFifodir(p);
    else {
      fs.mkdirSync(p);
      fs.chmodSync(p, mode);
    }
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(p);
  } catch {
    st = null;
  }
  if (st) {
    if (!st.isDirectory()) throw new SetupError(`${p} exists and is not a directory`, 100);
    return;
  }
  const target = path.resolve(path.dirname(p), fs.readlinkSync(p));
  fs.mkdirSync(target);
  fs.chmodSync(target, mode);
}
