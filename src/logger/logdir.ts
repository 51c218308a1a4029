/**
 * One logdir: the files of s6-protocol.md §9.3, start-up recovery, buffered appends to `current`, and
 * rotation as an explicit, resumable step machine (§9.4).
 *
 * Files:
 *   lock       OFD write lock for the logdir's whole life (s6-log takes a classic fcntl lock; both conflict)
 *   current    the open log, O_APPEND, 0644 while open; 0744 (u+x) = closed cleanly
 *   state      the processor's saved state; previous / processed / newstate: a rotation in progress
 *   @<tai64n>.s  archive of a clean rotation (0744); @<tai64n>.u  archive of an unclean current/previous
 *
 * Start-up recovery (open()): if `current` has u+x, append to it. Otherwise remove state and newstate; if
 * `processed` has u+x (the processor had finished) remove previous and archive processed as .s, else remove
 * processed and archive previous as .u; archive current as .u; create an empty state; open a new current.
 * Archiving = link() to @now.x only when the file has one link, unlink(), then trim.
 *
 * Rotation steps (RotState). Each step is idempotent or checks where it stands, so a failure leaves the
 * machine on that step, a warning goes out, and ONE timer retries it after `r` ms; a SIGKILL at any point
 * leaves files that open() recovers (previous → .u, processed with u+x → .s).
 *
 *   Start           fsync current
 *   Rename          current → previous
 *   NewCurrent      open a new current (0644), switch the fd, bytes = 0
 *   ChmodPrevious   previous → 0744; then FinishPrevious, or RunProcessor if there is one
 *   FinishPrevious  archive previous as @now.s, trim → Writable
 *   RunProcessor    spawn the processor (cwd = logdir; fd0 previous, fd1 processed, fd4 state, fd5 newstate)
 *   WaitProcessor   until it dies; a failure (non-zero exit or a signal) goes back to RunProcessor after r ms
 *   SyncProcessed   fsync processed, chmod 0744
 *   SyncNewstate    fsync newstate
 *   UnlinkPrevious  unlink previous
 *   RenameState     newstate → state
 *   FinishProcessed archive processed as @now.s, trim → Writable
 * Closing (finalize): SyncEnd (fsync current) → EndChmod (current → 0744) → End.
 *
 * Writes: the queue is written up to a slice mark (engine.ts): after a write, if bytes + tolerance ≥ s and
 * the write ended at '\n', rotate; before a write, if bytes ≥ s, rotate first. A failed write keeps the
 * data (a partial write is finished later, the file stays contiguous) and retries after r ms.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';
import { spawnProcess } from '../sys/spawn';
import { forget } from '../sys/reaper';
import { tainLabel, tainNow } from '../formats/tai64n';
import { LogdirSpec } from './script';
import { OutQueue } from './outqueue';
import { strerror } from '../sys/errors';
import { wexitstatus, wifexited } from '../sys/waitstatus';

export const EXECLINEB = '/usr/lib/execline/bin/execlineb';
export const SHELL = '/bin/sh';

export const enum RotState {
  Writable,
  Start,
  Rename,
  NewCurrent,
  ChmodPrevious,
  FinishPrevious,
  RunProcessor,
  WaitProcessor,
  SyncProcessed,
  SyncNewstate,
  UnlinkPrevious,
  RenameState,
  FinishProcessed,
  SyncEnd,
  EndChmod,
  End,
}

/** A start-up failure: the caller exits 111 (vigil log) or refuses the declaration (supervisor). */
export class LogdirFatal extends Error {}

export interface LogdirHost {
  /** a warning (verbosity ≥ 1), without the program prefix */
  warn(msg: string): void;
  /** something asynchronous happened (retry timer, processor exit): re-check drain/finish */
  changed(): void;
}

const ARCHIVE_RE = /^@[0-9a-fA-F]{24}\.[su]$/;

export function isArchiveName(name: string): boolean {
  return name.length === 27 && ARCHIVE_RE.test(name);
}

function enoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

export class Logdir {
  readonly spec: LogdirSpec;
  /** the name as written in the script, for messages */
  readonly name: string;
  /** absolute path */
  readonly dir: string;
  readonly q = new OutQueue();
  fd = -1;
  lockFd = -1;
  /** bytes in current */
  b = 0;
  /** current's identity (the spool's marks name it) */
  dev = 0n;
  ino = 0n;
  /**
   * Set by the engine while the output of spooled input is being written (spool.ts): no rotation may switch
   * `current` then (the spool's header says where in this current that output starts); one that falls due
   * waits (rotationDue) until the engine has settled the spool.
   */
  held = false;
  state: RotState = RotState.Writable;
  pid = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly host: LogdirHost;
  private readonly cur: string;
  private readonly prev: string;

  constructor(spec: LogdirSpec, host: LogdirHost, cwd: string) {
    this.spec = spec;
    this.name = spec.dir;
    this.dir = path.resolve(cwd, spec.dir);
    this.host = host;
    this.cur = path.join(this.dir, 'current');
    this.prev = path.join(this.dir, 'previous');
  }

  private p(name: string): string {
    return path.join(this.dir, name);
  }

  private msgName(name: string): string {
    return `${this.name}/${name}`;
  }

  /** mkdir, lock, recover, open current. Throws LogdirFatal naming the step. */
  open(): void {
    this.lock();
    this.recoverOrDie();
  }

  /** mkdir, open and lock `lock`. Throws LogdirFatal naming the step. */
  lock(): void {
    const fatal = (what: string, e: unknown): never => {
      throw new LogdirFatal(`unable to ${what}: ${strerror(e)}`);
    };
    try {
      fs.mkdirSync(this.dir, 0o2700);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fatal(`mkdir ${this.name}`, e);
    }
    try {
      this.lockFd = fs.openSync(this.p('lock'), fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o666);
    } catch (e) {
      fatal(`open ${this.msgName('lock')}`, e);
    }
    let locked = false;
    try {
      locked = native().lock(this.lockFd, true, true, false);
    } catch (e) {
      this.closeLock();
      fatal(`lock ${this.msgName('lock')}`, e);
    }
    if (!locked) {
      this.closeLock();
      throw new LogdirFatal(`unable to lock ${this.msgName('lock')}: Resource temporarily unavailable`);
    }
  }

  /**
   * Start-up repair for the spool (before recovery): if `current` is the file the mark names and is longer
   * than s0, cut it back to s0 — what lies past s0 is output of input the spool still holds, written again
   * from there. Returns the bytes cut. Throws LogdirFatal.
   */
  cutBack(m: { dev: bigint; ino: bigint; s0: number }): number {
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(this.cur, { bigint: true });
    } catch (e) {
      if (enoent(e)) return 0;
      throw new LogdirFatal(`unable to stat ${this.msgName('current')}: ${strerror(e)}`);
    }
    if (st.dev !== m.dev || st.ino !== m.ino || st.size <= BigInt(m.s0)) return 0;
    try {
      fs.truncateSync(this.cur, m.s0);
    } catch (e) {
      throw new LogdirFatal(`unable to truncate ${this.msgName('current')} to ${m.s0} bytes: ${strerror(e)}`);
    }
    return Number(st.size) - m.s0;
  }

  /** after lock(): recovery, then current opened. Throws LogdirFatal naming the step. */
  recoverOrDie(): void {
    const fatal = (what: string, e: unknown): never => {
      throw new LogdirFatal(`unable to ${what}: ${strerror(e)}`);
    };
    try {
      this.recover();
    } catch (e) {
      this.closeLock();
      if (e instanceof LogdirFatal) throw e;
      fatal(`recover logdir ${this.name}`, e);
    }
  }

  private recover(): void {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(this.cur);
    } catch (e) {
      if (!enoent(e)) throw new LogdirFatal(`unable to stat ${this.msgName('current')}: ${strerror(e)}`);
    }
    if (!st || !(st.mode & 0o100)) {
      const rm = (n: string): void => {
        try { fs.unlinkSync(this.p(n)); } catch { /* as s6-log: ignored */ }
      };
      rm('state');
      rm('newstate');
      let processedDone = false;
      try {
        processedDone = (fs.statSync(this.p('processed')).mode & 0o100) !== 0;
      } catch (e) {
        if (!enoent(e)) throw new LogdirFatal(`unable to stat ${this.msgName('processed')}: ${strerror(e)}`);
      }
      if (processedDone) {
        rm('previous');
        this.archiveOrDie('processed', 's');
      } else {
        rm('processed');
        this.archiveOrDie('previous', 'u');
      }
      this.archiveOrDie('current', 'u');
      try {
        fs.closeSync(fs.openSync(this.p('state'), 'w', 0o666));
      } catch (e) {
        throw new LogdirFatal(`unable to create ${this.msgName('state')}: ${strerror(e)}`);
      }
      st = null;
    }
    try {
      this.fd = fs.openSync(this.cur, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o666);
      fs.fchmodSync(this.fd, 0o644);
      const fst = fs.fstatSync(this.fd, { bigint: true });
      this.b = st ? Number(fst.size) : 0;
      this.dev = fst.dev;
      this.ino = fst.ino;
    } catch (e) {
      throw new LogdirFatal(`unable to open ${this.msgName('current')}: ${strerror(e)}`);
    }
  }

  private archiveOrDie(name: string, suffix: 's' | 'u'): void {
    try {
      this.archive(name, suffix);
    } catch (e) {
      throw new LogdirFatal(`unable to archive ${name} as .${suffix} in logdir ${this.name}: ${strerror(e)}`);
    }
  }

  /** Archive `name` as @now.suffix (only linked when it has one link), then trim. Missing file = done. */
  archive(name: string, suffix: 's' | 'u'): void {
    const x = this.p(name);
    let st: fs.Stats;
    try {
      st = fs.statSync(x);
    } catch (e) {
      if (enoent(e)) return;
      throw e;
    }
    if (st.nlink === 1) fs.linkSync(x, this.p(`${tainLabel(tainNow())}.${suffix}`));
    fs.unlinkSync(x);
    this.trim();
  }

  /** Delete the oldest archives while there are more than n, or (S > 0) their total size is over S. */
  trim(): void {
    const names = fs.readdirSync(this.dir).filter(isArchiveName);
    const { n, maxDirSize } = this.spec;
    if (names.length <= n && maxDirSize === 0) return;
    const files: Array<{ name: string; size: number }> = [];
    let total = 0;
    for (const name of names) {
      try {
        const size = fs.statSync(this.p(name)).size;
        files.push({ name, size });
        total += size;
      } catch (e) {
        this.host.warn(`unable to stat ${this.msgName(name)}: ${strerror(e)}`);
      }
    }
    if (files.length <= n && (maxDirSize === 0 || total <= maxDirSize)) return;
    files.sort((a, b) => (a.name.slice(1) < b.name.slice(1) ? -1 : a.name.slice(1) > b.name.slice(1) ? 1 : 0));
    let i = 0;
    while (i < files.length && (files.length - i > n || (maxDirSize > 0 && total > maxDirSize))) {
      try {
        fs.unlinkSync(this.p(files[i].name));
        total -= files[i].size;
      } catch (e) {
        if (enoent(e)) total -= files[i].size;
        this.host.warn(`unable to unlink ${this.msgName(files[i].name)}: ${strerror(e)}`);
      }
      i++;
    }
  }

  /** Nothing buffered, no rotation due or in progress, no processor running. */
  idle(): boolean {
    return this.q.end === this.q.start && this.state === RotState.Writable && !this.rotationDue;
  }

  /**
   * A re-exec of the supervisor is about to hand this logdir to its next image: when nothing is pending (no
   * data queued, no rotation, no retry timer), current is made what a clean close leaves (fsync, 0744), so
   * the next image's engine appends to it instead of archiving it as unfinished (@….u): twenty re-execs would
   * otherwise make twenty archives and push older logs out of the `n` budget. Nothing else changes: the
   * logdir stays usable here (an exec that fails carries on; current then stays 0744 until the next rotation,
   * which at worst makes a later crash look like a clean close: its lines stay in current). false: not now.
   */
  markClean(): boolean {
    if (this.timer || !this.idle() || this.fd < 0) return false;
    try {
      fs.fsyncSync(this.fd);
      fs.fchmodSync(this.fd, 0o744);
      return true;
    } catch {
      return false;
    }
  }

  /** A write filled current and emptied the queue: the rotation waits for the engine's commit() (or the next flush). */
  rotationDue = false;
  /** set by the engine for a peeking feeder (see LogEngine.commit) */
  deferRotation = false;

  get waiting(): boolean {
    return this.timer !== null;
  }

  private fail(msg: string, e?: unknown): false {
    this.host.warn(e === undefined ? msg : `${msg}: ${strerror(e)}`);
    this.arm();
    return false;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state >= RotState.SyncEnd) this.finalize();
      else this.flush();
      this.host.changed();
    }, this.spec.retryMs);
  }

  /**
   * Run the rotation machine from its current step. true = back to Writable; false = failed (a retry is
   * armed) or waiting for the processor.
   */
  rotator(): boolean {
    for (;;) {
      switch (this.state) {
        case RotState.Writable:
          return true;
        case RotState.Start:
          try { fs.fsyncSync(this.fd); } catch (e) { return this.fail(`unable to fsync ${this.msgName('current')}`, e); }
          this.state = RotState.Rename;
          break;
        case RotState.Rename:
          try { fs.renameSync(this.cur, this.prev); } catch (e) {
            return this.fail(`unable to rename ${this.msgName('current')} to ${this.msgName('previous')}`, e);
          }
          this.state = RotState.NewCurrent;
          break;
        case RotState.NewCurrent: {
          let fd: number;
          try {
            fd = fs.openSync(this.cur, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o666);
          } catch (e) {
            return this.fail(`unable to open ${this.msgName('current')}`, e);
          }
          let fst: fs.BigIntStats;
          try {
            fs.fchmodSync(fd, 0o644);
            fst = fs.fstatSync(fd, { bigint: true });
          } catch (e) {
            fs.closeSync(fd);
            return this.fail(`unable to fchmod ${this.msgName('current')} to 0644`, e);
          }
          this.dev = fst.dev;
          this.ino = fst.ino;
          try { fs.closeSync(this.fd); } catch { /* the old fd is gone either way */ }
          this.fd = fd;
          this.b = 0;
          this.state = RotState.ChmodPrevious;
          break;
        }
        case RotState.ChmodPrevious:
          try { fs.chmodSync(this.prev, 0o744); } catch (e) {
            return this.fail(`unable to chmod ${this.msgName('previous')} to 0744`, e);
          }
          this.state = this.spec.processor ? RotState.RunProcessor : RotState.FinishPrevious;
          break;
        case RotState.FinishPrevious:
          try { this.archive('previous', 's'); } catch (e) {
            return this.fail(`unable to finish previous .s to logdir ${this.name}`, e);
          }
          this.state = RotState.Writable;
          return true;
        case RotState.RunProcessor:
          if (!this.runProcessor()) return false;
          this.state = RotState.WaitProcessor;
          return false;
        case RotState.WaitProcessor:
          return false;
        case RotState.SyncProcessed: {
          let fd = -1;
          try {
            fd = fs.openSync(this.p('processed'), fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o666);
            fs.fsyncSync(fd);
            fs.fchmodSync(fd, 0o744);
          } catch (e) {
            return this.fail(`unable to sync ${this.msgName('processed')}`, e);
          } finally {
            if (fd >= 0) fs.closeSync(fd);
          }
          this.state = RotState.SyncNewstate;
          break;
        }
        case RotState.SyncNewstate: {
          let fd = -1;
          try {
            fd = fs.openSync(this.p('newstate'), fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o666);
            fs.fsyncSync(fd);
          } catch (e) {
            return this.fail(`unable to sync ${this.msgName('newstate')}`, e);
          } finally {
            if (fd >= 0) fs.closeSync(fd);
          }
          this.state = RotState.UnlinkPrevious;
          break;
        }
        case RotState.UnlinkPrevious:
          try { fs.unlinkSync(this.prev); } catch (e) {
            if (!enoent(e)) return this.fail(`unable to unlink ${this.msgName('previous')}`, e);
          }
          this.state = RotState.RenameState;
          break;
        case RotState.RenameState:
          try { fs.renameSync(this.p('newstate'), this.p('state')); } catch (e) {
            return this.fail(`unable to rename ${this.msgName('newstate')} to ${this.msgName('state')}`, e);
          }
          this.state = RotState.FinishProcessed;
          break;
        case RotState.FinishProcessed:
          try { this.archive('processed', 's'); } catch (e) {
            return this.fail(`unable to finish processed .s to logdir ${this.name}`, e);
          }
          this.state = RotState.Writable;
          return true;
        default:
          return false;
      }
    }
  }

  private runProcessor(): boolean {
    const proc = this.spec.processor!;
    const fds: number[] = [];
    const open = (name: string, flags: number | string): number => {
      const fd = fs.openSync(this.p(name), flags, 0o666);
      fds.push(fd);
      return fd;
    };
    try {
      const f0 = open('previous', 'r');
      const f1 = open('processed', 'w');
      const f4 = open('state', 'r');
      const f5 = open('newstate', 'w');
      const file = proc.shell ? SHELL : EXECLINEB;
      const argv = proc.shell ? ['sh', '-c', proc.cmd] : ['execlineb', '-Pc', proc.cmd];
      this.pid = spawnProcess({
        file,
        argv,
        fds: [f0, f1, 2, null, f4, f5],
        cwd: this.dir,
        setsid: false,
        onExit: (status) => this.processorDied(status),
      });
      return true;
    } catch (e) {
      return this.fail(`unable to spawn processor for logdir ${this.name}`, e);
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  }

  private processorDied(status: number): void {
    this.pid = 0;
    if (this.state !== RotState.WaitProcessor) return;
    if (!wifexited(status)) {
      this.state = RotState.RunProcessor;
      this.fail(`processor crashed in ${this.name}`);
    } else if (wexitstatus(status)) {
      this.state = RotState.RunProcessor;
      this.fail(`processor failed in ${this.name}`);
    } else {
      this.state = RotState.SyncProcessed;
      this.flush();
    }
    this.host.changed();
  }

  /**
   * `current` is settled: writable, or a rotation past the switch to the new current (a processor may still
   * run) — and no rotation due. The spool's marks may name it.
   */
  currentFixed(): boolean {
    if (this.rotationDue) return false;
    return this.state === RotState.Writable || (this.state > RotState.NewCurrent && this.state < RotState.SyncEnd);
  }

  /** SIGALRM: rotate now if writable and current is not empty (while held: once the engine settles). */
  forceRotate(): void {
    if (this.held) {
      if (this.state === RotState.Writable && this.b > 0) this.rotationDue = true;
      return;
    }
    if (this.state === RotState.Writable && this.b > 0 && !this.timer) {
      this.rotationDue = false;
      this.state = RotState.Start;
      this.rotator();
    }
  }

  /**
   * Write what is queued, rotating where s6-log would. Returns true if the queue is empty and the logdir is
   * writable. Never throws.
   */
  flush(): boolean {
    if (this.timer) return false;
    const q = this.q;
    const { s, tolerance } = this.spec;
    const held = this.held;
    if (this.rotationDue && this.state === RotState.Writable && !held) {
      this.rotationDue = false;
      this.state = RotState.Start;
    }
    for (;;) {
      if (this.state !== RotState.Writable && !this.rotator()) return false;
      if (q.end === q.start) return true;
      if (this.b >= s && !held) {
        this.state = RotState.Start;
        if (!this.rotator()) return false;
      }
      // write up to the first mark where a rotation becomes due, else everything (held: everything, the
      // rotation waits for the engine's settle)
      let segEnd = q.end;
      const m = q.marks;
      if (!held) {
        for (let k = 0; k < m.length; k++) {
          if (this.b + (m[k] - q.start) + tolerance >= s) {
            segEnd = m[k];
            break;
          }
        }
      }
      let r: number;
      try {
        r = fs.writeSync(this.fd, q.buf, q.start, segEnd - q.start);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        return this.fail(`unable to write to ${this.msgName('current')}`, e);
      }
      const lastByte = q.buf[q.start + r - 1];
      this.b += r;
      q.consumed(r);
      if (this.b + tolerance >= s && lastByte === 10) {
        if (held || (this.deferRotation && q.end === q.start)) {
          this.rotationDue = true;
          if (q.end === q.start) return true;
          continue;
        }
        this.state = RotState.Start;
        if (!this.rotator()) return false;
      }
    }
  }

  /** Closing: fsync current, chmod it 0744. true once done (End). */
  finalize(): boolean {
    if (this.timer) return false;
    for (;;) {
      switch (this.state) {
        case RotState.Writable:
          this.state = RotState.SyncEnd;
          break;
        case RotState.SyncEnd:
          try { fs.fsyncSync(this.fd); } catch (e) { return this.fail(`unable to fsync ${this.msgName('current')}`, e); }
          this.state = RotState.EndChmod;
          break;
        case RotState.EndChmod:
          try { fs.fchmodSync(this.fd, 0o744); } catch (e) {
            return this.fail(`unable to fchmod ${this.msgName('current')} to 0744`, e);
          }
          this.state = RotState.End;
          return true;
        case RotState.End:
          return true;
        default:
          return false;
      }
    }
  }

  private closeLock(): void {
    if (this.lockFd >= 0) {
      try { fs.closeSync(this.lockFd); } catch { /* ignore */ }
      this.lockFd = -1;
    }
  }

  /** Release everything (after finalize, or to abandon the logdir). Data still queued is dropped. */
  close(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.pid) { forget(this.pid); this.pid = 0; }
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* ignore */ }
      this.fd = -1;
    }
    this.closeLock();
    this.q.clear();
  }
}
