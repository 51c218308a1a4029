/**
 * The one owner of signal names and numbers in vigil: Linux's (x86_64/aarch64 generic numbering) spelled as
 * s6 prints them ("SIGTERM"), SIGNALS.TERM etc. for the numbers, the parser for down-signal style input
 * ("TERM", "SIGTERM", "sigterm", "15"), and skalibs' sig_name() for s6-svstat/s6-svdt's output.
 * Wait-status decoding lives in waitstatus.ts.
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

/**
 * skalibs sig_name(), as s6-svstat and s6-svdt print it: the name without SIG for 1-31 (29 is POLL), `???` for
 * every other number (real-time signals included).
 */
export function s6SigName(sig: number): string {
  return sig > 0 && sig < NAMES.length ? (NAMES[sig] as string) : '???';
}

/** 15 -> 'SIGTERM'; realtime -> 'SIGRTMIN+n'; unknown -> the number as text */
export function signalName(sig: number): string {
  const n = NAMES[sig];
  if (n) return `SIG${n}`;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${sig - SIGRTMIN}`;
  return String(sig);
}
