/**
 * `vigil svscan [-c max] [-t ms] [-d fd] [-X fd] [-r] [DIR]`: s6-svscan's options and behaviour
 * (s6-protocol.md §8), every service supervised inside this one process. See src/scanner/scanner.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Scanner, ScannerError, execStopScript } from '../scanner/scanner';
import { InLog } from '../scanner/inlog';
import { Manager } from '../rc/manager';
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
`;

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
  // one bounded line per warning, the same complaint about a service said once (src/formats/servicedir.ts)
  const log = saidOnce((l) => writeErr(l));
  const inlog = new InLog({ log, copyFd: p.logCopy ? 1 : undefined });
  // the service manager: RUNDIR is the scan directory's parent (RUNDIR/service, RUNDIR/s6-rc)
  const rc = p.rc.length ? new Manager({ sources: p.rc, rundir: path.dirname(path.resolve(p.dir)), log: writeErr }) : null;
  let rcStopping = false;
  const sc: Scanner = new Scanner({
    ...(rc ? rc.scannerHooks(inlog.scannerHooks()) : inlog.scannerHooks()),
    // SIGUSR1 does nothing in s6-svscan without a .s6-svscan/SIGUSR1 script: vigil rotates the in-supervisor
    // logdirs then (SIGALRM keeps s6's meaning: scan)
    onSignal: (sig) => {
      if (rc && (sig === 'SIGTERM' || sig === 'SIGINT') && !hasScript(sc.scandir, sig)) {
        // managed services down in reverse dependency order first; a second signal stops at once
        if (rcStopping) return false;
        rcStopping = true;
        const stop = () => sc.command('t');
        rc.shutdown().then(stop, stop);
        return true;
      }
      if (sig !== 'SIGUSR1' || inlog.size === 0 || hasScript(sc.scandir, sig)) return false;
      inlog.rotate();
      return true;
    },
    // services are down: drain every in-supervisor logger into its logdir, then exec finish as usual
    onStopped: (how) => {
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
    readyFd: p.readyFd,
    consoleFd: p.consoleFd,
    subreaper: p.subreaper,
  });
  // an internal error nothing else caught: s6-svscan would exec .s6-svscan/crash
  process.on('uncaughtException', (e) => {
    process.stderr.write(`vigil svscan: fatal: internal error: ${(e as Error)?.stack ?? e}\n`);
    execStopScript(sc.scandir, 'crash');
  });
  try {
    if (rc) rc.prepare(sc.scandir);
    sc.start();
  } catch (e) {
    const code = e instanceof ScannerError ? e.exitCode : 111;
    process.stderr.write(`vigil svscan: fatal: ${(e as Error).message}\n`);
    return code;
  }
  if (rc) {
    rc.attach(sc);
    if (p.rcUp !== undefined) {
      rc.up(p.rcUp).then(
        (r) => {
          if (r.code) writeErr(`vigil svscan: warning: ${p.rcUp} is not fully up (exit ${r.code}${r.failed.length ? `; failed: ${r.failed.join(', ')}` : ''})`);
        },
        () => {},
      );
    }
  }
  // runs until stopped: the scanner execs .s6-svscan/finish (or exits) itself
  return new Promise<number>(() => {});
}
