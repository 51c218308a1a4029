/**
 * `vigil status [--json] [SCANDIR]`: one row per service of a scan directory, the way `systemctl list-units`
 * or `pm2 ls` show them. SCANDIR defaults to $VIGIL_SCANDIR, else /run/service. Works on any tree that
 * speaks s6's on-disk protocol (vigil svscan or s6-svscan); it only reads files, never writes.
 *
 * Services are found as a scanner finds them: every entry of SCANDIR whose name does not start with `.` and
 * that is a directory (symlinks followed); a service with a `log/` directory gets a second row `NAME/log`
 * (not for the catch-all `s6-svscan-log`). Rows are sorted by name.
 *
 * Columns:
 *   NAME       service name (`NAME/log` for its logger)
 *   STATE      up · starting (up, has notification-fd, not ready yet) · paused · finishing (finish runs) ·
 *              down · not supervised (nobody holds supervise/lock) · unknown (status unreadable)
 *   PID        run's pid while up, else —
 *   UPTIME     time in the current state (up or down): 3s, 2m05s, 1h02m, 3d4h; — when not supervised
 *   READY      yes/no while up for a service with notification-fd, — otherwise
 *   RESTARTS   deaths recorded in supervise/death_tally (reset when its supervisor starts)
 *   LAST EXIT  how run last died: `exit N` or the signal name (SIGTERM); — if it never died; `unknown
 *              (adopted)` when it was a run adopted from a supervisor that died (not our child: no wait status)
 *   A run adopted that way shows `(adopted)` after its pid (supervise/vigil-run, src/formats/runrecord.ts).
 * Colours (only when stdout is a terminal and NO_COLOR is not set): green = up (and ready if it notifies),
 * yellow = starting / paused / finishing, red = down but wanted up, or not supervised, dim = down.
 *
 * --json prints an array of objects with these keys, always present, in this order:
 *   name (string), dir (string, the service directory path), supervised (boolean),
 *   state ("up"|"starting"|"paused"|"finishing"|"down"|"not supervised"|"unknown"),
 *   pid (number|null), wantUp (boolean|null), normallyUp (boolean), notifies (boolean: has notification-fd),
 *   ready (boolean|null: null unless up and notifies), stateSeconds (number|null), restarts (number),
 *   lastExit ({exitcode, signal, signum}: {"exitcode": 3, "signal": null, "signum": null} after an exit,
 *   {"exitcode": null, "signal": "SIGTERM", "signum": 15} after a signal; null if it never died),
 *   error (string|null: why the row is incomplete), adopted (boolean: run was adopted from a supervisor that
 *   died, so its exit status will not be known).
 * Exit codes: 0; 1 if SCANDIR cannot be read; 100 bad usage.
 */
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { readStatus, isUp, SvStatus } from '../formats/status';
import { decodeDtally, DeathRecord } from '../formats/dtally';
import { readRunRecord } from '../formats/runrecord';
import { tainNow, Tain } from '../formats/tai64n';
import { DEATH_TALLY, DOWN, LOG_SUBDIR, NOTIFICATION_FD, SVSCAN_LOG_SERVICE } from '../formats/paths';
import { Messages, joinS6, supervisorRunning, writeAllSync } from '../formats/svclient';
import { strerror } from '../sys/errors';
import { s6SigName } from '../sys/signals';
import { exists, isDir } from '../sys/stat';

const USAGE = 'vigil status [ --json ] [ scandir ]';

const HELP = `usage: ${USAGE}

One row per service of scandir (default: $VIGIL_SCANDIR, else /run/service), with its logger as NAME/log:
  NAME  STATE  PID  UPTIME  READY  RESTARTS  LAST EXIT
STATE is up, starting (not ready yet), paused, finishing, down, or not supervised.
UPTIME is the time in the current state. RESTARTS counts the deaths recorded since its supervisor started.
  --json   an array of objects (keys: name dir supervised state pid wantUp normallyUp notifies ready
           stateSeconds restarts lastExit error adopted)
PID (adopted): run was started by a supervisor that died; its exit status will be unknown.
Colour only on a terminal, and never when NO_COLOR is set.
Exit codes: 0 ok, 1 scandir unreadable, 100 bad usage.
`;

export interface LastExit {
  exitcode: number | null;
  signal: string | null;
  signum: number | null;
}

export interface ServiceRow {
  name: string;
  dir: string;
  supervised: boolean;
  state: 'up' | 'starting' | 'paused' | 'finishing' | 'down' | 'not supervised' | 'unknown';
  pid: number | null;
  wantUp: boolean | null;
  normallyUp: boolean;
  notifies: boolean;
  ready: boolean | null;
  stateSeconds: number | null;
  restarts: number;
  lastExit: LastExit | null;
  error: string | null;
  adopted: boolean;
}



/** Read-only: unlike s6-svdt, never creates or truncates the file. */
function readTally(dir: string): DeathRecord[] {
  try {
    return decodeDtally(fs.readFileSync(joinS6(dir, DEATH_TALLY)));
  } catch {
    return [];
  }
}

function seconds(now: Tain, t: Tain): number {
  if (t.sec > now.sec || (t.sec === now.sec && t.nsec > now.nsec)) return 0;
  let s = now.sec - t.sec;
  if (now.nsec < t.nsec) s -= 1n;
  return Number(s);
}

export function inspectService(name: string, dir: string, now: Tain): ServiceRow {
  const row: ServiceRow = {
    name, dir, supervised: false, state: 'unknown', pid: null, wantUp: null,
    normallyUp: !exists(joinS6(dir, DOWN)), notifies: exists(joinS6(dir, NOTIFICATION_FD)), ready: null,
    stateSeconds: null, restarts: 0, lastExit: null, error: null, adopted: false,
  };
  const tally = readTally(dir);
  row.restarts = tally.length;
  if (tally.length > 0) {
    const last = tally[tally.length - 1];
    row.lastExit = last.sig
      ? { exitcode: null, signal: 'SIG' + s6SigName(last.sig), signum: last.sig }
      : { exitcode: last.exitcode, signal: null, signum: null };
  }
  try {
    row.supervised = supervisorRunning(dir);
  } catch (e) {
    row.error = `unable to check ${dir}: ${strerror(e)}`;
    return row;
  }
  let st: SvStatus;
  try {
    st = readStatus(dir);
  } catch (e) {
    if (!row.supervised) {
      row.state = 'not supervised';
      return row;
    }
    row.error = `unable to read status for ${dir}: ${strerror(e)}`;
    return row;
  }
  if (!row.supervised) {
    row.state = 'not supervised';
    return row;
  }
  row.wantUp = st.wantUp;
  row.stateSeconds = seconds(now, st.stamp);
  const rec = readRunRecord(dir);
  if (isUp(st)) {
    row.pid = st.pid;
    row.adopted = rec !== null && rec.kind === 'adopted' && rec.pid === st.pid;
    if (row.notifies) row.ready = st.ready;
    row.state = st.paused ? 'paused' : row.notifies && !st.ready ? 'starting' : 'up';
  } else {
    row.state = st.finishing ? 'finishing' : 'down';
    // the last run was adopted: whatever the tally says, its own exit status was never seen
    if (rec !== null && rec.kind === 'exit-unknown') row.lastExit = { exitcode: null, signal: null, signum: null };
  }
  return row;
}

/** The services of a scan directory, as a scanner sees them, with their loggers. */
export function listServices(scandir: string): Array<{ name: string; dir: string }> {
  const names = fs.readdirSync(scandir).filter((n) => !n.startsWith('.')).sort();
  const out: Array<{ name: string; dir: string }> = [];
  for (const n of names) {
    const dir = joinS6(scandir, n);
    if (!isDir(dir)) continue;
    out.push({ name: n, dir });
    if (n !== SVSCAN_LOG_SERVICE && isDir(joinS6(dir, LOG_SUBDIR))) {
      out.push({ name: `${n}/${LOG_SUBDIR}`, dir: joinS6(dir, LOG_SUBDIR) });
    }
  }
  return out;
}

/** 3s, 2m05s, 1h02m, 3d4h */
export function humanDuration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

const DASH = '—';

function lastExitText(l: LastExit | null): string {
  if (!l) return DASH;
  if (l.signal === null && l.exitcode === null) return 'unknown (adopted)';
  return l.signal !== null ? l.signal : `exit ${l.exitcode}`;
}

const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

function colourOf(r: ServiceRow): string {
  switch (r.state) {
    case 'up':
      return GREEN;
    case 'starting':
    case 'paused':
    case 'finishing':
      return YELLOW;
    case 'down':
      return r.wantUp ? RED : DIM;
    default:
      return RED;
  }
}

export function renderTable(rows: readonly ServiceRow[], colour: boolean): string {
  const header = ['NAME', 'STATE', 'PID', 'UPTIME', 'READY', 'RESTARTS', 'LAST EXIT'];
  const cells = rows.map((r) => [
    r.name,
    r.state,
    r.pid === null ? DASH : r.adopted ? `${r.pid} (adopted)` : String(r.pid),
    r.stateSeconds === null ? DASH : humanDuration(r.stateSeconds),
    r.ready === null ? DASH : r.ready ? 'yes' : 'no',
    String(r.restarts),
    lastExitText(r.lastExit),
  ]);
  const width = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(width[i]))).join('  ').trimEnd();
  let out = line(header) + '\n';
  rows.forEach((r, k) => {
    const text = line(cells[k]);
    out += (colour ? colourOf(r) + text + RESET : text) + '\n';
  });
  for (const r of rows) if (r.error) out += `${r.name}: ${r.error}\n`;
  return out;
}

export function run(argv: string[]): number {
  const msg = new Messages('vigil status', USAGE);
  if (argv[0] === '--help') {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    let json = false;
    const rest: string[] = [];
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--') {
        i++;
        break;
      }
      if (a === '--json') json = true;
      else if (a === '--help') {
        process.stdout.write(HELP);
        return 0;
      } else if (a.startsWith('-') && a !== '-') throw msg.usage();
      else rest.push(a);
    }
    rest.push(...argv.slice(i));
    if (rest.length > 1) throw msg.usage();
    const scandir = rest[0] ?? (process.env.VIGIL_SCANDIR || '/run/service');
    let services;
    try {
      services = listServices(scandir);
    } catch (e) {
      throw msg.fatalSys(1, `unable to read ${scandir}`, e);
    }
    const now = tainNow();
    const rows = services.map((s) => {
      try {
        return inspectService(s.name, s.dir, now);
      } catch (e) {
        // one broken service never hides the others
        const r = inspectFallback(s.name, s.dir);
        r.error = strerror(e);
        return r;
      }
    });
    if (json) {
      writeAllSync(1, JSON.stringify(rows, null, 2) + '\n');
    } else {
      const colour = tty.isatty(1) && process.env.NO_COLOR === undefined;
      writeAllSync(1, renderTable(rows, colour));
    }
    return 0;
  } catch (e) {
    return msg.report(e);
  }
}

function inspectFallback(name: string, dir: string): ServiceRow {
  return {
    name, dir, supervised: false, state: 'unknown', pid: null, wantUp: null, normallyUp: true, notifies: false,
    ready: null, stateSeconds: null, restarts: 0, lastExit: null, error: null, adopted: false,
  };
}
