/**
 * The world a supervision acts on, as interfaces: everything service.ts does to the system goes through a
 * `Sys`, and every time it reads or waits for goes through a `Clock` and a `Timers`. The real world is
 * realworld.ts (the native shim, node:fs, the formats); the unit tests (test/supervisor/rules.test.ts) give
 * a fake one whose clock moves only when the test says, so every s6 rule is checked in milliseconds with no
 * process, no fifo and no sleep.
 */
import type { SvStatus } from '../formats/status';
import type { Tain } from '../formats/tai64n';
import type { RunRecordKind } from '../formats/runrecord';
import type { Found, LeftRun, ServiceConfig } from './machine';

export interface Clock {
  /** monotonic milliseconds (CLOCK_MONOTONIC: system-wide, so valid across an execve) */
  now(): number;
  /** the wall clock as TAI64N (status stamps, death tally) */
  wall(): Tain;
}

export interface TimerHandle {
  readonly when: number;
  cancelled: boolean;
}

/** Deadlines on the monotonic clock; an idle set of timers costs nothing. */
export interface Timers {
  now(): number;
  /** run fn at monotonic time `when` (at once if it has passed: on the next turn) */
  at(when: number, fn: () => void): TimerHandle;
  after(ms: number, fn: () => void): TimerHandle;
  cancel(h: TimerHandle | null | undefined): void;
}

/** A spawn as a supervision asks for it: ./PROG in the service directory, as a session leader. */
export interface SpawnRequest {
  /** the service directory (cwd of the child) */
  dir: string;
  /** 'run' or 'finish': exec'd as ./PROG */
  prog: string;
  argv: string[];
  /** fds[i] = fd of this process that becomes fd i in the child (null: closed) */
  fds: Array<number | null>;
  /**
   * the child fd holding the lock-fd lock, when another process holds it: the child waits for the lock
   * (F_OFD_SETLKW) before exec, and spawn returns as soon as the child is waiting
   */
  lockWait?: number;
}

/** Errors thrown by Sys.spawn carry these (as the shim's errors do). */
export interface SpawnError extends Error {
  code?: string;
  /** 'spawn' when the child was created and a step before exec failed (exec-like); else fork, clone, pipe2... */
  syscall?: string;
  /** the step of the child that failed: 'execve', 'chdir', 'dup2', ... */
  stage?: string;
  detail?: string;
}

export interface LockedFile {
  fd: number;
  /** true: the lock is ours (on the open file description); false: another process holds it */
  locked: boolean;
  /** the file was not empty (a previous instance wrote to it): it has been truncated */
  hadData: boolean;
}

/** What a supervision does to the system. Methods throw Node-style errors (code, syscall) unless noted. */
export interface Sys {
  /**
   * Take a service directory (s6-supervise's start-up, §3.1 order): event/ (03730), supervise/ (0700), the
   * lock (0644, OFD write lock; held → SetupError 100), the control fifo (0600; not a fifo → SetupError 100)
   * opened read-write non-blocking, death_tally truncated. Returns the two fds and whether `down` exists.
   */
  takeDir(dir: string, name: string): { lock: number; control: number; down: boolean };
  /** Watch fd for readability (uv_poll on the loop); cb runs on the loop. */
  watch(fd: number, cb: () => void): { stop(): void };
  /** non-throwing read(2): bytes read, 0 at EOF, or a negative errno (-EAGAIN when empty) */
  read(fd: number, buf: Buffer): number;
  /** close(2), ignoring errors */
  close(fd: number): void;
  /** a close-on-exec copy of fd, at 3 or above */
  dup(fd: number): number;
  /** an fd open on /dev/null read-write, never closed */
  devnull(): number;
  /** a pipe, both ends close-on-exec, the read end non-blocking: [read, write] */
  pipe(): [number, number];
  /** open supervise/service-lock (created if missing) and try its OFD write lock without waiting */
  serviceLock(dir: string): LockedFile;
  /** Spawn; returns the pid. Throws a SpawnError. */
  spawn(req: SpawnRequest): number;
  /** does dir/file exist (finish)? */
  exists(dir: string, file: string): boolean;
  /** call cb with the raw wait status when pid is reaped (register in the same turn as the spawn) */
  onExit(pid: number, cb: (wstat: number) => void): void;
  /** stop caring about pid (its exit becomes an orphan's) */
  forget(pid: number): void;
  /** non-throwing kill(2): 0 or a negative errno */
  kill(pid: number, sig: number): number;
  writeStatus(dir: string, status: SvStatus): void;
  /** write bytes to every listener of dir/event; never blocks, never throws */
  notify(dir: string, bytes: string): void;
  /** append one death record to supervise/death_tally, keeping the newest max */
  recordDeath(dir: string, stamp: Tain, wstat: number, max: number): void;
  /** create (present) or remove the `down` file; removing a missing one is fine */
  downFile(dir: string, present: boolean): void;
  /** the service's config files, read on each call; invalid values warn through warn() */
  config(dir: string, name: string, warn: (line: string) => void): ServiceConfig;
  /**
   * What the previous supervisor of dir left running (supervise/vigil-run against /proc), or null. When it
   * runs, a pidfd (close-on-exec) is opened on it and it is checked again (the pidfd pins one process: a
   * pid recycled between the two looks is caught): found.adopt with that pidfd, or, when pidfd_open fails,
   * found.adopt false, pidfd -1. Never throws.
   */
  findRun(dir: string): { found: Found; pidfd: number } | null;
  /** write supervise/vigil-run (`own`/`adopted`: with run's start time from /proc; nothing if run is gone) */
  recordRun(dir: string, pid: number, kind: RunRecordKind): void;
  /** that run still runs (same pid and start time, not a zombie, this boot) */
  runAlive(run: LeftRun): boolean;
  /** non-throwing pidfd_send_signal(2): 0 or a negative errno */
  pidfdKill(pidfd: number, sig: number): number;
}

/** The whole world of a Supervisor. */
export interface World {
  sys: Sys;
  clock: Clock;
  timers: Timers;
}

/** Taking a service directory failed: exitCode 100 (another supervisor holds it, a wrong file type) or 111. */
export class SetupError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** How a supervision words a system error in its warnings: "ENOENT (open)", "EACCES (spawn execve)". */
export function errText(e: unknown): string {
  const x = e as NodeJS.ErrnoException & { stage?: string };
  if (x && typeof x.code === 'string') return `${x.code}${x.syscall ? ` (${x.syscall}${x.stage ? ` ${x.stage}` : ''})` : ''}`;
  return (e as Error)?.message ?? String(e);
}
