/**
 * Reading a logdir back (for `vigil logs`): which files, in which order, how to find a service's logdir,
 * how to show TAI64N stamps as local time, and following `current` across rotations.
 *
 * Order: archives `@<tai64n>.s|.u` sorted by name (= by rotation time), then `current`.
 *
 * Finding the logdir of a service directory SVC (first match wins):
 *   1. SVC itself is a logdir (it has `current`, `lock` or archives);
 *   2. SVC/log-dir: a file whose first line names the logdir (relative to SVC) — the in-supervisor
 *      logging declaration;
 *   3. SVC/log/run: the last argument starting with '/' or '.' on the line that runs `s6-log`, `vigil log`
 *      or `svlogd` (relative to SVC/log) — only this trivial form is understood;
 *   4. a bare NAME (no '/') that is not a directory here: $VIGIL_SCANDIR/NAME (default /run/service/NAME).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tainParseLabel, tainToUnixMs, TAI_OFFSET } from '../formats/tai64n';
import { isArchiveName } from './logdir';
import { isDir } from '../sys/stat';

export class LogsError extends Error {}

export function looksLikeLogdir(dir: string): boolean {
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return false; }
  return names.includes('current') || names.includes('lock') || names.some(isArchiveName);
}

/** Resolve SERVICE|LOGDIR to an absolute logdir path. Throws LogsError. */
export function resolveLogdir(arg: string, cwd = process.cwd()): string {
  let svc = path.resolve(cwd, arg);
  if (!isDir(svc) && !arg.includes('/')) {
    const scan = process.env.VIGIL_SCANDIR || '/run/service';
    const alt = path.join(scan, arg);
    if (isDir(alt)) svc = alt;
  }
  if (!isDir(svc)) throw new LogsError(`${arg}: no such service or logdir`);
  if (looksLikeLogdir(svc)) return svc;
  try {
    const decl = fs.readFileSync(path.join(svc, 'log-dir'), 'utf8').split('\n')[0].trim();
    if (decl) return path.resolve(svc, decl);
  } catch { /* no declaration */ }
  try {
    const run = fs.readFileSync(path.join(svc, 'log', 'run'), 'utf8');
    for (const line of run.split('\n')) {
      if (!/\b(s6-log|svlogd)\b|\bvigil\s+log\b/.test(line)) continue;
      const toks = line.trim().split(/\s+/).filter((t) => t.startsWith('/') || t.startsWith('.'));
      const last = toks[toks.length - 1];
      if (last) return path.resolve(svc, 'log', last);
    }
  } catch { /* no log/run */ }
  throw new LogsError(`${arg}: cannot find its logdir (no log-dir file, no simple s6-log line in log/run)`);
}

/** Archives (name order) then current, as absolute paths. */
export function logFiles(dir: string): string[] {
  const names = fs.readdirSync(dir).filter(isArchiveName).sort((a, b) => (a.slice(1) < b.slice(1) ? -1 : a.slice(1) > b.slice(1) ? 1 : 0));
  const out = names.map((n) => path.join(dir, n));
  if (fs.existsSync(path.join(dir, 'current'))) out.push(path.join(dir, 'current'));
  return out;
}

/** The rotation time of an archive name (ms since the epoch), or null for current. */
export function archiveTimeMs(file: string): number | null {
  const b = path.basename(file);
  if (!isArchiveName(b)) return null;
  const t = tainParseLabel(b.slice(0, 25));
  return t ? tainToUnixMs(t) : null;
}

const HEX = /^@[0-9a-f]{24} /;

/** If the line starts with a TAI64N label + space: [unix ns, rest of the line]. */
export function splitStamp(line: string): [bigint, string] | null {
  if (line.length < 26 || line.charCodeAt(0) !== 64 || !HEX.test(line)) return null;
  const sec = BigInt('0x' + line.slice(1, 17));
  const nsec = parseInt(line.slice(17, 25), 16);
  const unix = sec - TAI_OFFSET;
  return [unix * 1000000000n + BigInt(nsec), line.slice(26)];
}

const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));

/** Local time `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, as s6-log's T directive writes it. */
export function localIso(ns: bigint): string {
  const d = new Date(Number(ns / 1000000n));
  const frac = String(((ns % 1000000000n) + 1000000000n) % 1000000000n).padStart(9, '0');
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${frac}`;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{9})  /;

/**
 * Show a stored line: a leading TAI64N label becomes local time. Returns [text, stamp ns or null]; a line
 * that starts with a `T` stamp (local ISO time) keeps its text and gives that time as its stamp.
 */
export function displayLine(line: string): [string, bigint | null] {
  const s = splitStamp(line);
  if (s) return [`${localIso(s[0])} ${s[1]}`, s[0]];
  const m = line.length > 31 && line.charCodeAt(4) === 45 ? ISO.exec(line) : null;
  if (m) {
    const ms = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime();
    if (!Number.isNaN(ms)) return [line, BigInt(ms) * 1000000n + BigInt(Number(m[7]))];
  }
  return [line, null];
}

/**
 * Parse --since: an ISO date/time in local time ("2026-11-27", "2026-11-27 12:00", "2026-11-27T12:00:05"),
 * a relative age ("30s", "10m", "2h", "1d"), or a TAI64N label. Returns ms since the epoch.
 */
export function parseSince(text: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (rel) {
    const mult = { s: 1000, m: 60000, h: 3600000, d: 86400000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(rel[1]) * mult;
  }
  const t = tainParseLabel(text.trim());
  if (t && text.trim().startsWith('@')) return tainToUnixMs(t);
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$/.exec(text.trim());
  if (iso) {
    const [, y, mo, d, h, mi, s, frac] = iso;
    const dt = new Date(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0),
      frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0);
    if (!Number.isNaN(dt.getTime())) return dt.getTime();
  }
  throw new LogsError(`invalid time: ${text} (use YYYY-MM-DD[ HH:MM[:SS]], 10m, 2h, 1d, or @tai64n)`);
}

/** Split a file's bytes into complete lines (a trailing partial line is returned separately). */
export function splitLines(data: string): { lines: string[]; rest: string } {
  const parts = data.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts, rest };
}
