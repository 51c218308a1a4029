/**
 * The s6-log 2.11 script language, compiled once into groups of selections and actions
 * (s6-protocol.md §9.1; every rule below was checked against Debian's /usr/bin/s6-log).
 *
 * A script is a list of directives. Selections (`+RE`, `-RE`, `f`) and actions (`1`, `2`, `=FILE`, logdirs
 * starting with '.' or '/') make groups: a selection that follows an action starts a new group. Controls
 * (`n s S l r E ^ p ! ? t T`) set values for the actions and logdirs that follow; `t`/`T` apply to the next
 * action only.
 *
 * Errors (exit 100), in the order s6-log finds them:
 * - first pass over all directives: an unknown first character → `unrecognized directive: X`; `f`, `t`, `T`,
 *   `1`, `2` with trailing characters, or a bare `=` → `syntax error at directive: X`;
 *   no action at all → `no action directive specified`;
 * - second pass: a bad number (empty, not decimal, > 2^32-1) or a bad regex → `unrecognized directive: X`;
 *   `lN` above half the current `s` → `directive lN conflicts with previous s directive`.
 * Trailing controls after the last action are ignored.
 */
import { compileEre, RegexSyntaxError } from './regex';

export class ScriptError extends Error {}

export const enum SelType { Plus = 1, Minus = 2, Default = 3 }

export interface Selection {
  type: SelType;
  re: RegExp | null;
  source: string;
}

export const enum ActType { Stdout = 1, Alert = 2, Status = 3, Dir = 4 }

/** Stamp flags of an action */
export const STAMP_TAI = 1;
export const STAMP_ISO = 2;

export interface LogdirSpec {
  dir: string;
  /** archives to keep */
  n: number;
  /** rotation size */
  s: number;
  /** max total size of archives (0 = none) */
  maxDirSize: number;
  tolerance: number;
  /** retry delay after an error, ms */
  retryMs: number;
  /** processor command, or null */
  processor: { shell: boolean; cmd: string } | null;
}

export interface Action {
  type: ActType;
  /** STAMP_TAI | STAMP_ISO */
  stamps: number;
  /** prefix bytes including the trailing space, or null */
  prefix: Buffer | null;
  /** Alert: max bytes (0 = all); Status: file size (0 = no padding) */
  size: number;
  /** Status: the file path */
  file: string;
  /** Dir: index into Script.logdirs */
  logdir: number;
}

export interface Group {
  sels: Selection[];
  acts: Action[];
}

export interface Script {
  groups: Group[];
  logdirs: LogdirSpec[];
  /** true if some action wants a TAI64N stamp / an ISO stamp */
  wantTai: boolean;
  wantIso: boolean;
  /** true if no group has any selection: every line goes to every action */
  noSelections: boolean;
  hasStdout: boolean;
}

/** uint32 scan as skalibs' uint320_scan: decimal digits only, the whole string, no overflow. */
function scanU32(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const v = Number(s);
  if (v > 0xffffffff) return null;
  return v;
}

function scanU64(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const v = Number(s);
  if (v > Number.MAX_SAFE_INTEGER) return null;
  return v;
}

function firstPass(argv: string[]): void {
  let acted = false;
  for (const d of argv) {
    const c = d[0];
    switch (c) {
      case 'f': case 't': case 'T': case '1': case '2':
        if (d.length > 1) throw new ScriptError(`syntax error at directive: ${d}`);
        if (c === '1' || c === '2') acted = true;
        break;
      case '+': case '-': case 'n': case 's': case 'S': case 'l': case 'r': case 'E': case '^':
      case '!': case '?': case 'p':
        break;
      case '.': case '/':
        acted = true;
        break;
      case '=':
        if (d.length === 1) throw new ScriptError(`syntax error at directive: ${d}`);
        acted = true;
        break;
      default:
        throw new ScriptError(`unrecognized directive: ${d}`);
    }
  }
  if (!acted) throw new ScriptError('no action directive specified');
}

/** Compile a script. Throws ScriptError with s6-log's message (the caller exits 100). */
export function parseScript(argv: string[]): Script {
  if (argv.length === 0) throw new ScriptError('no action directive specified');
  firstPass(argv);
  const groups: Group[] = [];
  const logdirs: LogdirSpec[] = [];
  let sels: Selection[] = [];
  let acts: Action[] = [];
  let acted = false;
  let n = 10;
  let s = 99999;
  let maxDirSize = 0;
  let tolerance = 2000;
  let retryMs = 2000;
  let alertSize = 200;
  let statusSize = 1001;
  let prefix: Buffer | null = null;
  let processor: LogdirSpec['processor'] = null;
  let stamps = 0;
  let wantTai = false;
  let wantIso = false;
  let hasStdout = false;
  const bad = (d: string): never => { throw new ScriptError(`unrecognized directive: ${d}`); };
  const addAct = (a: Omit<Action, 'stamps' | 'prefix'>): void => {
    acts.push({ ...a, stamps, prefix });
    if (stamps & STAMP_TAI) wantTai = true;
    if (stamps & STAMP_ISO) wantIso = true;
    stamps = 0;
    acted = true;
  };
  for (const d of argv) {
    const rest = d.slice(1);
    switch (d[0]) {
      case 'f': case '+': case '-': {
        let sel: Selection;
        if (d[0] === 'f') sel = { type: SelType.Default, re: null, source: '' };
        else {
          let re: RegExp;
          try {
            // the regex sees bytes: match the directive's UTF-8 bytes against latin1 line strings
            re = compileEre(Buffer.from(rest, 'utf8').toString('latin1'));
          } catch (e) {
            if (e instanceof RegexSyntaxError) bad(d);
            throw e;
          }
          sel = { type: d[0] === '+' ? SelType.Plus : SelType.Minus, re: re!, source: rest };
        }
        if (acted) {
          groups.push({ sels, acts });
          sels = [];
          acts = [];
          acted = false;
        }
        sels.push(sel);
        break;
      }
      case 'n': { const v = scanU32(rest); if (v === null) bad(d); n = v!; break; }
      case 's': {
        const v = scanU32(rest);
        if (v === null) bad(d);
        s = Math.min(Math.max(v!, 4096), 268435455);
        break;
      }
      case 'S': { const v = scanU64(rest); if (v === null) bad(d); maxDirSize = v!; break; }
      case 'l': {
        const v = scanU32(rest);
        if (v === null) bad(d);
        if (v! > (s >>> 1)) throw new ScriptError(`directive ${d} conflicts with previous s directive`);
        tolerance = v!;
        break;
      }
      case 'r': { const v = scanU32(rest); if (v === null) bad(d); retryMs = v!; break; }
      case 'E': { const v = scanU32(rest); if (v === null) bad(d); alertSize = v!; break; }
      case '^': { const v = scanU32(rest); if (v === null) bad(d); statusSize = v!; break; }
      case 'p': prefix = rest.length ? Buffer.from(rest + ' ', 'utf8') : null; break;
      case '!': processor = rest.length ? { shell: false, cmd: rest } : null; break;
      case '?': processor = rest.length ? { shell: true, cmd: rest } : null; break;
      case 't': stamps |= STAMP_TAI; break;
      case 'T': stamps |= STAMP_ISO; break;
      case '1': hasStdout = true; addAct({ type: ActType.Stdout, size: 0, file: '', logdir: -1 }); break;
      case '2': addAct({ type: ActType.Alert, size: alertSize, file: '', logdir: -1 }); break;
      case '=': addAct({ type: ActType.Status, size: statusSize, file: rest, logdir: -1 }); break;
      case '.': case '/':
        logdirs.push({ dir: d, n, s, maxDirSize, tolerance, retryMs, processor });
        addAct({ type: ActType.Dir, size: 0, file: '', logdir: logdirs.length - 1 });
        break;
      default: bad(d);
    }
  }
  if (acted) groups.push({ sels, acts });
  return {
    groups,
    logdirs,
    wantTai,
    wantIso,
    noSelections: groups.every((g) => g.sels.length === 0),
    hasStdout,
  };
}
