/**
 * s6-svstat's output, byte for byte (s6-protocol.md §7): the human line and the `-o` fields.
 *
 * Facts checked against Debian's s6-svstat 2.11.3.2 with crafted status files:
 * - "up" means pid ≠ 0 and not finishing; a finishing service prints `down` with run's death.
 * - wstat is decoded as the C macros do: signalled iff (w & 0x7f) is neither 0 nor 0x7f; the human line
 *   prints `exitcode WEXITSTATUS` whenever it is not signalled (so a stopped-looking 0x17f shows
 *   `exitcode 1`), while `-o exitcode` prints -1 unless WIFEXITED.
 * - signal names are skalibs' table: SIGHUP..SIGSYS (Linux numbers 1–31, 29 is SIGPOLL); every other number
 *   prints as `SIG???` (real-time signals included).
 * - seconds are `now − stamp` in whole seconds; a stamp in the future is replaced by now, but the ready
 *   stamp is not clamped and wraps around as an unsigned 64-bit difference (as s6 does).
 */
import { SvStatus } from './status';
import { Tain, tainLabel } from './tai64n';
import { s6SigName } from '../sys/signals';
import { wexitstatus, wifexited, wifsignaled, wtermsig } from '../sys/waitstatus';

const U64 = 1n << 64n;

/** tain_sub(now, t) seconds, as an unsigned 64-bit number printed in decimal */
export function secondsSince(now: Tain, t: Tain): string {
  let s = now.sec - t.sec;
  if (now.nsec < t.nsec) s -= 1n;
  s = ((s % U64) + U64) % U64;
  return s.toString();
}

function tainFuture(t: Tain, now: Tain): boolean {
  return t.sec > now.sec || (t.sec === now.sec && t.nsec > now.nsec);
}

export interface SvstatInput {
  status: SvStatus;
  /** true iff DIR/down does not exist */
  normallyUp: boolean;
  /** s6-svstat's clock, read once after the status */
  now: Tain;
}

/** s6-svstat clamps only `stamp` to now; do the same before rendering. */
function clamp(inp: SvstatInput): SvStatus {
  const st = inp.status;
  return tainFuture(st.stamp, inp.now) ? { ...st, stamp: inp.now } : st;
}

function isUpStatus(st: SvStatus): boolean {
  return st.pid !== 0 && !st.finishing;
}

/** The human line, without the final newline. `numeric` is -n. */
export function renderHuman(inp: SvstatInput, numeric: boolean): string {
  const st = clamp(inp);
  const up = isUpStatus(st);
  let s: string;
  if (up) {
    s = `up (pid ${st.pid}) `;
  } else if (wifsignaled(st.wstat)) {
    const sig = wtermsig(st.wstat);
    s = `down (signal ${numeric ? String(sig) : 'SIG' + s6SigName(sig)}) `;
  } else {
    s = `down (exitcode ${wexitstatus(st.wstat)}) `;
  }
  s += `${secondsSince(inp.now, st.stamp)} seconds`;
  if (up && !inp.normallyUp) s += ', normally down';
  if (!up && inp.normallyUp) s += ', normally up';
  if (up && st.paused) s += ', paused';
  if (!up && st.wantUp) s += ', want up';
  if (up && !st.wantUp) s += ', want down';
  if (st.ready) s += `, ready ${secondsSince(inp.now, st.readyStamp)} seconds`;
  return s;
}

export type FieldFn = (st: SvStatus, inp: SvstatInput) => string;

const bool = (b: boolean): string => (b ? 'true' : 'false');

/** The -o table in s6's order: a prefix picks the first entry it matches. */
export const FIELDS: ReadonlyArray<readonly [string, FieldFn]> = [
  ['up', (st) => bool(isUpStatus(st))],
  ['wantedup', (st) => bool(st.wantUp)],
  ['normallyup', (_st, inp) => bool(inp.normallyUp)],
  // s6 prints true only when pid ≠ 0 and the ready flag is set (the manual says otherwise; the code wins)
  ['ready', (st) => bool(st.pid !== 0 && st.ready)],
  ['paused', (st) => bool(st.paused)],
  ['pid', (st) => (isUpStatus(st) ? String(st.pid) : '-1')],
  ['exitcode', (st) => (isUpStatus(st) || !wifexited(st.wstat) ? '-1' : String(wexitstatus(st.wstat)))],
  ['signal', (st) => (isUpStatus(st) || !wifsignaled(st.wstat) ? 'NA' : 'SIG' + s6SigName(wtermsig(st.wstat)))],
  ['signum', (st) => (isUpStatus(st) || !wifsignaled(st.wstat) ? '-1' : String(wtermsig(st.wstat)))],
  ['updownsince', (st) => tainLabel(st.stamp)],
  ['readysince', (st) => tainLabel(st.readyStamp)],
  ['updownfor', (st, inp) => secondsSince(inp.now, st.stamp)],
  ['readyfor', (st, inp) => secondsSince(inp.now, st.readyStamp)],
];

/** the short options of s6-svstat and the field each one adds */
export const SHORT_FIELDS: Readonly<Record<string, string>> = {
  u: 'up', w: 'wantedup', N: 'normallyup', r: 'ready', p: 'pid', e: 'exitcode', s: 'signal', t: 'updownfor',
};

export const MAX_FIELDS = 16;

export class FieldError extends Error {}

/**
 * Parse one -o argument onto `into` (s6's rules: an empty field before the end is an error, a trailing
 * comma is not; at most 16 fields in all; a name may be any prefix of a table entry, the first one wins).
 */
export function parseFields(arg: string, into: string[]): void {
  let s = arg;
  while (s.length > 0) {
    const comma = s.indexOf(',');
    const pos = comma < 0 ? s.length : comma;
    if (pos === 0) throw new FieldError('invalid null option field');
    const name = s.slice(0, pos);
    const hit = FIELDS.find(([n]) => n.startsWith(name));
    if (!hit) throw new FieldError(`invalid option field: ${name}`);
    if (into.length >= MAX_FIELDS) throw new FieldError('too many option fields');
    into.push(hit[0]);
    s = s.slice(pos);
    if (s.length > 0) s = s.slice(1);
  }
}

/** The -o line, without the final newline. */
export function renderFields(inp: SvstatInput, fields: readonly string[]): string {
  const st = clamp(inp);
  return fields
    .map((f) => {
      const hit = FIELDS.find(([n]) => n === f);
      if (!hit) throw new FieldError(`invalid option field: ${f}`);
      return hit[1](st, inp);
    })
    .join(' ');
}
