/**
 * `vigil svscan [-c max] [-t ms] [-d fd] [-X fd] [-r] [DIR]`: s6-svscan's options and behaviour
 * (s6-protocol.md §8), every service supervised inside this one process. See src/scanner/scanner.ts.
 *
 * Re-exec (src/supervisor/reexec.ts): on an internal fault (uncaught exception, unhandled rejection) or on
 * request (`vigil reexec DIR`: the R byte), the scanner and the in-supervisor loggers hand their state over
 * (src/sys/handover.ts) and the process execs itself; the new image finds $VIGIL_REEXEC_STATE and resumes:
 * every service keeps running, nothing restarts. A second fault within the repeat window, or a state that
 * cannot be handed over or read back, does what a fault did before: exec .s6-svscan/crash (exit 111 without).
 * With --rc, the service manager's state goes too (src/rc/manager.ts handover/resume): which services are up,
 * a transition in flight with its oneshots and deadlines, the control socket and its clients.
 *
 * A blocked event loop: the watchdog (src/supervisor/watchdog.ts, VIGIL_WATCHDOG_MS, default 10 s, 0 = off)
 * execs this command "cold", with no state: the new image finds $VIGIL_REEXEC_COLD, starts as a fresh
 * scanner would, and takes every running service back through supervise/vigil-run (our own children still:
 * their exits keep their real status). Within the repeat window of an earlier fault re-exec, the new image
 * execs .s6-svscan/crash instead, as a second fault does. (Not with --rc: the watchdog is off there, the
 * service manager's state would be lost.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Scanner, ScannerError, ScannerState, execStopScript } from '../scanner/scanner';
import { InLog, InLogState } from '../scanner/inlog';
import { decideOnFault, REEXEC_FORMAT, REEXEC_FORMAT_2 } from '../supervisor/reexec';
import { armWatchdog, disarmWatchdog, takeColdMarker } from '../supervisor/watchdog';
import { realClock } from '../supervisor/timers';
import { reexecSelf, takeHandover } from '../sys/handover';
import { SVSCAN_DIR } from '../formats/paths';
import { JobResult, Manager, ManagerState } from '../rc/manager';
import { saidOnce } from '../formats/servicedir';

const HELP = `usage: vigil svscan [-c max] [-t ms] [-d fd] [-X fd] [-r] [-L] [--rc SRC]... [--rc-up NAME] [DIR]

Supervise every service directory of DIR (default: the current directory), s6-svscan style.
  -c max   at most max services (default 500, 2..90000)
  -t ms    rescan every ms milliseconds (0: only on SIGHUP, SIGALRM or 's6-svscanctl -a')
  -d fd    write a newline to fd (>= 3) and close it once ready, before the first scan
  -X fd    console holder: the s6-svscan-log service gets fd as stderr; fds 1 and 2 come back from it at stop
  -r       become a child subreaper (reap orphans as PID 1 does)
  -L       (also --log-copy) copy every in-supervisor logged line to stdout as "[name] line" (docker logs)
  --rc SRC     host the service manager over the s6-rc source directory SRC (repeatable): its longruns are
               linked into DIR, the live directory is DIR/../s6-rc, vigil rc talks to it (VIGIL_RUNDIR=DIR/..)
  --rc-up NAME once started, bring NAME (a service or bundle, e.g. default) up
  With --rc, SIGTERM/SIGINT first bring every managed service down in reverse dependency order.
In-supervisor logging: a service with a log-dir file (and no log/) is logged by this process into that
logdir (log-script: s6-log directives, one per line). SIGUSR1 rotates those logdirs (unless a
.s6-svscan/SIGUSR1 script exists, which then runs instead, as in s6).
Control: DIR/.s6-svscan/control takes s6-svscanctl's letters (z a b h i t q n N).
Signals: .s6-svscan/SIG<NAME> scripts replace the default action (HUP: h, INT/TERM: t, QUIT: q,
ABRT: b, ALRM: scan). When stopped, .s6-svscan/finish is exec'd (no arguments).
Re-exec: 'vigil reexec DIR' (or an internal fault) makes the scanner exec itself again, services kept
running; a second fault within 30 s execs .s6-svscan/crash instead (exit 111 without one).
Watchdog: an event loop blocked for VIGIL_WATCHDOG_MS (default 10000; 0: off) makes the scanner exec
itself too, with no state: every running service is taken back from supervise/.
`;

/** what a vigil svscan hands to its next image */
interface SvscanHandover {
  v: number;
  kind: 'svscan';
  why: 'fault' | 'request';
  /** monotonic ms of the fault re-execs so far (the repeat window) */
  faults: number[];
  scanner: ScannerState;
  inlog: InLogState;
  /** --rc: the service manager (format 2) */
  rc?: ManagerState;
}

/** the handed-over state, checked enough to be used (the same command on the same directory) */
function checkHandover(h: unknown, dir: string): SvscanHandover {
  const x = h as Partial<SvscanHandover> | null;
  if (!x || typeof x !== 'object' || (x.v !== REEXEC_FORMAT && x.v !== REEXEC_FORMAT_2) || x.kind !== 'svscan') {
    throw new Error(`a re-exec state this version does not read (format ${String(x?.v)}, ${String(x?.kind)})`);
  }
  if (!x.scanner || !Array.isArray(x.scanner.entries) || !Array.isArray(x.inlog) || !Array.isArray(x.faults)) {
    throw new Error('a malformed re-exec state');
  }
  if (x.scanner.scandir !== path.resolve(dir)) throw new Error(`the re-exec state is for ${x.scanner.scandir}, not ${path.resolve(dir)}`);
  return x as SvscanHandover;
}

interface Parsed {
  max?: number;
  rescanMs?: number;
  readyFd?: number;
  consoleFd?: number;
  subreaper: boolean;
  logCopy: boolean;
  rc: string[];
  rcUp?: string;
  dir: string;
}

function parse(argv: string[]): Parsed | string {
  const out: Parsed = { subreaper: false, logCopy: false, rc: [], dir: '.' };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--log-copy') {
      out.logCopy = true;
      continue;
    }
    if (a === '--rc' || a === '--rc-up') {
      if (i + 1 >= argv.length) return `option ${a} needs a value`;
      if (a === '--rc') out.rc.push(argv[++i]);
      else out.rcUp = argv[++i];
      continue;
    }
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (c === 'r') {
        out.subreaper = true;
        continue;
      }
      if (c === 'L') {
        out.logCopy = true;
        continue;
      }
      if (!'ctdX'.includes(c)) return `unknown option -${c}`;
      let val = a.slice(j + 1);
      if (val === '') {
        i++;
        if (i >= argv.length) return `option -${c} needs a value`;
        val = argv[i];
      }
      if (!/^[0-9]+$/.test(val)) return `option -${c} needs an unsigned integer`;
      const v = Number(val);
      if (c === 'c') out.max = v;
      else if (c === 't') out.rescanMs = v;
      else if (c === 'd') {
        if (v < 3) return '-d needs an fd >= 3';
        out.readyFd = v;
      } else {
        if (v < 3) return '-X needs an fd >= 3';
        out.consoleFd = v;
      }
      break;
    }
  }
  if (i < argv.length) out.dir = argv[i];
  if (out.rcUp !== undefined && !out.rc.length) return '--rc-up needs --rc';
  return out;
}

function writeErr(line: string): void {
  try {
    fs.writeSync(2, line.endsWith('\n') ? line : line + '\n');
  } catch {
    /* stderr gone */
  }
}

function hasScript(scandir: string, sig: string): boolean {
  try {
    fs.accessSync(path.join(scandir, '.s6-svscan', sig), fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function run(argv: string[]): Promise<number> | number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const p = parse(argv);
  if (typeof p === 'string') {
    process.stderr.write(`vigil svscan: usage: ${p}\n${HELP}`);
    return 100;
  }
  // a re-exec of this command: the previous image's state (or null on a normal start)
  let handed: SvscanHandover | null = null;
  try {
    const h = takeHandover();
    if (h !== null) handed = checkHandover(h, p.dir);
  } catch (e) {
    // the services are our children but cannot be taken back: what a fault did before re-exec existed
    writeErr(`vigil svscan: fatal: unable to resume after a re-exec: ${(e as Error).message}`);
    execStopScript(path.resolve(p.dir), 'crash');
  }
  // a cold re-exec (the watchdog fired in the previous image): no state; a repeat is today's fault
  const cold = handed ? null : takeColdMarker();
  let coldFaults: number[] | null = null;
  if (cold) {
    const d = decideOnFault(cold.faults, cold.at);
    if (!d.reexec) {
      writeErr(`vigil svscan: not re-executing: ${d.why}`);
      execStopScript(path.resolve(p.dir), 'crash');
    }
    coldFaults = d.faults;
  }
  // one bounded line per warning, the same complaint about a service said once (src/formats/servicedir.ts)
  const log = saidOnce((l) => writeErr(l));
  const inlog = new InLog({ log, copyFd: p.logCopy ? 1 : undefined });
  if (handed) inlog.resume(handed.inlog);
  // the service manager: RUNDIR is the scan directory's parent (RUNDIR/service, RUNDIR/s6-rc)
  const rc = p.rc.length ? new Manager({ sources: p.rc, rundir: path.dirname(path.resolve(p.dir)), log: writeErr }) : null;
  let rcStopping = false;
  /** the service manager is set up (a fault before that is not re-exec'd) */
  let rcPrepared = false;
  const rcUpDone = (r: JobResult): void => {
    if (r.code) writeErr(`vigil svscan: warning: ${p.rcUp} is not fully up (exit ${r.code}${r.failed.length ? `; failed: ${r.failed.join(', ')}` : ''})`);
  };
  // everything managed is down (SIGTERM/SIGINT): the tree stops
  const rcDownDone = (): void => sc.command('t');
  const sc: Scanner = new Scanner({
    ...(rc ? rc.scannerHooks(inlog.scannerHooks()) : inlog.scannerHooks()),
    // SIGUSR1 does nothing in s6-svscan without a .s6-svscan/SIGUSR1 script: vigil rotates the in-supervisor
    // logdirs then (SIGALRM keeps s6's meaning: scan)
    onSignal: (sig) => {
      if (rc && (sig === 'SIGTERM' || sig === 'SIGINT') && !hasScript(sc.scandir, sig)) {
        // managed services down in reverse dependency order first; a second signal stops at once
        if (rcStopping) return false;
        rcStopping = true;
        rc.shutdown().then(rcDownDone, rcDownDone);
        return true;
      }
      if (sig !== 'SIGUSR1' || inlog.size === 0 || hasScript(sc.scandir, sig)) return false;
      inlog.rotate();
      return true;
    },
    // services are down: drain every in-supervisor logger into its logdir, then exec finish as usual
    onStopped: (how) => {
      disarmWatchdog();
      if (rc) rc.close();
      const hold = () => {};
      process.on('SIGUSR1', hold); // the scanner's handlers are gone: keep Node's inspector off meanwhile
      inlog.closeAll().then(
        () => execStopScript(sc.scandir, how),
        () => execStopScript(sc.scandir, how),
      );
    },
    log,
    scandir: p.dir,
    rescanMs: p.rescanMs,
    maxServices: p.max,
    // readiness was written (and its fd closed) by the first image
    readyFd: handed ? undefined : p.readyFd,
    resume: handed?.scanner,
    cold: cold !== null,
    onReexec: () => {
      const why = reexec('request');
      writeErr(`vigil svscan: warning: unable to re-execute: ${why} - carrying on`);
    },
    consoleFd: p.consoleFd,
    subreaper: p.subreaper,
  });
  let faults = handed?.faults ?? coldFaults ?? [];
  /** hand everything over and exec this command again; returns (why not) only when it did not happen */
  const reexec = (why: 'fault' | 'request'): string => {
    if (rc && !handed?.rc && !rcPrepared) return 'the service manager is not set up yet';
    let next = faults;
    if (why === 'fault') {
      const d = decideOnFault(faults, realClock.now());
      if (!d.reexec) return d.why;
      next = d.faults;
    }
    try {
      const s = sc.handover();
      const l = inlog.handover();
      const m = rc ? rc.handover() : null;
      const state: SvscanHandover = {
        v: m ? REEXEC_FORMAT_2 : REEXEC_FORMAT, kind: 'svscan', why, faults: next, scanner: s.state, inlog: l.state, ...(m ? { rc: m.state } : {}),
      };
      faults = next;
      reexecSelf(state, [path.join(sc.scandir, SVSCAN_DIR)], [...s.fds, ...l.fds, ...(m ? m.fds : [])]);
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      return x.code ? `${x.syscall ?? 'exec'}: ${x.code}` : x.message;
    }
  };
  // an internal error nothing else caught: re-exec (services kept); else, as s6-svscan, exec .s6-svscan/crash
  const onFault = (what: string, e: unknown) => {
    writeErr(`vigil svscan: fatal: internal error (${what}): ${(e as Error)?.stack ?? e}`);
    const why = reexec('fault');
    writeErr(`vigil svscan: not re-executing: ${why}`);
    execStopScript(sc.scandir, 'crash');
  };
  process.on('uncaughtException', (e) => onFault('uncaught exception', e));
  process.on('unhandledRejection', (e) => onFault('unhandled rejection', e));
  try {
    if (rc && handed?.rc) {
      // the previous image's service manager, before the scanner takes its supervisions back: its oneshots'
      // exits and its longruns' events wait for resumed(); `--rc-up` and the SIGTERM shutdown answer here again
      rc.resume(handed.rc, (tag) => (tag === 'up' ? rcUpDone : tag === 'shutdown' ? rcDownDone : undefined));
      if (handed.rc.jobs.some((j) => j.tag === 'shutdown')) rcStopping = true;
      rc.attach(sc);
    } else if (rc) rc.prepare(sc.scandir);
    rcPrepared = true;
    sc.start();
    if (rc && handed?.rc) rc.resumed();
  } catch (e) {
    const code = e instanceof ScannerError ? e.exitCode : 111;
    process.stderr.write(`vigil svscan: fatal: ${(e as Error).message}\n`);
    if (handed) execStopScript(sc.scandir, 'crash');
    return code;
  }
  if (handed) {
    const n = sc.services().reduce((k, s) => k + (s.main ? 1 : 0) + (s.log ? 1 : 0), 0);
    writeErr(`vigil svscan: re-executed ${handed.why === 'fault' ? 'after an internal fault' : 'on request'}: ${n} supervisions carried over`);
  }
  if (cold) {
    const n = sc.services().reduce((k, s) => k + (s.main && s.main.pid > 0 ? 1 : 0) + (s.log && s.log.pid > 0 ? 1 : 0), 0);
    writeErr(`vigil svscan: re-executed after a blocked event loop (${cold.blockedMs} ms, no state): ${n} running services taken back`);
  }
  // the watchdog: from here on (start-up is not watched); not with --rc (its state would be lost)
  // (-X's console fd is used by number: kept open across its exec, as across a warm one)
  if (!rc) armWatchdog({ who: 'vigil svscan', faults, keep: p.consoleFd !== undefined ? [p.consoleFd] : [], warn: (l) => writeErr(`vigil svscan: warning: ${l}`) });
  if (rc && !handed?.rc) {
    rc.attach(sc);
    if (p.rcUp !== undefined) rc.up(p.rcUp).then(rcUpDone, () => {});
  }
  // runs until stopped: the scanner execs .s6-svscan/finish (or exits) itself
  return new Promise<number>(() => {});
}
