/**
 * `vigil init`: stage 1, the supervision tree (in this same process), stage 2, the shutdown daemon, stages
 * 3 and 4. The design, the signal table and the exit codes are in README.md next to this file.
 *
 * The order of stage 1, and why:
 *   1. mode (mode.ts); machine: mounts (mounts.ts), /dev/console, RB_DISABLE_CAD; container: subreaper
 *      when not PID 1.
 *   2. the console holder (console.ts) — dups of the original stdio, before anything touches them.
 *   3. RUNDIR/service emptied (refused if a scanner holds it) and the early services written
 *      (services.ts); RUNDIR/vigil made, a stale exitcode removed; BASEDIR/env loaded.
 *   4. the fifo trick: open the catch-all fifo O_RDONLY|O_NONBLOCK, open it O_WRONLY, close the read end,
 *      dup2 the write end onto 1 and 2. In the same turn init's *fallback reader* (fallback.ts) opens the
 *      fifo: nothing can ever write into it with no reader, and what is written before the logger is ready
 *      is held and handed to it later.
 *   5. the shutdown daemon's fifo, the signal handlers, the scanner (src/scanner) over the early services.
 *   6. when the catch-all logger signals readiness (its `U` event, seen through an event/ subscription), or
 *      at once with --no-logger-wait, or after --logger-timeout with the console as the fallback: the user's
 *      services are copied into the scandir and scanned, and stage 2 is forked. Stage 2 still re-opens the
 *      fifo write-only *blocking* in the child before exec (shim `fifoWrite`), so a logger that died in
 *      between is waited for (the fallback reader makes that wait short and safe).
 *
 * From step 6 on, everything that changes init's state is a transition of the machine in machine.ts (a
 * pure step); this file is its world: it turns each effect into system calls and each thing that happens
 * (a signal, a child's exit, the logger's events, a shutdown record, a timer) into an event.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import { native } from '../sys/native';
import { spawnProcess, which } from '../sys/spawn';
import { holdReaping, installReaper, onDrained, onExit, setReaperErrorHandler, setSubreaper } from '../sys/reaper';
import { watchReadable, readAvailable, FdWatch, awaitEof } from '../sys/fdwatch';
import { execReplace } from '../sys/exec';
import { SIGNALS } from '../sys/signals';
import { describeWaitStatus } from '../sys/waitstatus';
import { subscribeFifodir, Subscription } from '../formats/fifodir';
import { readStatus } from '../formats/status';
import { Scanner, ScannerState } from '../scanner/scanner';
import { JobResult, Manager, ManagerState } from '../rc/manager';
import { copySink, InLog, InLogState } from '../scanner/inlog';
import { reexecSelf, replaceEnv } from '../sys/handover';
import { ColdMarker, decideOnFault, initNote, parseInitNote, REEXEC_FORMAT, REEXEC_FORMAT_2 } from '../supervisor/reexec';
import { armWatchdog, noteWatchdog } from '../supervisor/watchdog';
import { reopenFdEx } from '../sys/fds';
import { isDir } from '../sys/stat';
import { Sink } from '../sys/sink';
import { CatchAll } from './catchall';
import { InitMode, InitOptions } from './options';
import { decideMode, probeMode } from './mode';
import { applyEnvdir, readEnvdir } from './envdir';
import { CONSOLE_MAX, ConsoleHolder } from './console';
import { FallbackReader } from './fallback';
import {
  copyUserServices, LOGGER_SERVICE, writeEarlyGetty, writeInternalLoggerDir, writeLoggerService, writeShutdowndService,
} from './services';
import { RecordParser, SHUTDOWND_SERVICE } from './protocol';
import { childrenOf, procMatchesUs, signalAll } from './procs';
import { Effect, Event, initialState, MachineConfig, State, step, TimerId } from './machine';
import { TimerHandle, TimerQueue } from '../supervisor/timers';
import { kernelRunlevel, mountEarly, umountAll } from './mounts';
import {
  OVERLAY_SHARE, OverlayConfig, catchAllPlan, etcDir, imageInternalSources, mergeInternal, overlayConfig, overlayPath, overlayPaths, overlaySources, prepareOverlayRun, settingsText,
} from './overlay';
import { ROOT } from '../sys/native';
import { waitStatusToExitCode } from '../sys/waitstatus';
import { exitcodeFile as s6oExitcodeFile, readExitcode } from '../formats/s6overlay';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_RDWR } = fs.constants;
/** at the end, how long messages still held for the console (or the stdout copy) may delay the exit */
const EXIT_SETTLE_MS = 500;

/** the phases a re-exec hands over (InitHandover) */
const HANDED_PHASES: ReadonlySet<State['phase']> = new Set<State['phase']>(['services-up', 'stage2', 'cmd', 'running', 'services-down']);

/** a stage 1 failure with a message for the user (no stack trace) */
class StageOneError extends Error {}

/**
 * What init hands to its next image (a re-exec: src/supervisor/reexec.ts), in both modes, with or without a
 * service manager (BASEDIR/rc.d, or s6-overlay mode's sources), with the catch-all logger inside init or
 * --external-logger. From the moment the catch-all logger is ready until the shutdown's scripts start: the
 * service manager bringing `default`/`top` up (services-up), rc.init running (stage2; its pid), CMD or the
 * tree running, the managed services going down (services-down). Earlier (stage 1, the logger not yet or no
 * longer ready, S6_STAGE2_HOOK) and later (rc.shutdown onwards: the tree is being taken apart anyway) a
 * fault does what it did before re-exec existed. fds by number (kept open across the exec); timers as
 * monotonic deadlines. Both modes: what stage 1 did to the system (mounts, the session, ctrl-alt-del, the
 * keyboard request) outlives the exec.
 *
 * The environment: the new image is exec'd with the environment the *first* image started with (startEnv),
 * so it decides what the first one decided from it (s6-overlay mode's S6_* settings, which S6_KEEP_ENV=0
 * removes from process.env before anything runs); `env` is process.env as the tree has it (BASEDIR/env
 * applied, VIGIL_RUNDIR, S6_KEEP_ENV=0's reduction), put back before anything is spawned again.
 */
export interface InitHandover {
  v: number;
  kind: 'init';
  why: 'fault' | 'request';
  faults: number[];
  machine: State;
  timers: Array<{ id: TimerId; when: number }>;
  cmdPid: number;
  console: [number, number, number];
  /** the scanner's consoleFd (the catch-all logger service's stderr) */
  consoleFd: number | null;
  devnull: number;
  fifo: string;
  childFifoFd: number;
  catchAllFd: number;
  sd: [number, number];
  workdir: string;
  kernelInit: boolean;
  useProc: boolean;
  scanner: ScannerState;
  inlog: InLogState;
  /** the service manager (null: none) */
  rc: ManagerState | null;
  /** process.env as the tree has it (see above) */
  env: Record<string, string>;
  /** rc.init, while it runs (0: not running) */
  stage2Pid: number;
  /** s6-overlay mode: S6_STAGE2_HOOK's failure code; CMD's own code once it ended on its own */
  hookCode: number;
  cmdCode: number | null;
}

export class Init {
  readonly mode: InitMode;
  readonly scandir: string;
  readonly rundir: string;
  readonly basedir: string;
  private console!: ConsoleHolder;
  private fifo = '';
  private fallback: FallbackReader | null = null;
  /** blocking description of the catch-all fifo for children (services' stdout/stderr); init never writes it */
  private childFifoFd = -1;
  private scanner: Scanner | null = null;
  /** the service manager over BASEDIR/rc.d, when there is one */
  private rc: Manager | null = null;
  private loggerSub: Subscription | null = null;
  private sdRead = -1;
  private sdWrite = -1;
  private sdWatch: FdWatch | null = null;
  private sdParser = new RecordParser();
  private cmdPid = 0;
  private finished: (code: number) => void = () => {};
  private devnull: number;
  private useProc = false;
  /** the machine (machine.ts): its configuration, its state, the events waiting to be stepped */
  private readonly cfg: MachineConfig;
  private state: State = initialState();
  private readonly events: Event[] = [];
  private stepping = false;
  /** the machine's timers, on the monotonic clock */
  private readonly timers = new TimerQueue();
  private readonly timerHandles = new Map<TimerId, TimerHandle>();
  /** stage 3: the pids spared by "every process is gone" (the catch-all logger), while it is watched */
  private goneSpare: ReadonlySet<number> | null = null;
  private stopGoneWatch: (() => void) | null = null;
  /** the catch-all logger inside init (null with --external-logger, and once closed) */
  private catchAll: CatchAll | null = null;
  /** the scanner's tree has ended; scanner-stopped has been dispatched */
  private treeDone = false;
  private stoppedSent = false;
  /** the catch-all logger's copy to the container's stdout */
  private copySink: Sink | null = null;
  /** init's own lines to its fd 2 (the catch-all fifo from the fifo trick on) */
  private logSink: Sink | null = null;
  /** PID 1 of the initial PID namespace: only then does stage 4 unmount and remount filesystems */
  private kernelInit = false;
  /**
   * The working directory init was started in (an image's WORKDIR), taken before stage 1 moves init to /:
   * CMD starts there, as with tini, dumb-init and s6-overlay. Stage 2 and the scripts keep /, services their
   * service directory.
   */
  workdir: string;
  /** --s6-overlay: the S6_* settings (overlay.ts); null in vigil's own mode */
  readonly overlay: OverlayConfig | null;
  /** s6-overlay mode: S6_STAGE2_HOOK's exit code when it failed */
  private hookCode = 0;
  /** s6-overlay mode: CMD exited on its own (before any shutdown): its code is the container's */
  private cmdCode: number | null = null;
  /** the scanner's consoleFd, the in-supervisor loggers (a re-exec hands them over) */
  private consoleFd: number | undefined = undefined;
  private inlog: InLog | null = null;
  /** monotonic ms of the fault re-execs so far (the repeat window) */
  private faults: number[] = [];
  /** the environment this process was exec'd with (a re-exec execs the next image with it again) */
  private readonly startEnv: NodeJS.ProcessEnv;
  /** rc.init while it runs */
  private stage2Pid = 0;

  constructor(private readonly o: InitOptions) {
    this.rundir = path.resolve(o.rundir);
    this.basedir = path.resolve(o.basedir);
    this.scandir = path.join(this.rundir, 'service');
    this.mode = decideMode(o.mode, probeMode());
    this.workdir = startDir();
    this.startEnv = { ...process.env };
    this.overlay = o.s6Overlay ? overlayConfig(process.env) : null;
    const ov = this.overlay;
    this.cfg = {
      mode: this.mode, hasCmd: o.cmd.length > 0, graceMs: ov?.killGracetime ?? o.graceMs, loggerTimeoutMs: o.loggerTimeoutMs, noLoggerWait: o.noLoggerWait,
      // S6_BEHAVIOUR_IF_STAGE2_FAILS: 0 and 1 go on (vigil always names what failed), 2 stops with the code
      rcFailure: ov ? (ov.behaviour >= 2 ? 'stop' : 'continue') : o.onRcFailure,
    };
    this.devnull = -1;
    try {
      this.devnull = fs.openSync('/dev/null', O_RDWR);
    } catch {
      /* machine mode before /dev is mounted: opened later */
    }
  }

  /** Everything init says goes through here: to the catch-all fifo (init's fd 2), never blocking. */
  log(line: string): void {
    const text = line.endsWith('\n') ? line : line + '\n';
    if (this.logSink && !this.logSink.dead) this.logSink.write(text);
    else if (this.console) this.console.say(text);
  }

  private warn(m: string): void {
    this.log(`vigil init: warning: ${m}`);
  }

  /**
   * Runs stage 1 and resolves with the container's exit code (never, in machine mode: reboot(2) ends it).
   * With the state a previous image handed over (a re-exec), takes the running container back instead.
   */
  boot(handed: InitHandover | Error | null = null, cold: ColdMarker | null = null): Promise<number> {
    // PID 1 ends by reboot(2) or by finished(), never because its event loop ran dry: the SIGCHLD listener
    // does not hold the loop (Node's signal handles are unref'd), so while only a script (rc.shutdown.final)
    // runs, nothing else would. One ref'd timer holds it (it would fire once in 24.8 days, doing nothing).
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    const done = new Promise<number>((resolve) => {
      this.finished = (code) => {
        clearInterval(keepAlive);
        resolve(code);
      };
    });
    process.on('uncaughtException', (e) => this.crash(e));
    process.on('unhandledRejection', (e) => this.crash(e));
    const go = (): void => {
      try {
        this.stage1();
      } catch (e) {
        // PID 1 must not return from here in machine mode (the kernel would panic): the crash path decides
        this.crash(e);
      }
    };
    if (handed instanceof Error) {
      // a re-exec whose state cannot be read: what a fault did before re-exec existed
      this.console = ConsoleHolder.fromStdio();
      this.crash(new StageOneError(`unable to resume after a re-exec: ${handed.message}`));
    } else if (handed) {
      try {
        this.resumeFrom(handed);
      } catch (e) {
        this.console = this.console ?? ConsoleHolder.fromStdio();
        this.crash(new StageOneError(`unable to resume after a re-exec: ${(e as Error).stack ?? e}`));
      }
    } else if (cold) {
      try {
        this.coldResume(cold);
      } catch (e) {
        this.console = this.console ?? ConsoleHolder.fromStdio();
        this.crash(new StageOneError(`unable to resume after the watchdog's re-exec: ${e instanceof StageOneError ? e.message : (e as Error).stack ?? e}`));
      }
    } else if (this.overlay) {
      try {
        this.overlayBoot(go);
      } catch (e) {
        this.console = ConsoleHolder.fromStdio();
        this.crash(new StageOneError(`s6-overlay mode: ${(e as Error).message}`));
      }
    } else go();
    return done;
  }

  /**
   * s6-overlay mode, before stage 1 (its preinit, stage0 and the start of rc.init): the run directory cleaned,
   * the environment dumped to RUNDIR/s6/container_environment, then (S6_KEEP_ENV=0) reduced to PATH; the
   * settings file for vigil's legacy-directory scripts; then S6_STAGE2_HOOK, which may still edit the
   * sources: they are read by stage 1, after it.
   */
  private overlayBoot(then: () => void): void {
    const ov = this.overlay!;
    fs.mkdirSync(this.rundir, { recursive: true });
    // a read-only root (S6_READ_ONLY_ROOT or not): /run gets a tmpfs when it is not writable and we may mount
    try {
      fs.accessSync(this.rundir, fs.constants.W_OK);
    } catch {
      const c = native().constants;
      try {
        native().mount('tmpfs', this.rundir, 'tmpfs', c.MS_NOSUID | c.MS_NODEV, 'mode=0755');
      } catch (e) {
        throw new Error(`${this.rundir} is not writable and no tmpfs can be mounted there: ${(e as Error).message}`);
      }
    }
    const PATH = overlayPath(process.env.PATH);
    process.env.PATH = PATH;
    prepareOverlayRun(this.rundir, process.env, this.workdir);
    if (!ov.keepEnv) for (const k of Object.keys(process.env)) if (k !== 'PATH') delete process.env[k];
    process.env.VIGIL_RUNDIR = this.rundir;
    const main = process.argv[1] && fs.existsSync(process.argv[1]) ? process.argv[1] : path.join(ROOT, 'bin', 'vigil');
    fs.writeFileSync(overlayPaths(this.rundir).settings, settingsText(ov, { etc: etcDir(ov), scandir: this.scandir, node: process.execPath, main }));
    for (const w of ov.warnings) this.earlySay(`vigil init: warning: ${w}`);
    if (ov.catchallUser !== null && process.getuid?.() === 0) {
      this.earlySay(`vigil init: warning: S6_CATCHALL_USER=${ov.catchallUser} is not applied: the catch-all logger is part of vigil init, not a process that could run as another user`);
    }
    // S6_WAIT_FOR_CLOSING_FD (s6-linux-init -W): nothing runs until the container manager closes that fd (the
    // watcher holds the event loop meanwhile); the environment is already dumped, as files, nothing started
    if (ov.waitClosingFd >= 3) {
      const fd = ov.waitClosingFd;
      awaitEof(fd, (err) => {
        if (err) this.earlySay(`vigil init: warning: S6_WAIT_FOR_CLOSING_FD=${fd}: ${err.message}: not waited for`);
        this.overlayHook(then);
      });
      return;
    }
    this.overlayHook(then);
  }

  /** s6-overlay mode: S6_STAGE2_HOOK (when set), reaped, then `then` */
  private overlayHook(then: () => void): void {
    const ov = this.overlay!;
    if (!ov.stage2Hook.length) return then();
    // the hook's output goes to the container's stdio (there is no catch-all logger yet); a signal to PID 1
    // while it runs reaches it, and is acted on once the tree is up
    const held: NodeJS.Signals[] = [];
    let hookPid = 0;
    const onSig = (sig: NodeJS.Signals): void => {
      held.push(sig);
      if (hookPid > 0) {
        try {
          process.kill(hookPid, sig);
        } catch {
          /* gone */
        }
      }
    };
    const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    for (const sg of sigs) process.on(sg, onSig);
    // nothing else holds the event loop yet (signal handlers and the reaper do not): keep it alive meanwhile
    const alive = setInterval(() => {}, 1 << 30);
    const after = (code: number): void => {
      clearInterval(alive);
      for (const sg of sigs) process.off(sg, onSig);
      if (code !== 0) {
        this.hookCode = code;
        if (ov.behaviour >= 1) this.earlySay(`vigil init: warning: S6_STAGE2_HOOK (${ov.stage2Hook.join(' ')}) exited ${code}`);
      }
      then();
      for (const sg of held) this.dispatch({ type: 'signal', sig: sg.slice(3) });
    };
    const hook = ov.stage2Hook;
    installReaper();
    try {
      hookPid = spawnProcess({
        argv: hook, env: process.env, fds: [0, 1, 2], setsid: false, cwd: '/',
        onExit: (status) => after(waitStatusToExitCode(status)),
      });
    } catch (e) {
      this.earlySay(`vigil init: warning: unable to run S6_STAGE2_HOOK ${hook[0]}: ${(e as Error).message}`);
      after((e as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126);
    }
  }

  // ------------------------------------------------------------------------------------------ stage 1

  private stage1(): void {
    const sh = native();
    process.chdir('/');
    if (this.mode === 'machine') {
      process.umask(0o022);
      this.ensureStdio();
      mountEarly(this.rundir, (m) => this.earlySay(m));
      try {
        this.console = ConsoleHolder.fromDevice('/dev/console');
      } catch {
        this.console = ConsoleHolder.fromStdio();
      }
      try {
        sh.reboot(sh.constants.RB_DISABLE_CAD);
      } catch (e) {
        this.console.say(`vigil init: warning: unable to trap ctrl-alt-del: ${(e as Error).message}`);
      }
      try {
        const tty0 = fs.openSync('/dev/tty0', O_RDONLY | fs.constants.O_NOCTTY);
        try {
          sh.kdSigAccept(tty0, SIGNALS.WINCH);
        } finally {
          fs.closeSync(tty0);
        }
      } catch {
        /* no virtual terminal (serial console): nothing to do */
      }
      try {
        sh.setsid();
      } catch {
        /* already a session leader */
      }
    } else {
      this.console = ConsoleHolder.fromStdio();
      if (process.pid !== 1) setSubreaper(true);
    }
    if (this.devnull < 0) this.devnull = fs.openSync('/dev/null', O_RDWR);
    const probe = probeMode();
    this.kernelInit = probe.pid === 1 && probe.pid2Comm === 'kthreadd';
    this.useProc = procMatchesUs();
    setReaperErrorHandler((e, pid) => this.warn(`exit handler for pid ${pid} failed: ${(e as Error).message}`));

    // the run directory
    try {
      this.prepareRundir();
    } catch (e) {
      throw new StageOneError(`unable to prepare the run directory ${this.rundir}: ${(e as Error).message}`);
    }
    applyEnvdir(process.env, readEnvdir(path.join(this.basedir, 'env'), (m) => this.console.say(`vigil init: warning: ${m}`)));
    if (!process.env.PATH) process.env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    process.env.VIGIL_RUNDIR = this.rundir;
    process.env.VIGIL_MODE = this.mode;

    // early services
    if (this.o.externalLogger) {
      this.fifo = writeLoggerService(this.scandir, this.rundir, this.mode === 'container');
      this.subscribeLogger();
    } else {
      this.fifo = writeInternalLoggerDir(this.scandir);
    }
    const sdFifo = writeShutdowndService(this.scandir);
    if (this.mode === 'machine') writeEarlyGetty(this.scandir, this.basedir);

    // the fifo trick, exactly: read end non-blocking, write end, close the read end, dup2 onto 1 and 2
    const r = fs.openSync(this.fifo, O_RDONLY | O_NONBLOCK);
    const w = fs.openSync(this.fifo, O_WRONLY);
    fs.closeSync(r);
    sh.dup2(w, 1);
    sh.dup2(w, 2);
    fs.closeSync(w);
    sh.setNonblock(1, true); // init never blocks on its own output (1 and 2 share this description)
    // init's own lines into the catch-all log: held (bounded) while the fifo is full, never blocking
    this.logSink = new Sink(2, { max: CONSOLE_MAX });
    sh.dup2(this.devnull, 0);
    // ... and at once init's fallback reader, so nothing ever meets a fifo without a reader (the machine's
    // first step, below in this same turn, engages it)
    this.fallback = new FallbackReader(this.fifo, (b) => this.console.say(b.toString()), 1);
    this.fallback.engage('hold');
    this.childFifoFd = fs.openSync(this.fifo, O_WRONLY | O_NONBLOCK);
    sh.setNonblock(this.childFifoFd, false);
    sh.setCloexec(this.childFifoFd, true);

    // the shutdown daemon, inside PID 1
    this.sdRead = fs.openSync(sdFifo, O_RDONLY | O_NONBLOCK);
    this.sdWrite = fs.openSync(sdFifo, O_WRONLY | O_NONBLOCK);
    this.watchShutdownd();

    this.installSignals();

    // become the scanner
    // the console the scanner gives the catch-all logger (its stderr; its run makes it stdout too, for the
    // `1` copy): the container's stdout, so `docker logs` shows every uncaught line on the output stream
    this.consoleFd = this.console.freshOut() ?? undefined;
    this.stage1Tree();
    this.armWatchdog();
  }

  /** --external-logger: the logger service's readiness and deaths, through its event/ fifodir */
  private subscribeLogger(): void {
    this.loggerSub = subscribeFifodir(path.join(this.scandir, LOGGER_SERVICE, 'event'), (b) => {
      for (const c of b.toString('latin1')) {
        if (c === 'U') this.dispatch({ type: 'logger-ready' });
        else if (c === 'd') this.dispatch({ type: 'logger-down' });
      }
    });
  }

  /** the shutdown daemon's fifo, read inside PID 1 */
  private watchShutdownd(): void {
    const sdBuf = Buffer.allocUnsafe(4096);
    this.sdWatch = watchReadable(this.sdRead, () => {
      const got = readAvailable(this.sdRead, sdBuf, 65536);
      for (const r of this.sdParser.feed(got.bytes)) {
        if (r.kind === 'unknown') this.warn(`shutdownd: unknown command: ${String.fromCharCode(r.byte)}`);
        else if (r.kind === 'cancel') this.dispatch({ type: 'cancel' });
        else this.dispatch({ type: 'shutdown', what: r.what, delayMs: r.delayMs, graceMs: r.graceMs });
      }
    });
  }

  /** in-supervisor logging (services with log-dir); --log-copy: their lines also go to the console's stdout */
  private newInLog(): InLog {
    const consoleFd = this.consoleFd;
    this.inlog = new InLog({ log: (l) => this.log(l), copyFd: this.o.logCopy && consoleFd !== undefined ? consoleFd : undefined });
    return this.inlog;
  }

  /** stage 1, from the service manager on: the tree, then the catch-all logger */
  private stage1Tree(): void {
    const consoleFd = this.consoleFd;
    const inlog = this.newInLog();
    // the service manager (src/rc) over BASEDIR/rc.d: its oneshots write into the catch-all log
    const rcd = path.join(this.basedir, 'rc.d');
    if (this.overlay) {
      // s6-overlay mode: the union rc.init compiles (/etc/s6-overlay/s6-rc.d, user-bundles.d, the internal sets)
      // what the image added to s6-overlay's own internal sources is kept (merged into a copy of vigil's)
      const img = imageInternalSources();
      let internal: string | undefined;
      if (img) {
        try {
          internal = mergeInternal(OVERLAY_SHARE, img, path.join(overlayPaths(this.rundir).s6, 'internal'), (m) => this.log(`vigil init: ${m}`));
        } catch (e) {
          this.warn(`unable to merge ${img} into vigil's internal sources: ${(e as Error).message} - vigil's are used as they are`);
        }
      }
      const src = overlaySources(this.overlay, '/', OVERLAY_SHARE, internal);
      this.rc = new Manager({
        sources: src.sources, untypedBundles: src.untypedBundles, rundir: this.rundir, log: (l) => this.log(l),
        catchallOut: this.childFifoFd, catchallErr: this.childFifoFd,
      });
    } else if (isDir(rcd)) {
      this.rc = new Manager({ sources: [rcd], rundir: this.rundir, log: (l) => this.log(l), catchallOut: this.childFifoFd, catchallErr: this.childFifoFd });
    }
    this.scanner = this.newScanner(inlog);
    if (this.rc) {
      // the longruns' service directories and their symlinks, down, before the scanner's first scan
      try {
        this.rc.prepare(this.scandir);
      } catch (e) {
        this.warn(`the service manager cannot start: ${(e as Error).message} - BASEDIR/rc.d is not managed`);
        this.rc = null;
      }
    }
    this.scanner.start();
    if (this.rc) this.rc.attach(this.scanner);

    this.dispatch({ type: 'start' });
    if (!this.o.externalLogger) this.startCatchAll();
  }

  /** the scanner over RUNDIR/service, services' output into the catch-all fifo (resume: a handed-over one) */
  private newScanner(inlog: InLog, resume?: ScannerState, cold = false): Scanner {
    return new Scanner({
      cold,
      ...(this.rc ? this.rc.scannerHooks(inlog.scannerHooks()) : inlog.scannerHooks()),
      scandir: this.scandir,
      consoleFd: this.consoleFd,
      handleSignals: false,
      serviceStdout: this.childFifoFd,
      serviceStderr: this.childFifoFd,
      log: (l) => this.log(l),
      resume,
      onReexec: () => {
        const why = this.reexec('request');
        this.warn(`unable to re-execute: ${why} - carrying on`);
      },
      onStopping: () => this.dispatch({ type: 'tree-stopping' }),
      onStopped: () => {
        this.rc?.close();
        // the services are down: drain their in-supervisor logs into the logdirs first
        const done = (): void => {
          this.treeDone = true;
          this.maybeStopped();
        };
        inlog.closeAll().then(done, done);
      },
    });
  }

  /**
   * The catch-all logger inside init: ready in this same turn (its readiness releases stage 2). fifoFd: its
   * read end, already open (a re-exec carries it).
   */
  private startCatchAll(fifoFd?: number): void {
    // container: every line also to the container's stdout (docker logs), through the bounded
    // non-blocking sink: a stdout that does not read drops copies (counted, said there), never log lines
    let copy: ((b: Buffer) => void) | undefined;
    const out = this.console.outFd >= 0 ? this.console.outFd : this.console.errFd;
    // s6-overlay mode: S6_LOGGING and S6_LOGGING_SCRIPT choose the log, the copy and the stamps (overlay.ts)
    const plan = this.overlay ? catchAllPlan(this.overlay) : { logdir: true, copy: true, stamps: ['t'] };
    if (this.mode === 'container' && out >= 0 && plan.copy) {
      try {
        const [cfd, fresh] = reopenFdEx(out, true, true);
        const sink = copySink(cfd, 1 << 20, (m) => this.warn(m), !fresh);
        this.copySink = sink;
        copy = (b) => { sink.write(b); };
      } catch (e) {
        this.warn(`unable to copy the catch-all log to stdout: ${(e as Error).message}`);
      }
    }
    this.catchAll = new CatchAll({
      fifo: this.fifo,
      fd: fifoFd,
      // no copy to be had (no stdout): the log, whatever S6_LOGGING says, so that the lines go somewhere
      logdir: plan.logdir || !copy ? path.join(this.rundir, 'uncaught-logs') : null,
      stamps: plan.stamps,
      copy,
      ready: () => this.dispatch({ type: 'logger-ready' }),
      down: () => this.dispatch({ type: 'logger-down' }),
      say: (m) => this.console.say(m),
    });
    this.catchAll.start();
  }

  // ------------------------------------------------------------------------------------------ re-exec

  /**
   * Hand everything over and exec this command again (src/supervisor/reexec.ts): returns (why not) only when
   * it did not happen. A fault within the repeat window of the last fault re-exec is not re-exec'd.
   */
  reexec(why: 'fault' | 'request'): string {
    let next = this.faults;
    if (why === 'fault') {
      const d = decideOnFault(this.faults, this.timers.now());
      if (!d.reexec) return d.why;
      next = d.faults;
    }
    let unsubscribed = false;
    try {
      const h = this.handover(why, next);
      this.faults = next;
      // --external-logger: the subscription's fifo goes (the next image subscribes again; nothing writes
      // the logger's events meanwhile: its supervisor is this process)
      if (this.loggerSub) {
        this.loggerSub.close();
        this.loggerSub = null;
        unsubscribed = true;
      }
      // CMD's and our own stdio stay as they are; the state says which fd is what
      reexecSelf(h.state, [path.join(this.rundir, 'vigil')], h.fds, this.startEnv);
    } catch (e) {
      if (unsubscribed) this.subscribeLogger();
      const x = e as NodeJS.ErrnoException;
      return x.code ? `${x.syscall ?? 'exec'}: ${x.code}` : x.message;
    }
  }

  private handover(why: 'fault' | 'request', faults: number[]): { state: InitHandover; fds: number[] } {
    const st = this.state;
    if (!HANDED_PHASES.has(st.phase)) throw new Error(`not while init is in its ${st.phase} phase`);
    if (st.stage3Only === 'rc.shutdown') throw new Error('not while rc.shutdown runs');
    if (st.logger !== 'ready' || (!this.o.externalLogger && !this.catchAll?.up) || !this.scanner || !this.inlog) {
      throw new Error('not while the catch-all logger is not ready');
    }
    const sc = this.scanner.handover();
    const il = this.inlog.handover();
    const rc = this.rc ? this.rc.handover() : null;
    this.catchAll?.markClean();
    const timers: InitHandover['timers'] = [];
    for (const [id, hd] of this.timerHandles) if (!hd.cancelled) timers.push({ id, when: hd.when });
    const c = this.console;
    const state: InitHandover = {
      v: rc || this.overlay || this.o.externalLogger ? REEXEC_FORMAT_2 : REEXEC_FORMAT, kind: 'init', why, faults, machine: structuredClone(st), timers, cmdPid: this.cmdPid,
      console: [c.inFd, c.outFd, c.errFd], consoleFd: this.consoleFd ?? null, devnull: this.devnull, fifo: this.fifo,
      childFifoFd: this.childFifoFd, catchAllFd: this.catchAll ? this.catchAll.fifoFd : -1, sd: [this.sdRead, this.sdWrite],
      workdir: this.workdir, kernelInit: this.kernelInit, useProc: this.useProc, scanner: sc.state, inlog: il.state,
      rc: rc ? rc.state : null, env: { ...process.env } as Record<string, string>, stage2Pid: this.stage2Pid, hookCode: this.hookCode,
      cmdCode: this.cmdCode,
    };
    const fds = [
      ...sc.fds, ...il.fds, ...(rc ? rc.fds : []), ...state.console, this.devnull, this.childFifoFd, state.catchAllFd, this.sdRead, this.sdWrite,
      ...(this.consoleFd !== undefined ? [this.consoleFd] : []),
    ];
    return { state, fds: fds.filter((fd) => fd >= 0) };
  }

  /**
   * boot() of a re-executed init: fds 0-2 are still the catch-all fifo and /dev/null (the fifo trick was
   * done by the first image), the console holder, the fifos and the tree's fds came across the exec by
   * number; CMD is still our child. Its pid and the tree's are registered before anything is reaped (an exit
   * during the exec reaches its owner), the machine's state and timers are taken back as they were, the
   * catch-all logger reads on from the same fifo.
   */
  private resumeFrom(h: InitHandover): void {
    // the tree's environment, before anything can be spawned again
    // (format 1, from an older image, has none of the fields below: its env is already ours)
    if (h.env) replaceEnv(h.env);
    this.hookCode = h.hookCode ?? 0;
    this.cmdCode = h.cmdCode ?? null;
    if (this.devnull >= 0 && this.devnull !== h.devnull) fs.closeSync(this.devnull);
    this.devnull = h.devnull;
    this.console = ConsoleHolder.adopt(h.console[0], h.console[1], h.console[2]);
    // CMD in the terminal's foreground group: init ignores SIGTTOU/SIGTTIN again (node's start reset them)
    if (h.cmdPid > 0 && this.console.inFd >= 0 && isatty(this.console.inFd)) {
      native().ignoreSignal(SIGNALS.TTOU, true);
      native().ignoreSignal(SIGNALS.TTIN, true);
    }
    this.workdir = h.workdir;
    this.kernelInit = h.kernelInit;
    this.useProc = h.useProc;
    this.faults = h.faults;
    setReaperErrorHandler((e, pid) => this.warn(`exit handler for pid ${pid} failed: ${(e as Error).message}`));
    this.fifo = h.fifo;
    this.logSink = new Sink(2, { max: CONSOLE_MAX });
    // not engaged: the logger is ready (a later logger-down engages it, as before)
    this.fallback = new FallbackReader(this.fifo, (b) => this.console.say(b.toString()), 1);
    this.childFifoFd = h.childFifoFd;
    [this.sdRead, this.sdWrite] = h.sd;
    this.watchShutdownd();
    this.installSignals();
    // the machine as it was, and everything its effects use, before any event can come (an exit during the
    // exec is handled as soon as the scanner starts, and may start the shutdown at once)
    this.state = h.machine;
    for (const t of h.timers) this.armTimer(t.id, t.when);
    if (this.o.externalLogger) this.subscribeLogger();
    else this.startCatchAll(h.catchAllFd);
    // the scanner holds reaping from its construction until its services are back: CMD's owner first
    holdReaping();
    if (h.cmdPid > 0) {
      this.cmdPid = h.cmdPid;
      onExit(h.cmdPid, (status) => this.onCmdExit(status));
    }
    if ((h.stage2Pid ?? 0) > 0) this.watchStage2(h.stage2Pid);
    this.consoleFd = h.consoleFd ?? undefined;
    const inlog = this.newInLog();
    inlog.resume(h.inlog);
    // the service manager before the scanner: its pipelines' hooks, its oneshots' pids, its events
    let rcSaid = '';
    if (h.rc) {
      const rc = new Manager({
        sources: h.rc.sources, untypedBundles: h.rc.untypedBundles, rundir: this.rundir, log: (l) => this.log(l),
        catchallOut: this.childFifoFd, catchallErr: this.childFifoFd,
      });
      // init's own jobs (default/top coming up, everything going down) answer here again
      rc.resume(h.rc, (tag) => (tag === 'up' ? (r) => this.onUpResult(r) : tag === 'shutdown' ? (r) => this.onDownResult(r) : undefined));
      this.rc = rc;
      const busy = h.rc.pids.length;
      rcSaid = `, the service manager${h.rc.engine.job ? ' with a transition in flight' : ''}${busy ? ` (${busy} oneshot${busy > 1 ? 's' : ''} running)` : ''}`;
    }
    this.scanner = this.newScanner(inlog, h.scanner);
    this.rc?.attach(this.scanner);
    const n = h.scanner.entries.reduce((k, x) => k + (x.main ? 1 : 0) + (x.log ? 1 : 0), 0);
    this.log(`vigil init: re-executed ${h.why === 'fault' ? 'after an internal fault' : 'on request'}: ${n} supervisions${h.cmdPid > 0 ? ` and CMD (pid ${h.cmdPid})` : ''}${rcSaid} carried over`);
    this.scanner.start();
    this.rc?.resumed();
    this.armWatchdog();
  }

  // ------------------------------------------------------------------------------ the watchdog (cold re-exec)

  /** the watchdog is armed (src/supervisor/watchdog.ts): the note follows the machine */
  private watchdogOn = false;

  /**
   * Arm the event-loop watchdog once the system runs (start-up is not watched), with the environment stage 1
   * made and the console's fds kept across its exec. Only where a warm re-exec is possible too (no service
   * manager, s6-overlay mode or --external-logger: their state would be lost).
   */
  private armWatchdog(): void {
    if (this.overlay || this.rc || this.o.externalLogger) return;
    const c = this.console;
    const keep = [c.inFd, c.outFd, c.errFd, this.consoleFd ?? -1, this.catchAll?.fifoFd ?? -1].filter((fd) => fd > 2);
    this.watchdogOn = armWatchdog({ who: 'vigil init', faults: this.faults, keep, warn: (l) => this.warn(l) }) > 0;
    if (this.watchdogOn) this.noteState();
  }

  /**
   * what a cold re-exec needs (InitNote): after each step, no system call. In any phase but `cmd` and
   * `running` (starting, shutting down) the new image does not resume: it does what a fault does (crash()),
   * which ends a blocked PID 1 instead of leaving it hung.
   */
  private noteState(): void {
    const st = this.state;
    const c = this.console;
    noteWatchdog(initNote({
      cmd: this.cmdPid, cmdState: st.cmd, phase: st.phase, console: [c.inFd, c.outFd, c.errFd], consoleFd: this.consoleFd ?? -1, catchAllFd: this.catchAll?.fifoFd ?? -1,
    }));
  }

  /**
   * boot() after a cold re-exec: the watchdog found the loop blocked and exec'd this command with no state,
   * only its note (src/supervisor/reexec.ts). fds 0-2 are still the fifo trick's; the console holder's fds
   * and the catch-all logger's read end came across (the watchdog kept them); the rest is opened again by
   * path (the catch-all and shutdownd fifos: the same fifos, so what they hold is kept), the machine is put back in the noted phase
   * with the catch-all logger ready, CMD (still our child) gets its owner before anything is reaped, and the
   * scanner takes every service back from supervise/vigil-run. Lost: the machine's timers, the pipes of
   * in-supervisor loggers (their read ends closed at the exec: those services die of SIGPIPE at their next
   * write and restart), what the old catch-all logger had read but not written.
   */
  private coldResume(m: ColdMarker): void {
    const n = parseInitNote(m.note);
    const sh = native();
    for (const fd of [...n.console, n.consoleFd, n.catchAllFd]) {
      try {
        if (fd > 2) sh.setCloexec(fd, true);
      } catch {
        /* not open */
      }
    }
    this.console = n.console.some((fd) => fd >= 0) ? ConsoleHolder.adopt(n.console[0], n.console[1], n.console[2]) : ConsoleHolder.fromStdio();
    const d = decideOnFault(m.faults, m.at);
    if (!d.reexec) throw new StageOneError(`not re-executing: ${d.why}`);
    if (n.phase !== 'cmd' && n.phase !== 'running') throw new StageOneError(`a cold re-exec resumes a running system only, not the ${n.phase || 'unknown'} phase`);
    this.faults = d.faults;
    if (n.cmd > 0 && this.console.inFd >= 0 && isatty(this.console.inFd)) {
      sh.ignoreSignal(SIGNALS.TTOU, true);
      sh.ignoreSignal(SIGNALS.TTIN, true);
    }
    if (this.devnull < 0) this.devnull = fs.openSync('/dev/null', O_RDWR);
    const probe = probeMode();
    this.kernelInit = probe.pid === 1 && probe.pid2Comm === 'kthreadd';
    this.useProc = procMatchesUs();
    setReaperErrorHandler((e, pid) => this.warn(`exit handler for pid ${pid} failed: ${(e as Error).message}`));
    this.fifo = path.join(this.scandir, LOGGER_SERVICE, 'fifo');
    this.logSink = new Sink(2, { max: CONSOLE_MAX });
    this.fallback = new FallbackReader(this.fifo, (b) => this.console.say(b.toString()), 1);
    const sdFifo = path.join(this.scandir, SHUTDOWND_SERVICE, 'fifo');
    this.sdRead = fs.openSync(sdFifo, O_RDONLY | O_NONBLOCK);
    this.sdWrite = fs.openSync(sdFifo, O_WRONLY | O_NONBLOCK);
    this.watchShutdownd();
    this.installSignals();
    const cmdState = n.cmdState === 'exited' || n.cmdState === 'failed' ? n.cmdState : 'none';
    this.state = { ...initialState(), phase: n.phase, logger: 'ready', cmd: n.cmd > 0 ? 'running' : cmdState };
    // the catch-all logger first, on the read end the watchdog kept (the fifo never lacked a reader: no
    // service died of SIGPIPE), so that the services' description of the fifo can be opened
    this.startCatchAll(n.catchAllFd >= 0 ? n.catchAllFd : undefined);
    this.childFifoFd = fs.openSync(this.fifo, O_WRONLY | O_NONBLOCK);
    sh.setNonblock(this.childFifoFd, false);
    holdReaping();
    if (n.cmd > 0) {
      this.cmdPid = n.cmd;
      onExit(n.cmd, (status) => this.onCmdExit(status));
    }
    this.consoleFd = n.consoleFd >= 0 ? n.consoleFd : undefined;
    this.scanner = this.newScanner(this.newInLog(), undefined, true);
    // said first: an exit reaped by the scanner's start (CMD's) may start the shutdown at once
    this.log(`vigil init: re-executed after a blocked event loop (${m.blockedMs} ms, no state): taking back the running services${n.cmd > 0 ? ` and CMD (pid ${n.cmd})` : ''}`);
    this.scanner.start();
    this.armWatchdog();
  }

  /**
   * The service manager brings the bundle `default` up (before rc.init and CMD); what failed is logged, and
   * the machine decides (--on-rc-failure). No BASEDIR/rc.d, or no `default` in it: done at once.
   */
  private servicesUp(): void {
    const rc = this.rc;
    if (!rc) return this.dispatch({ type: 'up-done' });
    const ov = this.overlay;
    const what = ov ? 'the s6-overlay sources' : 'BASEDIR/rc.d';
    // s6-overlay: rc.init is `sh -e`: a failed hook ends it; with S6_BEHAVIOUR_IF_STAGE2_FAILS=2, the container
    if (ov && this.hookCode && ov.behaviour >= 2) return this.dispatch({ type: 'up-done', code: this.hookCode });
    const refused = rc.refused();
    if (refused) {
      this.warn(`${what} ${ov ? 'were' : 'was'} refused (${refused}): nothing is brought up`);
      return this.dispatch({ type: 'up-done', code: 4 });
    }
    const top = ov ? 'top' : 'default';
    if (!rc.has(top)) {
      this.log(`vigil init: ${what} define no bundle or service named ${top}: nothing to bring up`);
      return this.dispatch({ type: 'up-done' });
    }
    const opts = ov ? { timeout: ov.waitMaxtime, verbosity: ov.verbosity } : { timeout: this.o.rcTimeoutMs };
    rc.up(top, opts).then(
      (r) => this.onUpResult(r),
      (e) => {
        this.warn(`the service manager failed: ${(e as Error).message}`);
        this.dispatch({ type: 'up-done', code: 111 });
      },
    );
  }

  /** the service manager's answer for `default` (or `top`) */
  private onUpResult(r: JobResult): void {
    const ov = this.overlay;
    const top = ov ? 'top' : 'default';
    if (r.code && !(ov && ov.behaviour === 0 && r.code !== 2)) {
      const what = r.failed.length ? `; failed: ${r.failed.join(', ')}` : '';
      this.warn(`the bundle ${top} did not come up (vigil rc exit ${r.code}${r.code === 2 ? ': timed out' : ''})${what}`);
    }
    this.dispatch({ type: 'up-done', code: r.code });
  }

  /**
   * Before rc.shutdown: whatever the service manager was doing is cancelled (a halt during start-up does not
   * wait for it) and every managed service goes down in reverse dependency order.
   */
  private servicesDown(): void {
    const rc = this.rc;
    if (!rc) return this.dispatch({ type: 'down-done' });
    const final = this.state.stage3Only === null;
    rc.shutdown({ final }).then(
      (r) => this.onDownResult(r),
      () => this.onDownResult(),
    );
  }

  /** the service manager's answer for everything down */
  private onDownResult(r?: JobResult): void {
    if (r?.code) this.warn(`the service manager could not bring everything down (vigil rc exit ${r.code})${r.failed.length ? `; failed: ${r.failed.join(', ')}` : ''}`);
    this.dispatch({ type: 'down-done' });
  }

  /** The tree has ended (its in-supervisor logs closed) and so has the catch-all logger: the machine hears it. */
  private maybeStopped(): void {
    if (!this.treeDone || this.catchAll || this.stoppedSent) return;
    this.stoppedSent = true;
    this.dispatch({ type: 'scanner-stopped' });
  }

  /** Machine mode: the kernel may start init with no fds at all. */
  private ensureStdio(): void {
    for (const fd of [0, 1, 2]) {
      try {
        fs.fstatSync(fd);
      } catch {
        let dev = '/dev/console';
        if (!fs.existsSync(dev)) dev = '/dev/null';
        try {
          const x = fs.openSync(dev, O_RDWR | fs.constants.O_NOCTTY);
          if (x !== fd) {
            native().dup2(x, fd);
            fs.closeSync(x);
          }
        } catch {
          /* nothing to open yet */
        }
      }
    }
  }

  private earlySay(m: string): void {
    try {
      fs.writeSync(2, m + '\n');
    } catch {
      /* no console yet */
    }
  }

  private prepareRundir(): void {
    fs.mkdirSync(this.rundir, { recursive: true });
    const lock = path.join(this.scandir, '.s6-svscan', 'lock');
    try {
      const fd = fs.openSync(lock, O_RDONLY);
      try {
        if (native().lockHolder(fd) !== 0) throw new Error(`${this.scandir} is in use by another scanner`);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    fs.rmSync(this.scandir, { recursive: true, force: true });
    fs.mkdirSync(this.scandir, { mode: 0o755 });
    const vd = path.join(this.rundir, 'vigil');
    fs.mkdirSync(vd, { recursive: true, mode: 0o755 });
    fs.rmSync(path.join(vd, 'exitcode'), { force: true });
  }

  // ----------------------------------------------------------------------------------------- the machine

  /** Step the machine with ev (and whatever the effects make happen at once), in order, never re-entered. */
  dispatch(ev: Event): void {
    this.events.push(ev);
    if (this.stepping) return;
    this.stepping = true;
    try {
      while (this.events.length) {
        const e = this.events.shift() as Event;
        const r = step(this.cfg, this.state, e, this.timers.now());
        this.state = r.state;
        for (const fx of r.effects) {
          try {
            this.perform(fx);
          } catch (err) {
            this.warn(`${fx.do}: ${(err as Error).message}`);
          }
        }
      }
    } finally {
      this.stepping = false;
    }
    if (this.watchdogOn) this.noteState();
  }

  /** The machine's phase (tests, diagnostics). */
  get phase(): State['phase'] {
    return this.state.phase;
  }

  /** the machine's timer `id`, due at monotonic `when` */
  private armTimer(id: TimerId, when: number): void {
    this.timers.cancel(this.timerHandles.get(id));
    this.timerHandles.set(id, this.timers.at(when, () => {
      this.timerHandles.delete(id);
      this.dispatch({ type: 'timer', id });
    }));
  }

  /** The real world: one effect of the machine as system calls. */
  private perform(fx: Effect): void {
    const sh = native();
    switch (fx.do) {
      case 'timer':
        this.armTimer(fx.id, this.timers.now() + Math.max(0, fx.ms));
        return;
      case 'cancel-timer':
        this.timers.cancel(this.timerHandles.get(fx.id));
        this.timerHandles.delete(fx.id);
        return;
      case 'fallback':
        if (!this.fallback) return;
        if (fx.mode === 'off') this.fallback.disengage();
        else this.fallback.engage(fx.mode);
        return;
      case 'say':
        this.console.say(fx.text);
        return;
      case 'log':
        this.log(fx.text);
        return;
      case 'release':
        copyUserServices(this.basedir, this.scandir, (m) => this.warn(m));
        return;
      case 'services-up':
        return this.servicesUp();
      case 'start-stage2':
        this.startStage2();
        return;
      case 'start-cmd':
        this.startCmd();
        return;
      case 'forward':
        if (this.cmdPid > 0) sh.kill(this.cmdPid, SIGNALS[fx.sig]);
        return;
      case 'scanner':
        this.scanner?.command(fx.cmd);
        return;
      case 'services-down':
        return this.servicesDown();
      case 'run-script': {
        const name = fx.name;
        this.runScript(name, [fx.arg], name === 'rc.shutdown.final', () => this.dispatch({ type: 'script-exited', name }));
        return;
      }
      case 'stop-shutdownd':
        this.sdWatch?.stop();
        return;
      case 'sync':
        sh.sync();
        return;
      case 'signal-all': {
        const logger = fx.spareLogger ? this.loggerPid() : 0;
        signalAll(SIGNALS[fx.sig], new Set(logger > 0 ? [logger] : []), this.useProc);
        return;
      }
      case 'watch-gone': {
        const logger = this.loggerPid();
        this.goneSpare = new Set(logger > 0 ? [logger] : []);
        this.stopGoneWatch = onDrained(() => this.checkGone());
        this.checkGone();
        return;
      }
      case 'close-fifo':
        this.stopGoneWatch?.();
        this.stopGoneWatch = null;
        this.goneSpare = null;
        // the catch-all logger last: every writer is gone once the supervision has let go of its copies
        if (this.childFifoFd >= 0) fs.closeSync(this.childFifoFd);
        this.childFifoFd = -1;
        this.loggerSub?.close();
        this.fallback?.close();
        if (this.catchAll) {
          // inside init: read out what the fifo holds, close the logdir (every writer is gone: no EOF needed)
          const done = (): void => {
            this.catchAll = null;
            this.maybeStopped();
          };
          this.catchAll.close().then(done, (e) => {
            this.console.say(`vigil init: catch-all logger: ${(e as Error).message}`);
            done();
          });
        }
        return;
      case 'console-back':
        // our own fds 1/2 back to the console (the scanner did it when it stopped; make sure)
        if (this.console.fd >= 0) {
          sh.dup2(this.console.fd, 1);
          sh.dup2(this.console.fd, 2);
        }
        return;
      case 'unmount':
        if (this.kernelInit) umountAll(this.rundir, (m) => this.console.say(m));
        else this.console.say('vigil init: not the kernel\'s init (forced --machine): filesystems left mounted');
        return;
      case 'reboot': {
        const c = sh.constants;
        try {
          sh.reboot(fx.what === 'p' ? c.RB_POWER_OFF : fx.what === 'r' ? c.RB_AUTOBOOT : c.RB_HALT_SYSTEM);
        } catch (e) {
          this.crash(e);
        }
        return;
      }
      case 'exit': {
        const code = this.overlay ? this.overlayExitCode(fx.code) : fx.code ?? this.exitcodeFile();
        if (this.overlay?.syncDisks) sh.sync();
        // what waits for the console and the copy goes out first (bounded: a stuck console cannot hold us)
        const held = [this.copySink, this.logSink].map((k) => (k ? k.settle(EXIT_SETTLE_MS) : Promise.resolve()));
        Promise.all([...held, this.console.settle(EXIT_SETTLE_MS)]).then(() => this.finished(code), () => this.finished(code));
        return;
      }
      default: {
        const never: never = fx;
        void never;
      }
    }
  }

  /**
   * Stage 3, after each reap: is every process but the catch-all logger gone? With nothing to spare, the
   * kernel says it (no child left: orphans come back to us before their parent's death is reported); else
   * our children are listed once (/proc/self/task/N/children), never the whole of /proc.
   */
  private checkGone(): void {
    const spare = this.goneSpare;
    if (!spare) return;
    let gone: boolean;
    if (spare.size === 0) gone = !native().hasChildren();
    else {
      const kids = this.useProc ? childrenOf(process.pid) : null;
      gone = kids !== null && kids.every((p) => spare.has(p));
    }
    if (!gone) return;
    this.stopGoneWatch?.();
    this.stopGoneWatch = null;
    this.goneSpare = null;
    this.dispatch({ type: 'all-gone' });
  }

  private loggerPid(): number {
    try {
      const st = readStatus(path.join(this.scandir, LOGGER_SERVICE));
      return st.finishing ? 0 : st.pid;
    } catch {
      return 0;
    }
  }

  // ----------------------------------------------------------------------------------------- stage 2

  private startStage2(): void {
    const rc = path.join(this.basedir, 'rc.init');
    if (!fs.existsSync(rc)) {
      // s6-overlay mode: its rc.init is init itself (the hook, top, CMD)
      if (!this.overlay) this.log(`vigil init: no ${rc}: stage 2 has nothing to do`);
      this.dispatch({ type: 'stage2-exited' });
      return;
    }
    const runlevel = this.mode === 'machine' ? kernelRunlevel() : 'default';
    try {
      this.stage2Pid = spawnProcess({
        file: rc,
        argv: [rc, runlevel],
        env: process.env,
        fds: [this.devnull, this.devnull, this.devnull],
        fifoWrite: this.fifo,
        fifoFds: [1, 2],
        // the catch-all logger inside init holds the fifo's read end for good (across its restarts): the
        // child's blocking open returns at once, so it needs no fork of this whole process
        fifoReaderHeld: this.catchAll?.holdsFifo === true,
        setsid: true,
        cwd: '/',
        onExit: (status) => this.onStage2Exit(status),
      });
    } catch (e) {
      this.warn(`unable to start ${rc}: ${(e as Error).message}`);
      this.dispatch({ type: 'stage2-exited' });
    }
  }

  /** rc.init (a re-exec: carried over while it runs) */
  private watchStage2(pid: number): void {
    this.stage2Pid = pid;
    onExit(pid, (status) => this.onStage2Exit(status));
  }

  private onStage2Exit(status: number): void {
    this.stage2Pid = 0;
    if (status !== 0) this.warn(`${path.join(this.basedir, 'rc.init')} exited with ${describeWaitStatus(status)}`);
    this.dispatch({ type: 'stage2-exited' });
  }

  // ---------------------------------------------------------------------------- container's main program

  private startCmd(): void {
    // s6-overlay: S6_CMD_ARG0 goes before CMD
    const argv = this.overlay ? [...this.overlay.cmdArg0, ...this.o.cmd] : this.o.cmd;
    const name = argv[0];
    const found = resolveCmd(name, process.env.PATH ?? '', this.workdir);
    if (typeof found === 'number') {
      this.console.say(`vigil init: ${name}: ${found === 127 ? 'not found' : 'not executable'}`);
      if (this.overlay) this.overlayCmdCode(found);
      this.dispatch({ type: 'cmd-failed', code: found });
      return;
    }
    const [i, o, e] = this.console.freshStdio();
    const fds = [i ?? this.devnull, o ?? this.devnull, e ?? this.devnull];
    // `docker run -it`: stdin is a terminal. CMD's own process group becomes its foreground group (the child
    // does it before exec), so the terminal driver sends ^C/^\/^Z to CMD, not to init, and a shell gets job
    // control. Init ignores SIGTTOU/SIGTTIN: it is now in a background group of that terminal.
    const tty = i !== null && this.console.inFd >= 0 && isatty(this.console.inFd);
    if (tty) {
      native().ignoreSignal(SIGNALS.TTOU, true);
      native().ignoreSignal(SIGNALS.TTIN, true);
    }
    try {
      this.cmdPid = spawnProcess({
        file: found,
        argv,
        env: process.env,
        fds,
        setsid: false,
        pgid: 0,
        foreground: tty ? 0 : undefined,
        cwd: this.workdir,
        onExit: (status) => this.onCmdExit(status),
      });
      if (tty) {
        const fg = native().tcgetpgrp(this.console.inFd);
        if (fg !== this.cmdPid) {
          this.console.say(`vigil init: warning: stdin is a terminal but ${fg < 0 ? 'not init\'s controlling terminal' : 'its foreground group is not CMD\'s'}: ${name} runs without job control`);
        }
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((err as { stage?: string }).stage === 'chdir') {
        this.console.say(`vigil init: ${name}: unable to enter the working directory ${this.workdir}: ${(err as Error).message}`);
        this.dispatch({ type: 'cmd-failed', code: 126 });
      } else {
        this.console.say(`vigil init: ${name}: ${code === 'ENOENT' ? 'not found' : `unable to exec: ${(err as Error).message}`}`);
        this.dispatch({ type: 'cmd-failed', code: code === 'ENOENT' ? 127 : 126 });
      }
    } finally {
      for (const fd of [i, o, e]) if (fd !== null) fs.closeSync(fd);
    }
  }

  private onCmdExit(status: number): void {
    this.cmdPid = 0;
    if (this.overlay && this.state.phase === 'cmd') this.overlayCmdCode(waitStatusToExitCode(status));
    this.dispatch({ type: 'cmd-exited', status });
  }

  // ----------------------------------------------------------------------------------------- signals

  private installSignals(): void {
    const sigs: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPWR', 'SIGWINCH', 'SIGALRM'];
    for (const sig of sigs) process.on(sig, () => this.dispatch({ type: 'signal', sig: sig.slice(3) }));
  }

  /** Spawn BASEDIR/NAME with args, then done() when it has exited (at once if it is missing or cannot start). */
  private runScript(name: string, args: string[], toConsole: boolean, done: () => void): void {
    const file = path.join(this.basedir, name);
    if (!fs.existsSync(file)) {
      done();
      return;
    }
    let out: number | null = null;
    if (!toConsole) {
      try {
        out = fs.openSync(this.fifo, O_WRONLY | O_NONBLOCK);
        native().setNonblock(out, false);
      } catch {
        out = null;
      }
    }
    if (out === null) out = this.console.freshErr();
    const fd = out ?? this.devnull;
    try {
      spawnProcess({
        file,
        argv: [file, ...args],
        env: process.env,
        fds: [this.devnull, fd, fd],
        setsid: true,
        cwd: '/',
        onExit: (status) => {
          if (status !== 0) this.warn(`${file} exited with ${describeWaitStatus(status)}`);
          done();
        },
      });
    } catch (e) {
      this.warn(`unable to run ${file}: ${(e as Error).message}`);
      done();
    } finally {
      if (out !== null) fs.closeSync(out);
    }
  }

  /** s6-overlay mode: CMD ended on its own; its code goes to the exitcode file, as rc.init's haltwith */
  private overlayCmdCode(code: number): void {
    this.cmdCode = code;
    try {
      fs.writeFileSync(s6oExitcodeFile(this.rundir), `${code}\n`);
    } catch (e) {
      this.warn(`unable to write the exitcode file: ${(e as Error).message}`);
    }
  }

  /**
   * s6-overlay mode, the container's code: CMD's when it ended on its own; else the exitcode file's when a
   * script (a finish script before halt) put something other than 0 there; else the machine's (CMD's status
   * after the shutdown's TERM: 143 - s6-overlay says 0 -, or the service manager's failure), else the file.
   */
  private overlayExitCode(machine: number | null): number {
    if (this.cmdCode !== null) return this.cmdCode;
    const file = readExitcode(this.rundir, (m) => this.console.say(`vigil init: ${m}`));
    if (file !== 0) return file;
    return machine ?? 0;
  }

  /** Container mode without CMD's code: RUNDIR/vigil/exitcode (modulo 256), else 0; 111 if it is garbage. */
  private exitcodeFile(): number {
    const f = path.join(this.rundir, 'vigil', 'exitcode');
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8').trim();
    } catch {
      return 0;
    }
    if (!/^[0-9]+$/.test(text)) {
      this.console.say(`vigil init: ${f}: not a decimal exit code: ${JSON.stringify(text.slice(0, 40))}`);
      return 111;
    }
    return Number(BigInt(text) % 256n);
  }

  // ------------------------------------------------------------------------------------------- crash

  private crashing = false;

  /**
   * A fault in init itself. Reported on the console; then, machine mode: exec BASEDIR/crash if executable
   * (e.g. an emergency shell), else TERM everything, KILL after 1 s, sync, reboot after 3 s. Container mode:
   * KILL everything and exit 111.
   */
  crash(e: unknown): void {
    const msg = e instanceof StageOneError ? e.message : e instanceof Error ? `internal error: ${e.stack ?? e.message}` : `internal error: ${String(e)}`;
    const say = (m: string): void => (this.console ? this.console.say(m) : this.earlySay(m));
    say(`vigil init: fatal: ${msg}`);
    if (this.crashing) return;
    // a fault in a running system: re-exec, every service and CMD kept (src/supervisor/reexec.ts)
    if (!(e instanceof StageOneError)) {
      const why = this.reexec('fault');
      say(`vigil init: not re-executing: ${why}`);
    }
    this.crashing = true;
    const sh = native();
    if (this.mode === 'container') {
      signalAll(SIGNALS.KILL, new Set(), this.useProc || procMatchesUs());
      this.finished(111);
      setTimeout(() => process.exit(111), 50);
      return;
    }
    const crashFile = path.join(this.basedir, 'crash');
    try {
      fs.accessSync(crashFile, fs.constants.X_OK);
      say(`vigil init: executing ${crashFile}`);
      if (this.console) {
        sh.dup2(this.console.fd, 1);
        sh.dup2(this.console.fd, 2);
      }
      execReplace(crashFile, [crashFile], process.env);
    } catch {
      /* no crash script: reboot */
    }
    say('vigil init: killing every process and rebooting in 3 seconds');
    // keep the event loop (and so PID 1) alive whatever happens next
    setInterval(() => {}, 1 << 30);
    signalAll(SIGNALS.TERM, new Set(), true);
    setTimeout(() => {
      signalAll(SIGNALS.KILL, new Set(), true);
      sh.sync();
      setTimeout(() => {
        try {
          sh.reboot(sh.constants.RB_AUTOBOOT);
        } catch {
          /* nothing left to try: stay alive, PID 1 must not exit */
        }
      }, 2000);
    }, 1000);
  }
}

/** The current directory, or / when it cannot be known (removed, or unreadable parents). */
function startDir(): string {
  try {
    return process.cwd();
  } catch {
    return '/';
  }
}

/**
 * PATH search in TypeScript, as the shell does it from `cwd` (a name with a '/' and relative PATH entries are
 * taken from there): absolute path, or 127 (not found) / 126 (found but not executable).
 */
export function resolveCmd(name: string, PATH: string, cwd = '/'): string | 127 | 126 {
  const check = (p: string): string | 127 | 126 => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      return 127;
    }
    if (st.isDirectory()) return 126;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      return 126;
    }
  };
  if (name.includes('/')) return check(path.resolve(cwd, name));
  const hit = which(name, PATH || '/usr/bin:/bin', cwd);
  if (hit) return hit;
  for (const dir of (PATH || '/usr/bin:/bin').split(':')) {
    if (check(path.resolve(cwd, dir || '.', name)) === 126) return 126;
  }
  return 127;
}
