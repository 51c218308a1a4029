/**
 * `vigil svscan [-c max] [-t ms] [-d fd] [-X fd] [-r] [DIR]`: s6-svscan's options and behaviour
 * (s6-protocol.md §8), every service supervised inside this one process. See src/scanner/scanner.ts.
 */
import { Scanner, ScannerError, execStopScript } from '../scanner/scanner';

const HELP = `usage: vigil svscan [-c max] [-t ms] [-d fd] [-X fd] [-r] [DIR]

Supervise every service directory of DIR (default: the current directory), s6-svscan style.
  -c max   at most max services (default 500, 2..90000)
  -t ms    rescan every ms milliseconds (0: only on SIGHUP, SIGALRM or 's6-svscanctl -a')
  -d fd    write a newline to fd (>= 3) and close it once ready, before the first scan
  -X fd    console holder: the s6-svscan-log service gets fd as stderr; fds 1 and 2 come back from it at stop
  -r       become a child subreaper (reap orphans as PID 1 does)
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
  dir: string;
}

function parse(argv: string[]): Parsed | string {
  const out: Parsed = { subreaper: false, dir: '.' };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
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
  return out;
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
  const sc = new Scanner({
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
    sc.start();
  } catch (e) {
    const code = e instanceof ScannerError ? e.exitCode : 111;
    process.stderr.write(`vigil svscan: fatal: ${(e as Error).message}\n`);
    return code;
  }
  // runs until stopped: the scanner execs .s6-svscan/finish (or exits) itself
  return new Promise<number>(() => {});
}
