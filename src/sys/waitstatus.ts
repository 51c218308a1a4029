/**
 * The one owner of wait-status decoding in vigil: the C macros over a raw waitpid status (what the shim's
 * reap() and spawn results carry, and what supervise/status stores), the decoded form, the text init logs
 * ("exitcode 3" / "signal SIGTERM", the words s6-svstat and s6-svdt use) and the shell-style exit code
 * (128+N after signal N, as tini and a shell give).
 */
import { signalName } from './signals';

/** WIFEXITED */
export function wifexited(w: number): boolean {
  return (w & 0x7f) === 0;
}
/** WIFSIGNALED: the low 7 bits are neither 0 (exited) nor 0x7f (stopped) */
export function wifsignaled(w: number): boolean {
  const s = w & 0x7f;
  return s !== 0 && s !== 0x7f;
}
/** WTERMSIG */
export function wtermsig(w: number): number {
  return w & 0x7f;
}
/** WEXITSTATUS */
export function wexitstatus(w: number): number {
  return (w >> 8) & 0xff;
}
/** WCOREDUMP */
export function wcoredump(w: number): boolean {
  return (w & 0x80) !== 0;
}

export interface WaitStatus {
  /** exited normally: code is set */
  exited: boolean;
  code: number | null;
  /** killed by a signal: signal is set */
  signaled: boolean;
  signal: number | null;
  coreDumped: boolean;
}

/** Decode a raw waitpid status of a child that ended (not stopped): exited with a code, or killed by a signal. */
export function decodeWaitStatus(status: number): WaitStatus {
  if (wifexited(status)) return { exited: true, code: wexitstatus(status), signaled: false, signal: null, coreDumped: false };
  return { exited: false, code: null, signaled: true, signal: wtermsig(status), coreDumped: wcoredump(status) };
}

/** "exitcode 3" / "signal SIGTERM" (the words s6-svstat and s6-svdt use) */
export function describeWaitStatus(status: number): string {
  return wifexited(status) ? `exitcode ${wexitstatus(status)}` : `signal ${signalName(wtermsig(status))}`;
}

/** Shell-style exit code: the code, or 128+signal (not masked: 128+64 at most). */
export function waitStatusToExitCode(status: number): number {
  return wifexited(status) ? wexitstatus(status) : 128 + wtermsig(status);
}
