/**
 * Shared test helpers (reusable): bounded waits. Every wait has a deadline and fails with a message that
 * says what was awaited and what was last seen. Polling the status file is the s6 way of observing a
 * supervisor from outside (clients do the same); use the event fifodir (subscribeEvents) when the exact
 * bytes matter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeStatus, SvStatus, isUp } from '../../src/formats/status';
import { subscribeFifodir, Subscription } from '../../src/formats/fifodir';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `cond` every `every` ms until it returns a truthy value (returned) or `ms` passes (throws
 * `timed out after ms: what (last: ...)`). cond may be async and may throw (treated as not yet).
 */
export async function waitFor<T>(cond: () => T | Promise<T>, ms: number, what: string, every = 20): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let last: unknown = undefined;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e instanceof Error ? e.message : e;
    }
    if (Date.now() >= end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${fmt(last)})`);
    await sleep(every);
  }
}

/**
 * ms the process's main thread has spent runnable but waiting for a CPU (field 2 of /proc/PID/schedstat), or
 * null (gone, or a kernel without schedstats). A bound on a process's own work subtracts the wait over the
 * same interval: what the machine's other processes took is not the process's time.
 */
export function runqueueMs(pid: number): number | null {
  try {
    const f = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
    const ns = Number(f[1]);
    return Number.isFinite(ns) ? ns / 1e6 : null;
  } catch {
    return null;
  }
}

function fmt(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    return String(v);
  }
}

/** supervise/status of a service dir, or null if missing/short */
export function statusOf(dir: string): SvStatus | null {
  try {
    return decodeStatus(fs.readFileSync(path.join(dir, 'supervise', 'status')));
  } catch {
    return null;
  }
}

/** wait until the status satisfies pred; returns it */
export async function waitStatus(dir: string, pred: (s: SvStatus) => boolean, ms: number, what: string): Promise<SvStatus> {
  let last: SvStatus | null = null;
  try {
    return await waitFor(() => {
      last = statusOf(dir);
      return last && pred(last) ? last : null;
    }, ms, `${what} in ${dir}`);
  } catch (e) {
    throw new Error(`${(e as Error).message}; status: ${describe(last)}`);
  }
}

export function describe(s: SvStatus | null): string {
  if (!s) return 'none';
  return `pid=${s.pid} wstat=${s.wstat} paused=${s.paused} finishing=${s.finishing} wantUp=${s.wantUp} ready=${s.ready}`;
}

/** up with a pid different from `notPid` (e.g. a restart) */
export const waitUp = (dir: string, ms = 5000, notPid = 0) =>
  waitStatus(dir, (s) => isUp(s) && s.pid !== notPid, ms, `up${notPid ? ` (pid != ${notPid})` : ''}`);
/** down and ready (finish over) */
export const waitDown = (dir: string, ms = 5000) => waitStatus(dir, (s) => s.pid === 0 && !s.finishing, ms, 'down');

/** record the event bytes of a fifodir (subscribed the s6 way); close() when done */
export interface EventRecorder {
  readonly bytes: () => string;
  /** wait until the recorded bytes match re */
  waitMatch(re: RegExp, ms: number): Promise<string>;
  close(): void;
}

export function recordEvents(eventDir: string): EventRecorder {
  let got = '';
  const sub: Subscription = subscribeFifodir(eventDir, (b) => {
    got += b.toString('latin1');
  });
  return {
    bytes: () => got,
    waitMatch: (re, ms) => waitFor(() => (re.test(got) ? got : null), ms, `events matching ${re} (got ${JSON.stringify(got)})`),
    close: () => sub.close(),
  };
}
