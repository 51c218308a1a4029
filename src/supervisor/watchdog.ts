/**
 * The event-loop watchdog: a blocked loop (an infinite loop in JS, a synchronous call that never returns)
 * makes the supervisor re-execute itself instead of hanging. The detection and the exec are native
 * (native/shim.c: a thread that sleeps with no timeout while the loop sleeps, so idle costs no wake-up);
 * what a cold re-exec keeps and loses, the default and the repeat window are src/supervisor/reexec.ts's.
 * This file prepares the exec (the same command as a warm re-exec: handover.ts selfCommand) and reads the
 * marker back in the new image.
 */
import { native } from '../sys/native';
import { envList } from '../sys/spawn';
import { REEXEC_ENV, selfCommand } from '../sys/handover';
import { ColdMarker, parseColdMarker, watchdogLimit } from './reexec';

/** the environment variable the watchdog thread adds for the new image */
export const COLD_ENV = 'VIGIL_REEXEC_COLD';
/** the watchdog's limit in ms (0 = off) */
export const WATCHDOG_ENV = 'VIGIL_WATCHDOG_MS';

export interface WatchdogOptions {
  /** the line's prefix ("vigil svscan") */
  who: string;
  /** the fault re-execs so far (monotonic ms): the new image applies the repeat window */
  faults: readonly number[];
  /** fds that must survive the exec (e.g. the console init copies the catch-all log to) */
  keep?: readonly number[];
  /** say a warning (a bad VIGIL_WATCHDOG_MS) */
  warn?: (line: string) => void;
}

/**
 * Arm (or re-arm, with a fresh snapshot of argv and the environment) the watchdog. Call it once the
 * process has started (start-up itself is not watched) and again when the environment or the fds to keep
 * change. Returns the limit in ms (0: off, or the watchdog could not start: said through warn).
 */
export function armWatchdog(o: WatchdogOptions): number {
  const lim = watchdogLimit(process.env[WATCHDOG_ENV]);
  if (lim.warning) o.warn?.(lim.warning);
  const { file, argv } = selfCommand();
  const env = envList(process.env).filter((e) => !e.startsWith(`${COLD_ENV}=`) && !e.startsWith(`${REEXEC_ENV}=`));
  try {
    const on = native().watchdog({ limitMs: lim.ms, file, argv, env, faults: o.faults.join(','), who: o.who, keep: [...(o.keep ?? [])] });
    return on ? lim.ms : 0;
  } catch (e) {
    o.warn?.(`unable to start the event-loop watchdog: ${(e as Error).message}`);
    return 0;
  }
}

/** The watchdog never fires from now on (the process is stopping: a re-exec would take back a tree being taken down). */
export function disarmWatchdog(): void {
  const { file, argv } = selfCommand();
  try {
    native().watchdog({ limitMs: 0, file, argv, env: [], faults: '', who: 'vigil', keep: [] });
  } catch {
    /* not running */
  }
}

/** the short note the watchdog carries to the new image (init: CMD's pid); no system call */
export function noteWatchdog(note: string): void {
  native().watchdogNote(note);
}

/**
 * The marker of a cold re-exec (the watchdog fired in the previous image), or null on any other start. The
 * variable is removed from the environment (children must not inherit it). An unreadable marker counts as
 * a cold re-exec with no history (the safe side: services are taken back, never started twice).
 */
export function takeColdMarker(): ColdMarker | null {
  const v = process.env[COLD_ENV];
  if (v === undefined) return null;
  delete process.env[COLD_ENV];
  return parseColdMarker(v) ?? { faults: [], at: Number(process.hrtime.bigint() / 1_000_000n), blockedMs: 0, note: '' };
}
