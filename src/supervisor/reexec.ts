/**
 * Re-executing the supervisor instead of dying: the pure parts (the fault policy, which fds a saved
 * record needs). The mechanism (state file, execve) is src/sys/handover.ts; what a scanner saves and takes
 * back is src/scanner/scanner.ts (handover / resume); the commands wire it (src/cli/svscan.ts).
 *
 * Why re-exec: every service is a child of this one process. An internal fault (an uncaught exception,
 * an unhandled rejection) used to end the process, and with it the supervision of the whole tree (the
 * services were left running unsupervised, or killed by the crash script). execve keeps a process's pid,
 * its children (their exits wait as zombies until the new image reaps them), its fds without
 * close-on-exec, its subreaper flag and CLOCK_MONOTONIC: so the new image can take every service back
 * exactly where it was — the records are the step machines' states (machine.ts), their deadlines are
 * monotonic times — and no service restarts.
 *
 * Why a repeat window: a fault that comes back right after a re-exec (a bug hit again by the restored
 * state, a broken upgrade) would make a loop of re-execs, each one a supervisor that supervises nothing
 * for ~100 ms, forever. A second fault within REPEAT_WINDOW_MS of the last re-exec for a fault does what a
 * fault did before re-exec existed (s6-svscan: exec .s6-svscan/crash). An on-demand re-exec (`vigil
 * reexec`) is not a fault and does not count.
 *
 * A blocked event loop (the watchdog, src/supervisor/watchdog.ts and native/shim.c): an infinite loop in JS, a
 * synchronous call that never returns. No JS runs, so no state can be written: a native thread notices
 * that the loop has not turned for VIGIL_WATCHDOG_MS (default DEFAULT_WATCHDOG_MS, 0 = off) and execs the
 * same command itself, "cold": with no state file, only $VIGIL_REEXEC_COLD (the fault times and a short
 * note JS keeps up to date: init's CMD pid, phase and console fds, InitNote). The new image starts as a fresh one would, except that it
 * knows it is a cold re-exec: every service is taken back through the adoption path (supervise/vigil-run,
 * machine.ts): the runs are still OUR children after execve, so their exits come through waitpid with their
 * real status. Compared with a warm re-exec, a cold one loses what only lived in the old image's memory and
 * close-on-exec fds: deadlines (a pending restart throttle or timeout-kill starts again from the status
 * file's view: an adopted run is UP with no deadline), a finish script that was running (its run is then
 * found dead and started again while finish may still run), readiness not yet reported (an adopted run is
 * ready only if its status file said so), in-supervisor loggers' pipes (their read ends close at the exec:
 * a service logged in the supervisor dies of SIGPIPE at its next write and restarts), and the service → logger
 * pipes the scanner held: those are taken back from the running logger (/proc/PID/fd/0 opens the same pipe),
 * else the adopted pair keeps logging to each other and moves onto a new pipe when either restarts. A
 * watchdog fault counts in the same repeat window as any other: a second one within REPEAT_WINDOW_MS does
 * what a fault did before re-exec existed, in the new image (which can run JS: decideOnFault there).
 *
 * The limit does not count the time the loop's thread waited for a CPU (its schedstat): on a machine loaded
 * far beyond its cores a turn is slow, not blocked, and a re-exec would only add work.
 *
 * Why 10 s by default: a turn of vigil's loop does a bounded piece of work (one scan, one drain of exits,
 * one control byte), and start-up, where the big first scan happens, is not watched; 10 s of the loop's
 * own time is far beyond any legitimate turn, and short enough that
 * a hung PID 1 (nothing reaped, no signal answered) is back before an orchestrator's usual stop timeout
 * (docker stop waits 10 s) gives up on it. A false alarm costs only a cold re-exec (services kept).
 */
import type { ServiceRecord } from './machine';

/** a second fault within this time of the last fault re-exec is not re-exec'd (monotonic ms) */
export const REPEAT_WINDOW_MS = 30_000;

/** the version of the handed-over state; an image that does not know it refuses the state */
export const REEXEC_FORMAT = 1;
/**
 * A state with what format 1 did not carry (a service manager; init: s6-overlay mode, --external-logger): an
 * image that reads only format 1 refuses it (and falls back) instead of resuming without them. A state
 * without them is still written as format 1, so a downgrade keeps working where it did.
 */
export const REEXEC_FORMAT_2 = 2;

export interface FaultDecision {
  reexec: boolean;
  /** the fault times to hand over (monotonic ms, newest last) */
  faults: number[];
  /** why not (when reexec is false) */
  why: string;
}

/** A fault at `now` (monotonic ms), after the fault re-execs of `faults`: re-exec again, or not. */
export function decideOnFault(faults: readonly number[], now: number, windowMs = REPEAT_WINDOW_MS): FaultDecision {
  const last = faults.length ? faults[faults.length - 1] : -Infinity;
  if (now - last < windowMs) {
    return { reexec: false, faults: [...faults], why: `the previous fault re-exec was ${Math.round(now - last)} ms ago (less than ${windowMs} ms)` };
  }
  // only the last one matters; keep a few for the message of a later fault
  return { reexec: true, faults: [...faults, now].slice(-4), why: '' };
}

/** every fd a saved service record names (they must stay open across the exec) */
export function recordFds(rec: ServiceRecord): number[] {
  const f = rec.fds;
  return [f.lock, f.control, f.notify, f.pidfd, ...f.stdio, ...f.owned].filter((fd) => fd >= 0);
}

/** the watchdog's default limit (ms): see the header */
export const DEFAULT_WATCHDOG_MS = 10_000;

/**
 * The watchdog's limit from $VIGIL_WATCHDOG_MS: a whole number of ms, 0 = off; below 100 ms (except 0) is
 * raised to 100 (a turn may well take a few ms). A bad value keeps the default, with a warning to say.
 */
export function watchdogLimit(v: string | undefined): { ms: number; warning: string | null } {
  if (v === undefined || v === '') return { ms: DEFAULT_WATCHDOG_MS, warning: null };
  if (!/^[0-9]{1,9}$/.test(v.trim())) return { ms: DEFAULT_WATCHDOG_MS, warning: `VIGIL_WATCHDOG_MS=${v.slice(0, 40)} is not a number of ms: the watchdog keeps its default (${DEFAULT_WATCHDOG_MS} ms)` };
  const ms = Number(v.trim());
  return { ms: ms === 0 ? 0 : Math.max(100, ms), warning: null };
}

/** what the watchdog thread passes to the new image in $VIGIL_REEXEC_COLD (native/shim.c wd_fire) */
export interface ColdMarker {
  /** the fault re-execs before this one (monotonic ms) */
  faults: number[];
  /** when the watchdog fired (monotonic ms) */
  at: number;
  /** how long the loop had not turned (ms) */
  blockedMs: number;
  /** the note JS left (init: "cmd=PID") */
  note: string;
}

/** "1;<faults csv>;<at>;<blocked>;<note>" → the marker, or null when it is not one this version reads */
export function parseColdMarker(v: string): ColdMarker | null {
  const m = /^1;([0-9,]*);([0-9]+);([0-9]+);(.*)$/s.exec(v);
  if (!m) return null;
  const faults = m[1] === '' ? [] : m[1].split(',').filter(Boolean).map(Number);
  return { faults, at: Number(m[2]), blockedMs: Number(m[3]), note: m[4] };
}

/**
 * What init keeps in the watchdog's note (updated after each step of its machine, no system call): enough
 * for a cold re-exec to take a running system back: CMD's pid and the machine's view of it, the phase (only
 * `cmd` and `running` are resumed), the console holder's fds, the scanner's console fd and the catch-all
 * logger's fifo fd (kept open across the exec by the watchdog).
 */
export interface InitNote {
  cmd: number;
  cmdState: string;
  phase: string;
  console: [number, number, number];
  consoleFd: number;
  /** the catch-all logger's read end of its fifo: kept, so that the fifo never lacks a reader (SIGPIPE) */
  catchAllFd: number;
}

export function initNote(n: InitNote): string {
  return `cmd=${n.cmd};cs=${n.cmdState};ph=${n.phase};con=${n.console.join(',')};cfd=${n.consoleFd};caf=${n.catchAllFd}`;
}

/** the note back (fields missing or garbled: cmd 0, phase '', fds -1: the resume then refuses) */
export function parseInitNote(s: string): InitNote {
  const f = new Map(s.split(';').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const int = (v: string | undefined): number => (v !== undefined && /^-?[0-9]{1,9}$/.test(v) ? Number(v) : -1);
  const con = (f.get('con') ?? '').split(',').map(int);
  return {
    cmd: Math.max(0, int(f.get('cmd'))),
    cmdState: f.get('cs') ?? '',
    phase: f.get('ph') ?? '',
    console: con.length === 3 ? [con[0], con[1], con[2]] : [-1, -1, -1],
    consoleFd: int(f.get('cfd')),
    catchAllFd: int(f.get('caf')),
  };
}
