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
