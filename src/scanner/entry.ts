/**
 * One scan-directory entry's life as a pure step machine: s6-svscan's rules for a service it found
 * (s6-protocol.md §8.4–8.5), on the supervisor's monotonic clock.
 *
 *   stepEntry(record, event, now) → { record', effects[] }
 *
 * An entry is a service directory known by (dev, ino), with one or two sides: `main` (the service) and,
 * when the directory had a log/ at its first discovery, `log` (its logger), joined by a pipe the scanner
 * holds (both ends) for as long as the entry lives. Each side is in one of three states:
 *
 *        start asked, set-up ok              supervision ended (active, pipe intact): restart in 1 s
 *   idle ─────────────────────────▶ up ─────────────────────────────────────────────▶ wait ──┐
 *    ▲  └─── set-up failed: back off 1 s, 2 s, 4 s … 60 s ──────────────────────────▶ wait   │ deadline:
 *    └──────────────────────────────────────────────────────────────────────────────────────┘ start again
 *
 * and the entry is active (seen by the last scan) or inactive. The rules, and why:
 * - An active entry's idle sides are started, the logger before the service, so that the first line the
 *   service writes has a reader. (s6-svscan: "the logger first, then the service".)
 * - A supervision that ends while the entry is active and its pipe intact comes back 1 s later (s6-svscan
 *   restarts a dead s6-supervise after 1 s); a set-up that fails backs off to 60 s and says the same problem
 *   once, so a broken directory costs one line, not one a second.
 * - An entry that a scan no longer finds becomes inactive: its pending restarts are cancelled and its
 *   running supervisions are left alone (killing them needs `h`/`n`/`N` or SIGHUP, as in s6). The pipe is
 *   closed once one side is gone (the other then sees EOF or EPIPE and can end); the entry is dropped once
 *   both are. An entry seen again while its pipe is gone is rediscovered from scratch after 1 s (a new pipe).
 * - A stopping scanner starts nothing: every pending restart goes, every pipe is closed.
 * The record is plain data (the pipe's two fd numbers included), like the services' records.
 */

export type Side = 'main' | 'log';

export interface SideRecord {
  state: 'idle' | 'up' | 'wait';
  /** monotonic ms of the pending start (state `wait`), else null */
  deadline: number | null;
  /** set-up failures in a row (the back-off) */
  fails: number;
  /** the last set-up problem reported (said once while it lasts) */
  lastError: string;
}

export interface EntryRecord {
  /** "dev:ino" */
  key: string;
  /** the name it was found under (a supervision keeps it, as s6-supervise keeps its argv) */
  name: string;
  /** where it is now (follows renames) */
  dir: string;
  /** seen by the last scan */
  active: boolean;
  /** `s6-svscan-log`: its log/ is ignored, it gets the console holder as stderr */
  special: boolean;
  /** had a log/ at first discovery: two sides and a pipe */
  logged: boolean;
  /** [read, write] of the service → logger pipe; null once closed (or never, when not logged) */
  pipe: [number, number] | null;
  main: SideRecord;
  log: SideRecord | null;
  /** the scanner is stopping: nothing starts any more */
  stopping: boolean;
  /** dropped: the scanner forgets it */
  gone: boolean;
}

export type EntryEvent =
  /** found by a scan (at `dir`, which may be a new name) */
  | { t: 'seen'; dir: string }
  /** not found by a scan; `movedTo`: followed to a dot name (how s6-linux-init-shutdownd takes a tree apart) */
  | { t: 'missing'; movedTo?: string }
  /** result of `start`: the supervision is running */
  | { t: 'started'; side: Side }
  /** result of `start`: it could not be set up (msg names the service) */
  | { t: 'setupFailed'; side: Side; msg: string }
  /** the side's supervision ended */
  | { t: 'ended'; side: Side }
  /** the side's deadline passed */
  | { t: 'timeout'; side: Side }
  /** the scanner stops */
  | { t: 'stop' };

export type EntryEffect =
  /** start this side's supervision; the result comes back as `started` or `setupFailed` */
  | { t: 'start'; side: Side }
  /** the directory is now reached at this path */
  | { t: 'relocate'; dir: string }
  /** close both ends of the pipe */
  | { t: 'closePipe'; fds: [number, number] }
  | { t: 'warn'; msg: string }
  /** the entry is dropped (inactive: the in-process logging hooks let go of it) */
  | { t: 'forget'; inactive: boolean }
  /** scan again after ms (the entry came back while its pipe was gone) */
  | { t: 'rescan'; after: number };

export const RESTART_MS = 1000;
export const BACKOFF_MAX_MS = 60000;

const idleSide = (): SideRecord => ({ state: 'idle', deadline: null, fails: 0, lastError: '' });

/** A new entry at its first discovery (the executor has made the pipe when logged). */
export function newEntry(key: string, name: string, dir: string, special: boolean, pipe: [number, number] | null): EntryRecord {
  return {
    key, name, dir, active: false, special, logged: pipe !== null, pipe, main: idleSide(), log: pipe !== null ? idleSide() : null, stopping: false, gone: false,
  };
}

/** the pipe a logged entry needs is still there (always true for an entry without a logger) */
function pipeOk(r: EntryRecord): boolean {
  return !r.logged || r.pipe !== null;
}

function sideOf(r: EntryRecord, side: Side): SideRecord | null {
  return side === 'main' ? r.main : r.log;
}

function isUp(s: SideRecord | null): boolean {
  return s !== null && s.state === 'up';
}

function draft(r: EntryRecord): EntryRecord {
  return { ...r, main: { ...r.main }, log: r.log ? { ...r.log } : null };
}

export interface EntryStep {
  record: EntryRecord;
  effects: EntryEffect[];
}

/** The transition function. Pure: `rec` is not modified. Only the first start is asked for per step. */
export function stepEntry(rec: EntryRecord, ev: EntryEvent, now: number): EntryStep {
  const fx: EntryEffect[] = [];
  if (rec.gone) return { record: rec, effects: fx };
  const r = draft(rec);
  switch (ev.t) {
    case 'seen':
      r.active = true;
      if (ev.dir !== r.dir) {
        r.dir = ev.dir;
        fx.push({ t: 'relocate', dir: ev.dir });
      }
      startIdle(r, fx);
      break;
    case 'missing':
      if (ev.movedTo !== undefined && ev.movedTo !== r.dir) {
        r.dir = ev.movedTo;
        fx.push({ t: 'relocate', dir: ev.movedTo });
      }
      r.active = false;
      cancelWaits(r);
      release(r, fx);
      break;
    case 'started': {
      const s = sideOf(r, ev.side);
      if (!s || s.state !== 'idle') break;
      s.state = 'up';
      s.fails = 0;
      s.lastError = '';
      s.deadline = null;
      // the logger is up: now the service
      startIdle(r, fx);
      break;
    }
    case 'setupFailed': {
      const s = sideOf(r, ev.side);
      if (!s || s.state !== 'idle') break;
      s.fails++;
      if (s.lastError !== ev.msg) {
        s.lastError = ev.msg;
        fx.push({ t: 'warn', msg: `${ev.msg} (will retry)` });
      }
      s.state = 'wait';
      s.deadline = now + Math.min(BACKOFF_MAX_MS, RESTART_MS * 2 ** Math.min(6, s.fails - 1));
      // the other side may still start (a logger whose service cannot be set up still runs)
      startIdle(r, fx);
      break;
    }
    case 'ended': {
      const s = sideOf(r, ev.side);
      if (!s || s.state !== 'up') break;
      s.state = 'idle';
      if (r.stopping) break;
      if (r.active && pipeOk(r)) {
        s.state = 'wait';
        s.deadline = now + RESTART_MS;
        break;
      }
      release(r, fx);
      break;
    }
    case 'timeout': {
      const s = sideOf(r, ev.side);
      if (!s || s.state !== 'wait' || s.deadline === null || s.deadline > now) break;
      s.state = 'idle';
      s.deadline = null;
      startIdle(r, fx);
      break;
    }
    case 'stop':
      r.stopping = true;
      cancelWaits(r);
      closePipe(r, fx);
      break;
    default: {
      const never: never = ev;
      throw new Error(`unhandled entry event ${JSON.stringify(never)}`);
    }
  }
  return { record: r, effects: fx };
}

/** ask for the first idle side of an active entry: the logger first, then the service */
function startIdle(r: EntryRecord, fx: EntryEffect[]): void {
  if (r.stopping || !r.active || !pipeOk(r)) return;
  if (r.log && r.log.state === 'idle') {
    fx.push({ t: 'start', side: 'log' });
    return;
  }
  if (r.main.state === 'idle') fx.push({ t: 'start', side: 'main' });
}

function cancelWaits(r: EntryRecord): void {
  for (const s of [r.main, r.log]) {
    if (s && s.state === 'wait') {
      s.state = 'idle';
      s.deadline = null;
    }
  }
}

function closePipe(r: EntryRecord, fx: EntryEffect[]): void {
  if (r.pipe) {
    fx.push({ t: 'closePipe', fds: r.pipe });
    r.pipe = null;
  }
}

/** inactive (or pipe lost): close the pipe once one side is gone, drop the entry once both are */
function release(r: EntryRecord, fx: EntryEffect[]): void {
  if (r.active && pipeOk(r)) return;
  const mainUp = isUp(r.main);
  const logUp = isUp(r.log);
  if (r.pipe && (!mainUp || !logUp)) closePipe(r, fx);
  if (mainUp || logUp) return;
  cancelWaits(r);
  closePipe(r, fx);
  r.gone = true;
  fx.push({ t: 'forget', inactive: !r.active });
  if (r.active && !r.stopping) fx.push({ t: 'rescan', after: RESTART_MS });
}
