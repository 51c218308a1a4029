/**
 * `vigil init` command line. Kept apart so the environments engineer's runc/QEMU set-ups and the tests share
 * one definition of the flags (the CLI is a stable interface: add flags, never change these).
 */
export type InitMode = 'container' | 'machine';

export interface InitOptions {
  /** forced mode; undefined = detect (mode.ts) */
  mode?: InitMode;
  basedir: string;
  rundir: string;
  graceMs: number;
  noLoggerWait: boolean;
  /** --log-copy: copy every in-supervisor logged line to the console's stdout as "[name] line" (docker logs) */
  logCopy: boolean;
  /** --external-logger: the catch-all logger as the supervised `vigil log` service (default: inside init) */
  externalLogger: boolean;
  /** how long stage 2 waits for the catch-all logger before going on with the console as the fallback */
  loggerTimeoutMs: number;
  /** the container's main program, after `--` */
  cmd: string[];
  /** positional words before `--`: as a kernel's init these are the kernel's leftover arguments */
  extra: string[];
  /** the service manager (BASEDIR/rc.d): deadline for bringing `default` up (ms, 0 = none; s6-rc's -t) */
  rcTimeoutMs: number;
  /** ... and what a failure does: go on (a warning), or stop (the container exits with s6-rc's code) */
  onRcFailure: 'continue' | 'stop';
  /** --s6-overlay: be s6-overlay v3's /init (overlay.ts); also chosen by `vigil init` when the image looks like one */
  s6Overlay: boolean;
  /** --basedir was given (an explicit basedir is never second-guessed by the s6-overlay detection) */
  basedirGiven: boolean;
}

export const INIT_USAGE = `usage: vigil init [--container|--machine] [--basedir DIR] [--rundir DIR] [--grace MS]
                  [--no-logger-wait] [--logger-timeout MS] [--log-copy] [--external-logger]
                  [--rc-timeout MS] [--on-rc-failure continue|stop] [--s6-overlay] [-- CMD ARGS...]

Run as PID 1 (or as a subreaper under another init): stage 1, the supervision tree, stage 2 (BASEDIR/rc.init),
the shutdown daemon, stages 3 and 4.

  --container         container mode: no mounts, no reboot(2); the exit code is CMD's or RUNDIR/vigil/exitcode's
  --machine           machine mode: mount /proc /sys /dev and a tmpfs on RUNDIR, console, reboot(2) at the end
                      (default: machine only when PID 1 of the initial PID namespace, else container)
  --basedir DIR       rc.init, rc.shutdown, rc.shutdown.final, service/, rc.d/, env/, early-getty (default /etc/vigil)
  --rundir DIR        writable run directory; the scan directory is RUNDIR/service (default /run)
  --grace MS          time between TERM and KILL at shutdown (default 3000); stops early once all have exited
  --no-logger-wait    start stage 2 and the services at once instead of after the catch-all logger is ready;
                      their early output is held by init and handed to the logger when it is up
  --log-copy          also copy every line of services logged inside the supervisor (log-dir) to the
                      console's stdout as "[name] line" (docker logs); a slow stdout drops copies, never logdir lines
  --external-logger   run the catch-all logger as the supervised service s6-svscan-log (\`vigil log\`, a Node
                      process of its own) instead of inside init
  --logger-timeout MS start stage 2 after MS (default 2000) even if the catch-all logger is not ready (its
                      output is held for the logger); a logger that died and is not back within MS (or is
                      not ready after 15 s) sends the uncaught output to the console until it is up
  --rc-timeout MS     BASEDIR/rc.d (s6-rc source definitions, see vigil rc --help): the bundle \`default\` comes up
                      before rc.init; give up after MS (default 0: no limit)
  --on-rc-failure W   if \`default\` does not come up: continue (default; what failed is logged) or stop
                      (the container exits with the service manager's code: 1, or 2 after --rc-timeout; a
                      machine halts), as s6-overlay's S6_BEHAVIOUR_IF_STAGE2_FAILS=2
  --s6-overlay        be s6-overlay v3's /init: /etc/s6-overlay/s6-rc.d, cont-init.d, services.d, cont-finish.d,
                      the S6_* variables (see "Moving from s6-overlay" in the README); chosen by itself when
                      /etc/s6-overlay or /package/admin/s6-overlay* exists and there is no basedir
  -- CMD ARGS...      container mode: the main program, started when rc.init has exited; when it exits the
                      container stops with its exit code (128+N if killed by signal N)
`;

export class UsageError extends Error {}

function num(flag: string, v: string | undefined): number {
  if (v === undefined || !/^[0-9]+$/.test(v)) throw new UsageError(`${flag} needs a number of milliseconds`);
  return Number(v);
}

export function parseInitArgs(argv: string[]): InitOptions | 'help' {
  const o: InitOptions = {
    basedir: '/etc/vigil',
    rundir: '/run',
    graceMs: 3000,
    noLoggerWait: false,
    logCopy: false,
    externalLogger: false,
    loggerTimeoutMs: 2000,
    cmd: [],
    extra: [],
    rcTimeoutMs: 0,
    onRcFailure: 'continue',
    s6Overlay: false,
    basedirGiven: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = (): string => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--':
        // `--` alone (an image's ENTRYPOINT ending in `--` with an empty CMD) means: no main program
        o.cmd = argv.slice(i + 1);
        return o;
      case '--help':
      case '-h':
        return 'help';
      case '--container':
        o.mode = 'container';
        break;
      case '--machine':
        o.mode = 'machine';
        break;
      case '--basedir':
        o.basedir = next();
        o.basedirGiven = true;
        break;
      case '--rundir':
        o.rundir = next();
        break;
      case '--grace':
        o.graceMs = num(a, next());
        break;
      case '--logger-timeout':
        o.loggerTimeoutMs = num(a, next());
        break;
      case '--no-logger-wait':
        o.noLoggerWait = true;
        break;
      case '--log-copy':
        o.logCopy = true;
        break;
      case '--s6-overlay':
        o.s6Overlay = true;
        break;
      case '--external-logger':
        o.externalLogger = true;
        break;
      case '--rc-timeout':
        o.rcTimeoutMs = num(a, next());
        break;
      case '--on-rc-failure': {
        const w = next();
        if (w !== 'continue' && w !== 'stop') throw new UsageError('--on-rc-failure is continue or stop');
        o.onRcFailure = w;
        break;
      }
      default:
        if (!a.startsWith('-')) {
          o.extra.push(a);
          break;
        }
        throw new UsageError(`unknown argument: ${argv[i]}`);
    }
  }
  return o;
}
