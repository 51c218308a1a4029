/**
 * The real world of a supervision (world.ts's interfaces over the native shim, node:fs and the formats):
 * one `Sys` object shared by every service of the process, the monotonic + wall clock, and a TimerQueue.
 * Nothing here decides anything; machine.ts does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CONTROL_FIFO, DOWN, EVENT_DIR, LOCK_FILE, SERVICE_LOCK, SUPERVISE_DIR,
} from '../formats/paths';
import { readStatus, SvStatus, writeStatus } from '../formats/status';
import { readRunRecord, recordIsAlive, recordIsOurChild, writeRunRecord } from '../formats/runrecord';
import { readProcStat } from '../sys/procstat';
import { readDtally, recordFromWstat, truncateDtally, writeDtally } from '../formats/dtally';
import { ensureFifodir, notifyFifodir } from '../formats/fifodir';
import {
  readDownSignal, readLockFd, readMaxDeathTally, readNotificationFd, readTimeoutFinish, readTimeoutKill,
} from '../formats/servicedir';
import { native } from '../sys/native';
import { EINVAL, isSysError } from '../sys/errors';
import { closeQuiet } from '../sys/fds';
import { NotAFifo, openControlFifo } from '../sys/fifo';
import { lockFile } from '../sys/lock';
import { exists as pathExists, isDir } from '../sys/stat';
import { forget, installReaper, onExit } from '../sys/reaper';
import { watchReadable } from '../sys/fdwatch';
import { envList } from '../sys/spawn';
import type { Found, ServiceConfig } from './machine';
import { errText, LockedFile, SetupError, SpawnError, SpawnRequest, Sys, World } from './world';
import { realClock, TimerQueue } from './timers';

const SIGTERM = 15;

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

function takeDir(dir: string, name: string): { lock: number; control: number; down: boolean } {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new SetupError(`${name}: unable to stat the service directory: ${errText(e)}`, 111);
  }
  if (!st.isDirectory()) throw new SetupError(`${name}: ${dir} is not a directory`, 100);
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw new SetupError(`${name}: the service directory is not accessible: ${errText(e)}`, 111);
  }
  let lock = -1;
  let control = -1;
  try {
    mkdirFollowing(path.join(dir, EVENT_DIR), 0o3730, true);
    mkdirFollowing(path.join(dir, SUPERVISE_DIR), 0o700, false);
    const held = lockFile(path.join(dir, LOCK_FILE), 'exclusive', { fileMode: 0o644 });
    if (held === 'busy') {
      throw new SetupError(`${name}: another supervisor (s6-supervise or vigil) already holds ${LOCK_FILE} - not supervising it`, 100);
    }
    lock = held;
    try {
      control = openControlFifo(path.join(dir, CONTROL_FIFO));
    } catch (e) {
      if (!(e instanceof NotAFifo)) throw e;
      throw new SetupError(`${name}: ${CONTROL_FIFO} exists and ${e.dangling ? 'is a dangling symlink' : 'is not a fifo'}`, 100);
    }
    truncateDtally(dir);
    return { lock, control, down: exists(dir, DOWN) };
  } catch (e) {
    closeQuiet(control);
    closeQuiet(lock);
    if (e instanceof SetupError) throw e.message.startsWith(`${name}: `) ? e : new SetupError(`${name}: ${e.message}`, e.exitCode);
    throw new SetupError(`${name}: unable to set up supervision: ${(e as Error).message}`, 111);
  }
}

function exists(dir: string, file: string): boolean {
  return pathExists(path.join(dir, file));
}

/** the environment given to run and finish: this process's, taken once (s6-supervise's is fixed too) */
let envCache: string[] | null = null;
function childEnv(): string[] {
  if (!envCache) envCache = envList(process.env);
  return envCache;
}

/** the shim accepts a relative file when cwd is given (checked once; else the absolute path is used) */
let relativeExecOk = true;

function spawn(req: SpawnRequest): number {
  try {
    return spawnIn(req);
  } catch (e) {
    const x = e as SpawnError;
    // the child could not chdir into the service directory: say why in words
    if (x.syscall === 'spawn' && x.stage === 'chdir' && (x.code === 'ENOENT' || x.code === 'ENOTDIR') && !isDir(req.dir)) {
      x.detail = 'the service directory was removed';
    }
    throw x;
  }
}

function spawnIn(req: SpawnRequest): number {
  const cwd = req.dir;
  const n = native();
  const opts = { setsid: true, resetSignals: true, cwd, ...(req.lockWait !== undefined ? { lockWait: req.lockWait } : {}) };
  if (relativeExecOk) {
    try {
      // as s6: execve("./run") in the service dir, so a script's $0 is ./run
      return n.spawn(`./${req.prog}`, req.argv, childEnv(), req.fds, opts);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      relativeExecOk = false;
    }
  }
  return n.spawn(path.join(cwd, req.prog), req.argv, childEnv(), req.fds, opts);
}

function serviceLock(dir: string): LockedFile {
  const fd = fs.openSync(path.join(dir, SERVICE_LOCK), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    let hadData = false;
    if (fs.fstatSync(fd).size > 0) {
      fs.ftruncateSync(fd, 0);
      hadData = true;
    }
    return { fd, locked: native().lock(fd, true, true), hadData };
  } catch (e) {
    closeQuiet(fd);
    throw e;
  }
}

function config(dir: string, name: string, warn: (line: string) => void): ServiceConfig {
  return {
    notificationFd: () => readNotificationFd(dir, name, warn),
    lockFd: () => readLockFd(dir, name, warn),
    timeoutKill: () => readTimeoutKill(dir, name, warn),
    timeoutFinish: () => readTimeoutFinish(dir, name, warn),
    maxDeathTally: () => readMaxDeathTally(dir, name, warn),
    downSignal: () => readDownSignal(dir, name, warn) ?? SIGTERM,
  };
}

/** see Sys.findRun (and Adoption in machine.ts) */
function findRun(dir: string): { found: Found; pidfd: number } | null {
  const rec = readRunRecord(dir);
  if (rec === null) return null;
  const left = { pid: rec.pid, startTime: rec.startTime };
  // our own child (a cold re-exec: execve kept it), alive or a zombie: its wait status will come to us
  if (recordIsOurChild(rec)) return { found: { ...left, adopt: true, prev: prevStatus(dir), child: true }, pidfd: -1 };
  if (!recordIsAlive(rec)) return null;
  let fd: number;
  try {
    fd = native().pidfdOpen(rec.pid);
  } catch (e) {
    if (!recordIsAlive(rec)) return null; // ESRCH: it has just gone
    return { found: { ...left, adopt: false, why: errText(e) }, pidfd: -1 };
  }
  // the pid may have been recycled between the look and the open: now that the pidfd pins one process, look again
  if (!recordIsAlive(rec)) {
    closeQuiet(fd);
    return null;
  }
  return { found: { ...left, adopt: true, prev: prevStatus(dir) }, pidfd: fd };
}

/** the status file a previous supervisor left (null: none, or a bad one: the run is described from now on) */
function prevStatus(dir: string): SvStatus | null {
  try {
    return readStatus(dir);
  } catch {
    return null;
  }
}

/**
 * After a cold re-exec (scanner.ts `cold`): the pipe on fd `fd` of the run recorded in `dir`, when that run is
 * still our child and that fd is a pipe: [read end, write end], both blocking and close-on-exec, as a new
 * pipe would be. /proc/PID/fd/N opens the same pipe object, so the scanner holds the service → logger pipe
 * again: the logger keeps its pipe (no EOF when its service restarts), nothing restarts. null otherwise.
 */
export function takeRunPipe(dir: string, fd: number): [number, number] | null {
  const rec = readRunRecord(dir);
  if (rec === null || !recordIsOurChild(rec)) return null;
  const p = `/proc/${rec.pid}/fd/${fd}`;
  let r = -1;
  let w = -1;
  try {
    if (!fs.statSync(p).isFIFO()) return null;
    // non-blocking opens (never a wait for the other side), the read end first: then the write end opens
    r = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    w = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    native().setNonblock(r, false);
    native().setNonblock(w, false);
    if (!recordIsOurChild(rec)) throw new Error('gone meanwhile');
    return [r, w];
  } catch {
    closeQuiet(w);
    closeQuiet(r);
    return null;
  }
}

let nullFd = -1;

/** the /dev/null fd devnull() handed out (-1: none yet), for a re-exec to carry over */
export function devnullFd(): number {
  return nullFd;
}

/** after a re-exec: the /dev/null fd of the previous image (services' stdio may name it) is this one's */
export function adoptDevnull(fd: number): void {
  if (fd >= 0 && nullFd < 0) nullFd = fd;
}

export const realSys: Sys = {
  takeDir,
  watch: (fd, cb) => watchReadable(fd, () => cb()),
  read: (fd, buf) => native().read(fd, buf, 0, buf.length),
  close: closeQuiet,
  dup: (fd) => native().dupCloexec(fd, 3),
  devnull: () => {
    if (nullFd < 0) nullFd = fs.openSync('/dev/null', fs.constants.O_RDWR);
    return nullFd;
  },
  pipe: () => {
    const p = native().pipe(false);
    native().setNonblock(p[0], true);
    return p;
  },
  serviceLock,
  spawn,
  exists,
  onExit: (pid, cb) => onExit(pid, (status) => cb(status)),
  forget: (pid) => {
    forget(pid);
  },
  kill: (pid, sig) => native().kill(pid, sig),
  writeStatus,
  notify: (dir, bytes) => {
    notifyFifodir(path.join(dir, EVENT_DIR), bytes);
  },
  recordDeath: (dir, stamp, wstat, max) => {
    const recs = readDtally(dir);
    recs.push(recordFromWstat(stamp, wstat));
    writeDtally(dir, recs.length > max ? recs.slice(recs.length - max) : recs);
  },
  downFile: (dir, present) => {
    const p = path.join(dir, DOWN);
    if (present) fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644));
    else {
      try {
        fs.unlinkSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  },
  config,
  findRun,
  recordRun: (dir, pid, kind) => {
    let startTime = 0;
    if (kind !== 'exit-unknown') {
      const st = readProcStat(pid);
      if (st === null) return; // already gone: nothing to adopt
      startTime = st.startTime;
    }
    writeRunRecord(dir, { pid, startTime, kind });
  },
  runAlive: (run) => recordIsAlive({ ...run, kind: 'own' }),
  pidfdKill: (pidfd, sig) => {
    try {
      native().pidfdSendSignal(pidfd, sig);
      return 0;
    } catch (e) {
      return isSysError(e) ? e.errno : -EINVAL;
    }
  },
};

/** The real world: this Sys, the real clocks, a fresh timer queue (or the one given); installs the reaper. */
export function realWorld(timers?: TimerQueue): World {
  installReaper();
  return { sys: realSys, clock: realClock, timers: timers ?? new TimerQueue(realClock) };
}
