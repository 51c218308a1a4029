/**
 * One supervised service directory: the executor of machine.ts's step machine over the world of world.ts.
 *
 * A Service holds its ServiceRecord (the whole state, serialisable) plus what cannot be serialised: the
 * uv_poll watchers on its fds and its handle in the shared timer queue. `step(ev)` is its only entry point,
 * called by the Host's drain loop (queue then drain: nothing here calls step): it runs the machine, then
 * carries out the effects in order. An effect that spawns produces a result event (spawned, spawnFailed...)
 * which is fed to the machine at once, before anything else can come in. After each step the one deadline
 * of the record is mirrored into the timer queue; a deadline already due is posted as a `timeout` event
 * straight away (no timer turn: a service ready for a second restarts without waiting for the loop).
 *
 * Per service, when idle: the record, three fds (lock, control, plus its own stdio copies) and one uv_poll
 * on the control fifo. No timer, no stream. While run is a process adopted from a supervisor that died
 * (machine.ts, Adoption), also its pidfd and a uv_poll on it: the pidfd turns readable once run exits,
 * which is posted as `gone` (run is not our child: the reaper never sees it). `snapshot()` returns the record; `Service.restore()` takes one
 * back (re-watching its fds, re-arming its deadline, re-registering its pids with the reaper): how a
 * supervisor that re-executes itself would carry its services across execve.
 */
import * as path from 'node:path';
import { FINISH, RUN } from '../formats/paths';
import { sameStatus, SvStatus } from '../formats/status';
import {
  Effect, Event, HeldFds, initialRecord, Query, runPid, finishPid, ServiceRecord, start, State, step as transition,
  SupervisorSignal,
} from './machine';
import { errText, SetupError, SpawnError, World } from './world';
import { EAGAIN } from '../sys/errors';

export { SetupError, State };
export type { Event, SupervisorSignal, ServiceRecord };

/** What a Service needs from its owner (the Supervisor): the world, the queue, where warnings go. */
export interface Host {
  readonly world: World;
  post(svc: Service, ev: Event): void;
  warn(svc: Service | null, msg: string): void;
  /** bytes just announced on the service's event/ (after the status file was written) */
  announced(svc: Service, bytes: string): void;
  /** the service's supervision ended (lock released, `x` sent) */
  ended(svc: Service): void;
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

const readBuf = Buffer.allocUnsafe(512);

function describeSpawnError(x: SpawnError): string {
  const stage = x.stage ? ` (${x.stage})` : '';
  if (x.detail) return `${x.code}${stage}: ${x.detail}`;
  if (x.code === 'ENOENT' && (x.stage === 'execve' || !x.stage)) return `ENOENT${stage}: no such file, or a missing interpreter`;
  if (x.code === 'EACCES' && x.stage === 'execve') return `EACCES${stage}: not executable`;
  return `${x.code}${stage}`;
}

export class Service {
  private rec: ServiceRecord;
  private ctlWatch: { stop(): void } | null = null;
  /** uv_poll watchers on the readiness pipe and on the adopted run's pidfd (the fds are in rec.fds) */
  private watches: Record<'notify' | 'pidfd', { stop(): void } | null> = { notify: null, pidfd: null };
  private timer: { when: number; cancelled: boolean } | null = null;
  /** a `timeout` for this deadline is already queued (a due deadline is posted, not timed) */
  private duePosted: number | null = null;
  /** fds this supervision keeps open while idle (lock, control fifo, own stdio copies; an adopted run's pidfd) */
  heldFds = 0;
  /**
   * what this supervision last wrote to supervise/status (null: not known, after a failed write or a
   * re-exec): a write of the same content is skipped (machine.ts, coalesce). Nobody else writes the file
   * while the lock is held; a status file someone deletes comes back at the next change.
   */
  private written: SvStatus | null = null;

  constructor(private readonly host: Host, opts: ServiceOptions) {
    const sys = host.world.sys;
    const given = [opts.stdin, opts.stdout, opts.stderr];
    const stdio: [number, number, number] = [opts.stdin ?? 0, opts.stdout ?? 1, opts.stderr ?? 2];
    const owned: number[] = [];
    if (opts.dupStdio) {
      for (let i = 0; i < 3; i++) {
        if (given[i] !== undefined) {
          stdio[i] = sys.dup(given[i] as number);
          owned.push(stdio[i]);
        }
      }
    }
    const fds: HeldFds = { lock: -1, control: -1, notify: -1, stdio, owned, pidfd: -1 };
    this.rec = initialRecord(opts.name ?? path.basename(opts.dir), opts.dir, fds);
  }

  // ------------------------------------------------------------------------------------------- views

  get name(): string {
    return this.rec.name;
  }
  /** the service directory (absolute; follows relocate()) */
  get dir(): string {
    return this.rec.dir;
  }
  get state(): State {
    return this.rec.state;
  }
  get status(): Readonly<SvStatus> {
    return this.rec.status;
  }
  get runPid(): number {
    return runPid(this.rec);
  }
  get finishPid(): number {
    return finishPid(this.rec);
  }
  /** supervision ended (s6-supervise exited) */
  get done(): boolean {
    return this.rec.state === State.ENDED;
  }
  /** the directory's current path */
  currentPath(): string {
    return this.rec.dir;
  }

  /**
   * The directory was renamed (same dev+ino under a new name): reach it there from now on. s6-supervise
   * follows a rename at once through its cwd; vigil keeps no fd on the dir, so the scanner calls this when
   * a scan finds the new name.
   */
  relocate(dir: string): void {
    this.rec.dir = dir;
  }

  /** the whole state, as a plain record (a deep copy: a saved record does not move) */
  snapshot(): ServiceRecord {
    return structuredClone(this.rec);
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /**
   * Take the directory (s6-supervise's start-up, §3.1 order): event/, supervise/ (0700), lock (OFD write
   * lock; held → SetupError 100), control fifo (not a fifo → 100), death_tally truncated, `down` checked
   * once, status written, `s` sent. The first start follows at once if the service is wanted up. Between the
   * lock and the status: the run a killed predecessor left running, if any, is looked for and adopted.
   */
  open(): void {
    const sys = this.host.world.sys;
    let taken: { lock: number; control: number; down: boolean };
    try {
      taken = sys.takeDir(this.rec.dir, this.rec.name);
    } catch (e) {
      this.closeOwned();
      throw e;
    }
    this.rec.fds.lock = taken.lock;
    this.rec.fds.control = taken.control;
    this.heldFds = 2 + this.rec.fds.owned.length;
    this.ctlWatch = sys.watch(taken.control, () => this.onControlReadable());
    // the lock is ours, so whoever wrote supervise/vigil-run is gone: is its run still running?
    const left = sys.findRun(this.rec.dir);
    if (left && left.found.adopt && left.found.child) {
      // our own child (a cold re-exec): the reaper tells us how it ends (it holds reaping until we are back)
      const pid = left.found.pid;
      sys.onExit(pid, (wstat) => this.host.post(this, { t: 'exit', pid, wstat }));
    } else if (left && left.pidfd >= 0) {
      this.watchPidfd(left.pidfd, left.found.pid);
      // counted for the whole supervision (the Supervisor's fd budget adds and removes heldFds once): an
      // over-estimate by one once the adopted run is gone, never an under-estimate
      this.heldFds++;
    }
    let first;
    try {
      first = start(this.rec, taken.down, this.query(), left ? left.found : null);
      this.rec = first.record;
      // the first status must land (a supervisor nobody can read is no use): failing here fails the set-up
      const st = first.effects[0].t === 'persist' ? first.effects[0].status : this.rec.status;
      sys.writeStatus(this.rec.dir, st);
      this.written = { ...st };
    } catch (e) {
      this.ctlWatch.stop();
      this.ctlWatch = null;
      this.closeHeld('pidfd');
      sys.close(taken.control);
      sys.close(taken.lock);
      this.closeOwned();
      throw new SetupError(`${this.rec.name}: unable to write the status file: ${errText(e)}`, 111);
    }
    this.run(first.effects.slice(1));
    this.syncDeadline();
  }

  /**
   * Take a service back from a saved record (the lock and control fds still open in this process, its
   * pids still our children): watch its fds, register its pids with the reaper, re-arm its deadline.
   */
  static restore(host: Host, rec: ServiceRecord): Service {
    const svc = Object.create(Service.prototype) as Service;
    Object.assign(svc, {
      host, rec: structuredClone(rec), ctlWatch: null, watches: { notify: null, pidfd: null }, timer: null, written: null,
      heldFds: 2 + rec.fds.owned.length + (rec.fds.pidfd >= 0 ? 1 : 0),
    });
    const sys = host.world.sys;
    if (rec.state !== State.ENDED) {
      svc.ctlWatch = sys.watch(rec.fds.control, () => svc.onControlReadable());
      if (rec.fds.notify >= 0) svc.watches.notify = sys.watch(rec.fds.notify, () => svc.onNotifyReadable());
      const pid = rec.status.pid;
      if (rec.adopted) svc.watchPidfd(rec.fds.pidfd, pid);
      else if (pid > 0 && rec.state !== State.DOWN) sys.onExit(pid, (wstat) => host.post(svc, { t: 'exit', pid, wstat }));
      svc.syncDeadline();
    }
    return svc;
  }

  /**
   * Drop this process's handles on the service (fd watchers, the timer) and leave everything else as it
   * is: fds open, pids running, the record unchanged. What happens to them at an execve that carries the
   * record to a new image, where Service.restore() takes over.
   */
  detach(): void {
    this.ctlWatch?.stop();
    this.ctlWatch = null;
    this.stopWatch('notify');
    this.stopWatch('pidfd');
    if (this.timer) this.host.world.timers.cancel(this.timer);
    this.timer = null;
  }

  /** The step: the machine, then its effects; result events go straight back in. Called by the Host only. */
  step(ev: Event): void {
    if (ev.t === 'timeout') this.duePosted = null;
    let next: Event | null = ev;
    while (next) {
      const out = transition(this.rec, next, this.query());
      this.rec = out.record;
      next = this.run(out.effects);
    }
    this.syncDeadline();
  }

  private query(): Query {
    const { clock, sys } = this.host.world;
    return {
      now: () => clock.now(),
      wall: () => clock.wall(),
      config: sys.config(this.rec.dir, this.rec.name, (l) => this.host.warn(null, l)),
      runAlive: (run) => sys.runAlive(run),
    };
  }

  /** the deadline of the record, mirrored into the shared timer queue */
  private syncDeadline(): void {
    const d = this.rec.deadline;
    const timers = this.host.world.timers;
    if (this.timer && !this.timer.cancelled && this.timer.when === d) return;
    if (this.timer) {
      timers.cancel(this.timer);
      this.timer = null;
    }
    if (d === null) return;
    if (d <= timers.now()) {
      if (this.duePosted === d) return;
      this.duePosted = d;
      this.host.post(this, { t: 'timeout' });
      return;
    }
    this.timer = timers.at(d, () => {
      this.timer = null;
      this.host.post(this, { t: 'timeout' });
    });
  }

  // ------------------------------------------------------------------------------------------ effects

  /** carry out effects in order; returns the result event of a spawn, if one was asked for */
  private run(effects: Effect[]): Event | null {
    let result: Event | null = null;
    for (const fx of effects) {
      const r = this.effect(fx);
      if (r) result = r;
    }
    return result;
  }

  private effect(fx: Effect): Event | null {
    const sys = this.host.world.sys;
    const dir = this.rec.dir;
    switch (fx.t) {
      case 'persist':
        if (this.written !== null && sameStatus(this.written, fx.status)) return null;
        try {
          sys.writeStatus(dir, fx.status);
          this.written = { ...fx.status };
        } catch (e) {
          this.written = null;
          this.warn(`unable to write supervise/status: ${errText(e)}`);
        }
        return null;
      case 'announce':
        sys.notify(dir, fx.bytes);
        this.host.announced(this, fx.bytes);
        return null;
      case 'spawnRun':
        return this.spawnRun(fx.notificationFd, fx.lockFd);
      case 'spawnFinish':
        return this.spawnFinish(fx.args);
      case 'kill':
        if (fx.pidfd && this.rec.fds.pidfd >= 0) sys.pidfdKill(this.rec.fds.pidfd, fx.sig); // ESRCH: gone, `gone` follows
        else if (fx.pid !== 0) sys.kill(fx.pid, fx.sig);
        return null;
      case 'recordRun':
        try {
          sys.recordRun(dir, fx.pid, fx.kind);
        } catch (e) {
          this.warn(`unable to write supervise/vigil-run: ${errText(e)}`);
        }
        return null;
      case 'closePidfd':
        this.closeHeld('pidfd');
        return null;
      case 'recordDeath':
        try {
          sys.recordDeath(dir, fx.stamp, fx.wstat, fx.max);
        } catch (e) {
          this.warn(`unable to update supervise/death_tally: ${errText(e)}`);
        }
        return null;
      case 'downFile':
        try {
          sys.downFile(dir, fx.present);
        } catch (e) {
          this.warn(`unable to ${fx.present ? 'create' : 'remove'} ./down: ${errText(e)}`);
        }
        return null;
      case 'stdioToNull': {
        const fds = this.rec.fds;
        const nul = sys.devnull();
        const keep = fds.stdio[2];
        for (const fd of fds.owned) if (fd !== keep) sys.close(fd);
        fds.owned = fds.owned.filter((fd) => fd === keep);
        fds.stdio = [nul, nul, keep];
        return null;
      }
      case 'closeNotify':
        this.closeHeld('notify');
        return null;
      case 'warn':
        this.warn(fx.msg);
        return null;
      case 'release': {
        for (const pid of fx.pids) sys.forget(pid);
        this.closeHeld('notify');
        this.closeHeld('pidfd');
        if (this.ctlWatch) {
          this.ctlWatch.stop();
          this.ctlWatch = null;
        }
        const fds = this.rec.fds;
        sys.close(fds.control);
        sys.close(fds.lock);
        fds.control = fds.lock = -1;
        this.closeOwned();
        return null;
      }
      case 'ended':
        this.host.ended(this);
        return null;
      default: {
        const never: never = fx;
        throw new Error(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  }

  private spawnRun(nfd: number | undefined, lfd: number | undefined): Event {
    const sys = this.host.world.sys;
    const fds = this.rec.fds;
    const fdmap: Array<number | null> = [fds.stdio[0], fds.stdio[1], fds.stdio[2]];
    const place = (target: number, fd: number) => {
      while (fdmap.length <= target) fdmap.push(null);
      fdmap[target] = fd;
    };
    let notifR = -1;
    let notifW = -1;
    let lock: { fd: number; locked: boolean } | null = null;
    const closeAll = () => {
      sys.close(notifR);
      sys.close(notifW);
      if (lock) sys.close(lock.fd);
    };
    try {
      if (nfd !== undefined) {
        [notifR, notifW] = sys.pipe();
        place(nfd, notifW);
      }
      if (lfd !== undefined) {
        const l = sys.serviceLock(this.rec.dir);
        lock = l;
        if (l.hadData) this.warn('a previous instance of the service wrote to the lock file!');
        place(lfd, l.fd);
      }
    } catch (e) {
      closeAll();
      return { t: 'spawnFailed', why: 'fork', detail: `unable to prepare the service's fds: ${errText(e)}` };
    }
    const lockWait = lock !== null && !lock.locked;
    let pid: number;
    try {
      pid = sys.spawn({ dir: this.rec.dir, prog: RUN, argv: ['run', this.rec.name], fds: fdmap, ...(lockWait ? { lockWait: lfd } : {}) });
    } catch (e) {
      closeAll();
      const x = e as SpawnError;
      if (x.syscall === 'spawn') return { t: 'spawnFailed', why: 'exec', detail: describeSpawnError(x) };
      return { t: 'spawnFailed', why: 'fork', detail: `unable to fork: ${errText(e)}` };
    }
    sys.onExit(pid, (wstat) => this.host.post(this, { t: 'exit', pid, wstat }));
    sys.close(notifW);
    if (lock) sys.close(lock.fd);
    if (notifR >= 0) {
      fds.notify = notifR;
      this.watches.notify = sys.watch(notifR, () => this.onNotifyReadable());
    }
    return { t: 'spawned', pid, notify: notifR >= 0, lockWait };
  }

  private spawnFinish(args: [string, string]): Event {
    const sys = this.host.world.sys;
    const dir = this.rec.dir;
    // no finish: the outcome of s6's forked child whose exec fails (exit 127), without a fork
    if (!sys.exists(dir, FINISH)) return { t: 'finishFailed', why: 'exec', detail: 'ENOENT', quiet: true };
    let pid: number;
    try {
      const s = this.rec.fds.stdio;
      pid = sys.spawn({ dir, prog: FINISH, argv: ['finish', args[0], args[1], this.rec.name], fds: [s[0], s[1], s[2]] });
    } catch (e) {
      const x = e as SpawnError;
      if (x.syscall === 'spawn') return { t: 'finishFailed', why: 'exec', detail: describeSpawnError(x), quiet: x.code === 'ENOENT' };
      return { t: 'finishFailed', why: 'fork', detail: errText(e), quiet: false };
    }
    sys.onExit(pid, (wstat) => this.host.post(this, { t: 'exit', pid, wstat }));
    return { t: 'finishSpawned', pid };
  }

  // ------------------------------------------------------------------------------------------- inputs

  private onControlReadable(): void {
    const fd = this.rec.fds.control;
    if (fd < 0) return;
    const r = this.host.world.sys.read(fd, readBuf);
    if (r <= 0) return; // EAGAIN, or (never: we hold a writer) EOF
    for (let i = 0; i < r; i++) this.host.post(this, { t: 'ctl', c: readBuf[i] });
  }

  /** s6 reads at most 512 bytes at a time: ready as soon as a chunk holds a newline */
  private onNotifyReadable(): void {
    const fd = this.rec.fds.notify;
    if (fd < 0) return;
    const r = this.host.world.sys.read(fd, readBuf);
    if (r > 0) {
      if (readBuf.subarray(0, r).includes(10)) {
        this.stopWatch('notify');
        this.host.post(this, { t: 'ready' });
      }
    } else if (r === 0 || r !== -EAGAIN) {
      this.stopWatch('notify');
      this.host.post(this, { t: 'notifyEof' });
    }
  }

  /** the adopted run's pidfd: readable once it has exited (level-triggered: stop at the first wake-up) */
  private watchPidfd(fd: number, pid: number): void {
    this.rec.fds.pidfd = fd;
    this.watches.pidfd = this.host.world.sys.watch(fd, () => {
      this.stopWatch('pidfd');
      this.host.post(this, { t: 'gone', pid });
    });
  }

  // ------------------------------------------------------------------------------------------ helpers

  private stopWatch(which: 'notify' | 'pidfd'): void {
    const w = this.watches[which];
    if (w) {
      w.stop();
      this.watches[which] = null;
    }
  }

  /** stop watching and close the readiness pipe or the adopted run's pidfd */
  private closeHeld(which: 'notify' | 'pidfd'): void {
    this.stopWatch(which);
    const fds = this.rec.fds;
    if (fds[which] >= 0) {
      this.host.world.sys.close(fds[which]);
      fds[which] = -1;
    }
  }

  private closeOwned(): void {
    const fds = this.rec.fds;
    for (const fd of fds.owned) this.host.world.sys.close(fd);
    fds.owned = [];
    fds.stdio = [-1, -1, -1];
  }

  private warn(msg: string): void {
    this.host.warn(this, msg);
  }
}
