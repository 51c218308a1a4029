/**
 * Signal names and numbers for Linux (x86_64/aarch64 generic numbering) spelled as s6 prints them
 * ("SIGTERM"), the parser for down-signal style input ("TERM", "SIGTERM", "sigterm", "15"), and waitpid
 * status decoding (s6-svstat shows "exitcode N" or "signal SIGNAME").
 */

/** number -> name without the SIG prefix (the first name is what s6 prints) */
const NAMES: readonly (string | undefined)[] = [
  undefined, 'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE',
  'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM',
  'PROF', 'WINCH', 'POLL', 'PWR', 'SYS',
];
const ALIASES: Readonly<Record<string, number>> = { IOT: 6, CLD: 17, IO: 29 };

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;
export const NSIG = 65;

/** name (no SIG prefix) -> number, every standard name and alias */
export const SIGNALS: Readonly<Record<string, number>> = (() => {
  const m: Record<string, number> = {};
  NAMES.forEach((n, i) => {
    if (n) m[n] = i;
  });
  return Object.freeze({ ...m, ...ALIASES });
})();

/** Parse "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2", "SIGRTMAX-1"; undefined if not a valid signal. */
export function parseSignal(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text > 0 && text < NSIG ? text : undefined;
  const s = text.trim().toUpperCase();
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    return n > 0 && n < NSIG ? n : undefined;
  }
  const name = s.startsWith('SIG') ? s.slice(3) : s;
  if (Object.prototype.hasOwnProperty.call(SIGNALS, name)) return SIGNALS[name];
  const rt = /^RT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const off = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '-' ? -1 : 1);
    const n = base + off;
    return n >= SIGRTMIN && n <= SIGRTMAX ? n : undefined;
  }
  return undefined;
}

/** 15 -> 'SIGTERM'; realtime -> 'SIGRTMIN+n'; unknown -> the number as text */
export function signalName(sig: number): string {
  const n = NAMES[sig];
  if (n) return `SIG${n}`;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${sig - SIGRTMIN}`;
  return String(sig);
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

/** Decode a raw waitpid status (WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG/WCOREDUMP). */
export function decodeWaitStatus(status: number): WaitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { exited: true, code: (status >> 8) & 0xff, signaled: false, signal: null, coreDumped: false };
  return { exited: false, code: null, signaled: true, signal: sig, coreDumped: (status & 0x80) !== 0 };
}

/** "exitcode 3" / "signal SIGTERM" (the words s6-svstat and s6-svdt use) */
export function describeWaitStatus(status: number): string {
  const w = decodeWaitStatus(status);
  return w.exited ? `exitcode ${w.code}` : `signal ${signalName(w.signal as number)}`;
}

/** Shell-style exit code: the code, or 128+signal. */
export function waitStatusToExitCode(status: number): number {
  const w = decodeWaitStatus(status);
  return w.exited ? (w.code as number) : 128 + (w.signal as number);
}
