/**
 * A fake world for the supervision machine (src/supervisor/world.ts): no process, no file, no fd, no timer.
 * The clock moves only when a test calls advance(); spawns return made-up pids (or fail as told); a child
 * "dies" when the test calls exit(pid, wstat); the readiness pipe and the control fifo are in-memory byte
 * queues. Everything the supervision does is recorded in `log` (one short line per act, in order), so a test
 * reads like s6's rule it checks.
 *
 *   const w = new FakeWorld();
 *   const sup = w.supervisor();                 // a real Supervisor over this world
 *   const svc = w.add(sup, 'a', { finish: false, config: { timeoutKill: 1000 } });
 *   w.advance(1000);                            // fire what is due, in order
 *   w.exit(svc.runPid, 15 /* killed by TERM *\/);
 *
 * Adoption: w.leave('/srv/a', { pid: 77 }) makes a process a dead supervisor left running (not a child of
 * this world: it never "exits" through the reaper), named in that dir's supervise/vigil-run; the next
 * w.add() of /srv/a finds it. w.gone(77) ends it (its pidfd, if one is watched, turns readable). With
 * { child: true } it is our own child instead (a cold re-exec kept it): it ends through w.exit(77, wstat).
 */
import type { SvStatus } from '../../src/formats/status';
import { Tain, tainFromUnixMs } from '../../src/formats/tai64n';
import type { LeftRun, ServiceConfig } from '../../src/supervisor/machine';
import type { RunRecordKind } from '../../src/formats/runrecord';
import { Service } from '../../src/supervisor/service';
import { Supervisor } from '../../src/supervisor/supervisor';
import { Scheduler, TimerQueue } from '../../src/supervisor/timers';
import { LockedFile, SetupError, SpawnError, SpawnRequest, Sys, World } from '../../src/supervisor/world';

export interface FakeConfig {
  notificationFd?: number;
  lockFd?: number;
  timeoutKill?: number;
  timeoutFinish?: number;
  maxDeathTally?: number;
  downSignal?: number;
}

export interface FakeDir {
  config: FakeConfig;
  /** is there a finish (default false) */
  finish: boolean;
  down: boolean;
  /** another process holds supervise/service-lock */
  serviceLockHeld: boolean;
  status: SvStatus | null;
  statusWrites: number;
  events: string[];
  tally: Array<{ stamp: Tain; wstat: number }>;
  /** taken by a supervisor (supervise/lock held) */
  locked: boolean;
  /** creating or removing ./down fails with this errno name (e.g. 'EROFS') */
  downError?: string;
  /** writing supervise/status fails with this errno name (e.g. 'ENOSPC') */
  statusError?: string;
  /** supervise/vigil-run as last written (a run left by a dead supervisor: set by leave()) */
  runRecord: { pid: number; startTime: number; kind: RunRecordKind } | null;
}

/** a process this world did not spawn (left by a dead supervisor) */
export interface FakeOther {
  startTime: number;
  alive: boolean;
  /** pidfd_open on it fails with this errno name (e.g. 'ENOSYS') */
  pidfdError?: string;
  /** it is this process's own child (a cold re-exec kept it): it ends through w.exit(), with a status */
  child?: boolean;
}

type SpawnOutcome = { fail: 'exec' | 'fork' | 'removed'; code?: string } | null;

/** Node's setTimeout, by hand: one armed callback; delays over 2^31-1 ms fire after 1 ms, as Node does. */
class FakeScheduler implements Scheduler {
  armed: { fn: () => void; at: number; id: number } | null = null;
  private id = 0;
  constructor(private readonly clock: { t: number }) {}
  set(fn: () => void, ms: number): unknown {
    const delay = ms > 2 ** 31 - 1 || ms < 1 ? 1 : ms;
    this.armed = { fn, at: this.clock.t + delay, id: ++this.id };
    return this.id;
  }
  clear(h: unknown): void {
    if (this.armed && this.armed.id === h) this.armed = null;
  }
}

export class FakeWorld implements World {
  /** every act of the supervision, in order */
  readonly log: string[] = [];
  /** warning lines as the Supervisor prints them */
  readonly warnings: string[] = [];
  readonly dirs = new Map<string, FakeDir>();
  readonly clockState = { t: 1_000_000 };
  readonly scheduler = new FakeScheduler(this.clockState);
  readonly clock = {
    now: (): number => this.clockState.t,
    wall: (): Tain => tainFromUnixMs(1_800_000_000_000 + this.clockState.t),
  };
  readonly timers = new TimerQueue(this.clock, this.scheduler);
  readonly sys: Sys;
  /** live children: pid → exit callback */
  private children = new Map<number, ((wstat: number) => void) | null>();
  private nextPid = 100;
  private nextFd = 10;
  /** open fds: fd → what it is */
  readonly open = new Map<number, string>();
  private pipes = new Map<number, number[]>();
  private watchers = new Map<number, () => void>();
  private spawnOutcomes: SpawnOutcome[] = [];
  /** the last spawn requests, newest last */
  readonly spawns: Array<SpawnRequest & { pid: number }> = [];

  constructor() {
    this.sys = this.makeSys();
  }

  dir(path: string): FakeDir {
    let d = this.dirs.get(path);
    if (!d) {
      d = {
        config: {}, finish: false, down: false, serviceLockHeld: false, status: null, statusWrites: 0, events: [], tally: [], locked: false,
        runRecord: null,
      };
      this.dirs.set(path, d);
    }
    return d;
  }

  supervisor(): Supervisor {
    return new Supervisor({ world: this, log: (l) => this.warnings.push(l) });
  }

  /** a service dir /srv/NAME set up as given, then supervised */
  add(sup: Supervisor, name: string, setup: Partial<Omit<FakeDir, 'config'>> & { config?: FakeConfig } = {}): Service {
    const path = `/srv/${name}`;
    const d = this.dir(path);
    Object.assign(d, { ...setup, config: { ...d.config, ...(setup.config ?? {}) } });
    return sup.add({ dir: path, name });
  }

  /** processes not spawned by this world, by pid */
  readonly others = new Map<number, FakeOther>();

  /**
   * A dead supervisor of dir left its run running: the process exists (start time 5000 unless given), its
   * record is in supervise/vigil-run, and (status given) supervise/status is what that supervisor wrote last.
   */
  leave(dir: string, o: { pid: number; startTime?: number; pidfdError?: string; status?: SvStatus; recordedStartTime?: number; child?: boolean }): void {
    const startTime = o.startTime ?? 5000;
    this.others.set(o.pid, { startTime, alive: true, pidfdError: o.pidfdError, child: o.child });
    if (o.child) this.children.set(o.pid, null);
    const d = this.dir(dir);
    d.runRecord = { pid: o.pid, startTime: o.recordedStartTime ?? startTime, kind: 'own' };
    if (o.status) d.status = { ...o.status };
  }

  /** a process left by a dead supervisor ends: its pidfd (if watched) becomes readable */
  gone(pid: number): void {
    const o = this.others.get(pid);
    if (!o || !o.alive) throw new Error(`fake: no live process ${pid} left by a dead supervisor`);
    o.alive = false;
    this.log.push(`gone ${pid}`);
    for (const [fd, what] of this.open) if (what === `pidfd ${pid}`) this.watchers.get(fd)?.();
  }

  /** the next spawn (run or finish) fails this way */
  failNextSpawn(fail: 'exec' | 'fork' | 'removed', code?: string): void {
    this.spawnOutcomes.push({ fail, code });
  }

  /** move the clock by ms, firing every timer due on the way, in order */
  advance(ms: number): void {
    const end = this.clockState.t + ms;
    for (;;) {
      const a = this.scheduler.armed;
      if (!a || a.at > end) break;
      this.scheduler.armed = null;
      this.clockState.t = Math.max(this.clockState.t, a.at);
      a.fn();
    }
    this.clockState.t = end;
  }

  /** child pid dies with this raw wait status (as the reaper would report it) */
  exit(pid: number, wstat: number): void {
    const cb = this.children.get(pid);
    if (cb === undefined) throw new Error(`fake: no child ${pid}`);
    this.children.delete(pid);
    this.log.push(`reaped ${pid} ${wstat}`);
    if (cb) cb(wstat);
  }

  alive(pid: number): boolean {
    return this.children.has(pid);
  }

  /** write bytes into a pipe or fifo this world made (readiness pipe write end, or a control fifo) */
  write(fd: number, bytes: string): void {
    const q = this.pipes.get(fd);
    if (!q) throw new Error(`fake: fd ${fd} is not a pipe`);
    for (const ch of Buffer.from(bytes, 'latin1')) q.push(ch);
    this.watchers.get(fd)?.();
  }

  /** the write end of a pipe: EOF for its reader */
  closeWriter(readFd: number): void {
    this.pipes.get(readFd)?.push(-1);
    this.watchers.get(readFd)?.();
  }

  /** the control fifo fd of a service dir */
  controlFd(path: string): number {
    for (const [fd, what] of this.open) if (what === `control ${path}`) return fd;
    throw new Error(`fake: no control fifo open for ${path}`);
  }

  /** the read end of the readiness pipe given to the newest run, found by its write end in the fd map */
  notifyReadFd(): number {
    for (const [fd, what] of this.open) if (what.startsWith('notify-r')) return fd;
    throw new Error('fake: no readiness pipe open');
  }

  /** the log lines that start with one of these words */
  acts(...words: string[]): string[] {
    return this.log.filter((l) => words.some((w) => l === w || l.startsWith(`${w} `)));
  }

  private fd(what: string): number {
    const fd = this.nextFd++;
    this.open.set(fd, what);
    return fd;
  }

  private makeSys(): Sys {
    const w = this;
    const sys: Sys = {
      takeDir(dir: string, name: string) {
        const d = w.dir(dir);
        if (d.locked) throw new SetupError(`${name}: another supervisor (s6-supervise or vigil) already holds supervise/lock - not supervising it`, 100);
        d.locked = true;
        d.tally = [];
        const lock = w.fd(`lock ${dir}`);
        const control = w.fd(`control ${dir}`);
        w.pipes.set(control, []);
        w.log.push(`take ${dir}`);
        return { lock, control, down: d.down };
      },
      watch(fd, cb) {
        w.watchers.set(fd, cb);
        return {
          stop() {
            if (w.watchers.get(fd) === cb) w.watchers.delete(fd);
          },
        };
      },
      read(fd, buf) {
        const q = w.pipes.get(fd);
        if (!q) return -9; // EBADF
        if (q.length === 0) return -11; // EAGAIN
        if (q[0] === -1) return 0;
        let n = 0;
        while (n < buf.length && q.length && q[0] !== -1) buf[n++] = q.shift() as number;
        return n;
      },
      close(fd) {
        if (fd < 0) return;
        const what = w.open.get(fd);
        if (what === undefined) return;
        w.open.delete(fd);
        w.pipes.delete(fd);
        w.watchers.delete(fd);
        if (what.startsWith('lock ')) w.dir(what.slice(5)).locked = false;
      },
      dup(fd) {
        return w.fd(`dup of ${fd}`);
      },
      devnull() {
        if (![...w.open.values()].includes('/dev/null')) w.fd('/dev/null');
        for (const [fd, what] of w.open) if (what === '/dev/null') return fd;
        return -1;
      },
      pipe() {
        const r = w.fd('notify-r');
        const wr = w.fd(`notify-w of ${r}`);
        w.pipes.set(r, []);
        return [r, wr];
      },
      serviceLock(dir): LockedFile {
        const d = w.dir(dir);
        const fd = w.fd(`service-lock ${dir}`);
        return { fd, locked: !d.serviceLockHeld, hadData: false };
      },
      spawn(req: SpawnRequest) {
        const o = w.spawnOutcomes.shift() ?? null;
        if (o) {
          const e = new Error(`fake ${o.fail} failure`) as SpawnError;
          if (o.fail === 'fork') {
            e.code = o.code ?? 'EAGAIN';
            e.syscall = 'clone';
          } else {
            e.code = o.code ?? (o.fail === 'removed' ? 'ENOENT' : 'EACCES');
            e.syscall = 'spawn';
            e.stage = o.fail === 'removed' ? 'chdir' : 'execve';
          }
          w.log.push(`spawn-failed ${req.prog} ${o.fail}`);
          throw e;
        }
        const pid = w.nextPid++;
        w.children.set(pid, null);
        w.spawns.push({ ...req, pid });
        const extra = req.fds.length > 3 ? ` fds=${req.fds.slice(3).map((f) => (f === null ? '-' : w.open.get(f) ?? '?')).join(',')}` : '';
        w.log.push(`spawn ${req.prog} ${req.argv.slice(1).join(' ')} pid=${pid}${req.lockWait !== undefined ? ` lockWait=${req.lockWait}` : ''}${extra}`);
        return pid;
      },
      exists(dir, file) {
        return file === 'finish' ? w.dir(dir).finish : false;
      },
      onExit(pid, cb) {
        if (!w.children.has(pid)) throw new Error(`fake: onExit for unknown pid ${pid}`);
        w.children.set(pid, cb);
      },
      forget(pid) {
        if (w.children.has(pid)) w.children.set(pid, null);
        w.log.push(`forget ${pid}`);
      },
      kill(pid, sig) {
        w.log.push(`kill ${pid} ${sig}`);
        return 0;
      },
      writeStatus(dir, status) {
        const d = w.dir(dir);
        if (d.statusError) throw Object.assign(new Error(`${d.statusError}: status`), { code: d.statusError });
        d.status = { ...status };
        d.statusWrites++;
        const f = `${status.paused ? 'p' : ''}${status.finishing ? 'f' : ''}${status.wantUp ? 'w' : ''}${status.ready ? 'r' : ''}`;
        w.log.push(`status pid=${status.pid} ${f || '-'}`);
      },
      notify(dir, bytes) {
        w.dir(dir).events.push(bytes);
        w.log.push(`event ${bytes}`);
      },
      recordDeath(dir, stamp, wstat, max) {
        const d = w.dir(dir);
        d.tally.push({ stamp, wstat });
        if (d.tally.length > max) d.tally.splice(0, d.tally.length - max);
        w.log.push(`tally ${wstat}`);
      },
      downFile(dir, present) {
        const err = w.dir(dir).downError;
        if (err) {
          w.log.push(`down${present ? '+' : '-'} failed`);
          throw Object.assign(new Error(`${err}: fake ./down failure`), { code: err, syscall: present ? 'open' : 'unlink' });
        }
        w.dir(dir).down = present;
        w.log.push(present ? 'down+' : 'down-');
      },
      findRun(dir) {
        const rec = w.dir(dir).runRecord;
        if (!rec || !sys.runAlive(rec)) return null;
        const o = w.others.get(rec.pid)!;
        const left = { pid: rec.pid, startTime: rec.startTime };
        const st0 = w.dir(dir).status;
        if (o.child) return { found: { ...left, adopt: true, prev: st0 ? { ...st0 } : null, child: true }, pidfd: -1 };
        if (o.pidfdError) return { found: { ...left, adopt: false, why: `${o.pidfdError} (pidfd_open)` }, pidfd: -1 };
        const fd = w.fd(`pidfd ${rec.pid}`);
        const st = w.dir(dir).status;
        return { found: { ...left, adopt: true, prev: st ? { ...st } : null }, pidfd: fd };
      },
      recordRun(dir, pid, kind) {
        const startTime = kind === 'exit-unknown' ? 0 : (w.others.get(pid)?.startTime ?? 9000 + pid);
        w.dir(dir).runRecord = { pid, startTime, kind };
        w.log.push(`record ${kind} ${pid}`);
      },
      runAlive(run: LeftRun) {
        const o = w.others.get(run.pid);
        return o !== undefined && o.alive && o.startTime === run.startTime;
      },
      pidfdKill(pidfd, sig) {
        const what = w.open.get(pidfd);
        if (!what || !what.startsWith('pidfd ')) return -9; // EBADF
        w.log.push(`pidfd-kill ${what.slice(6)} ${sig}`);
        return 0;
      },
      config(dir): ServiceConfig {
        const c = () => w.dir(dir).config;
        return {
          notificationFd: () => c().notificationFd,
          lockFd: () => c().lockFd,
          timeoutKill: () => c().timeoutKill ?? 0,
          timeoutFinish: () => c().timeoutFinish ?? 5000,
          maxDeathTally: () => Math.min(4096, c().maxDeathTally ?? 100),
          downSignal: () => c().downSignal ?? 15,
        };
      },
    };
    return sys;
  }
}
