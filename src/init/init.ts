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
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isatty } from 'node:tty';
import { native } from '../sys/native';
import { spawnProcess, which } from '../sys/spawn';
import { setReaperErrorHandler, setSubreaper } from '../sys/reaper';
import { watchReadable, readAvailable, FdWatch } from '../sys/fdwatch';
import { execReplace } from '../sys/exec';
import { SIGNALS } from '../sys/signals';
import { waitStatusToExitCode, describeWaitStatus } from '../sys/waitstatus';
import { subscribeFifodir, Subscription } from '../formats/fifodir';
import { readStatus } from '../formats/status';
import { Scanner } from '../scanner/scanner';
import { InLog } from '../scanner/inlog';
import { InitMode, InitOptions } from './options';
import { decideMode, probeMode } from './mode';
import { applyEnvdir, readEnvdir } from './envdir';
import { ConsoleHolder } from './console';
import { FallbackReader } from './fallback';
import {
  copyUserServices, LOGGER_SERVICE, writeEarlyGetty, writeLoggerService, writeShutdowndService,
} from './services';
import { RecordParser, ShutdownWhat, SHUTDOWND_SERVICE } from './protocol';
import { descendants, procMatchesUs, signalAll } from './procs';
import { kernelRunlevel, mountEarly, umountAll } from './mounts';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_RDWR } = fs.constants;
const WHAT_WORD: Record<ShutdownWhat, string> = { S: 'none', h: 'halt', p: 'poweroff', r: 'reboot' };
/** after everything else is gone, how long the catch-all logger gets to drain the fifo and exit */
const LOGGER_DRAIN_MS = 2000;
const POLL_MS = 10;
/** a logger that is alive but still not ready after this long is treated as unable to run */
const SLOW_LOGGER_CAP_MS = 15000;

/** a stage 1 failure with a message for the user (no stack trace) */
class StageOneError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  private loggerSub: Subscription | null = null;
  private loggerReadyOnce = false;
  private loggerDownTimer: NodeJS.Timeout | null = null;
  /** which bound loggerDownTimer is: the long one for a slow logger, or the short one after a death */
  private loggerTimerKind: 'slow' | 'dead' = 'slow';
  private bootGate: NodeJS.Timeout | null = null;
  private released = false;
  private sdRead = -1;
  private sdWrite = -1;
  private sdWatch: FdWatch | null = null;
  private sdParser = new RecordParser();
  private plan: NodeJS.Timeout | null = null;
  private stage2Pid = 0;
  private cmdPid = 0;
  private cmdStatus: number | null = null;
  /** 127/126 when CMD could not be started */
  private cmdFailCode: number | null = null;
  private shutting = false;
  private stage3Running = false;
  private pendingShutdown: { what: ShutdownWhat; graceMs: number } | null = null;
  private scannerStopped: (() => void) | null = null;
  private scannerDone = false;
  private finished: (code: number) => void = () => {};
  private devnull: number;
  private useProc = false;
  /** PID 1 of the initial PID namespace: only then does stage 4 unmount and remount filesystems */
  private kernelInit = false;
  /**
   * The working directory init was started in (an image's WORKDIR), taken before stage 1 moves init to /:
   * CMD starts there, as with tini, dumb-init and s6-overlay. Stage 2 and the scripts keep /, services their
   * service directory.
   */
  readonly workdir: string;

  constructor(private readonly o: InitOptions) {
    this.rundir = path.resolve(o.rundir);
    this.basedir = path.resolve(o.basedir);
    this.scandir = path.join(this.rundir, 'service');
    this.mode = decideMode(o.mode, probeMode());
    this.workdir = startDir();
    this.devnull = -1;
    try {
      this.devnull = fs.openSync('/dev/null', O_RDWR);
    } catch {
      /* machine mode before /dev is mounted: opened later */
    }
  }

  /** Everything init says goes through here: to the catch-all fifo (init's fd 2), never blocking. */
  log(line: string): void {
    const b = Buffer.from(line.endsWith('\n') ? line : line + '\n');
    const n = native().write(2, b, 0, b.length);
    if (n !== b.length && this.console) this.console.say(line);
  }

  private warn(m: string): void {
    this.log(`vigil init: warning: ${m}`);
  }

  /** Runs stage 1 and resolves with the container's exit code (never, in machine mode: reboot(2) ends it). */
  boot(): Promise<number> {
    const done = new Promise<number>((resolve) => {
      this.finished = resolve;
    });
    process.on('uncaughtException', (e) => this.crash(e));
    process.on('unhandledRejection', (e) => this.crash(e));
    try {
      this.stage1();
    } catch (e) {
      // PID 1 must not return from here in machine mode (the kernel would panic): the crash path decides
      this.crash(e);
    }
    return done;
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
    this.fifo = writeLoggerService(this.scandir, this.rundir, this.mode === 'container');
    const sdFifo = writeShutdowndService(this.scandir);
    if (this.mode === 'machine') writeEarlyGetty(this.scandir, this.basedir);
    this.loggerSub = subscribeFifodir(path.join(this.scandir, LOGGER_SERVICE, 'event'), (b) => this.onLoggerEvent(b));

    // the fifo trick, exactly: read end non-blocking, write end, close the read end, dup2 onto 1 and 2
    const r = fs.openSync(this.fifo, O_RDONLY | O_NONBLOCK);
    const w = fs.openSync(this.fifo, O_WRONLY);
    fs.closeSync(r);
    sh.dup2(w, 1);
    sh.dup2(w, 2);
    fs.closeSync(w);
    sh.setNonblock(1, true); // init never blocks on its own output (1 and 2 share this description)
    sh.dup2(this.devnull, 0);
    // ... and at once init's fallback reader, so nothing ever meets a fifo without a reader
    this.fallback = new FallbackReader(this.fifo, (b) => this.console.say(b.toString()), 1);
    this.fallback.engage('hold');
    this.childFifoFd = fs.openSync(this.fifo, O_WRONLY | O_NONBLOCK);
    sh.setNonblock(this.childFifoFd, false);
    sh.setCloexec(this.childFifoFd, true);

    // the shutdown daemon, inside PID 1
    this.sdRead = fs.openSync(sdFifo, O_RDONLY | O_NONBLOCK);
    this.sdWrite = fs.openSync(sdFifo, O_WRONLY | O_NONBLOCK);
    const sdBuf = Buffer.allocUnsafe(4096);
    this.sdWatch = watchReadable(this.sdRead, () => {
      const got = readAvailable(this.sdRead, sdBuf, 65536);
      if (got.bytes.length) this.onShutdownBytes(got.bytes);
    });

    this.installSignals();

    // become the scanner
    // the console the scanner gives the catch-all logger (its stderr; its run makes it stdout too, for the
    // `1` copy): the container's stdout, so `docker logs` shows every uncaught line on the output stream
    const consoleFd = this.console.freshOut() ?? undefined;
    // in-supervisor logging (services with log-dir); --log-copy: their lines also go to the console's stdout
    const inlog = new InLog({ log: (l) => this.log(l), copyFd: this.o.logCopy && consoleFd !== undefined ? consoleFd : undefined });
    this.scanner = new Scanner({
      ...inlog.scannerHooks(),
      scandir: this.scandir,
      consoleFd,
      handleSignals: false,
      serviceStdout: this.childFifoFd,
      serviceStderr: this.childFifoFd,
      log: (l) => this.log(l),
      onStopping: () => {
        if (this.shutting || this.stage3Running) return;
        // someone stops the tree from outside (s6-svscanctl -t, -b ...): as s6-linux-init's finish script
        // would, end the system — halt a container, reboot a machine
        this.warn('the supervision tree is stopping: shutting down');
        this.requestShutdown(this.mode === 'machine' ? 'r' : 'h', 0);
      },
      onStopped: () => {
        // the services are down: drain their in-supervisor logs into the logdirs first
        const done = () => {
          this.scannerDone = true;
          const f = this.scannerStopped;
          this.scannerStopped = null;
          if (f) f();
        };
        inlog.closeAll().then(done, done);
      },
    });
    this.scanner.start();

    if (this.o.noLoggerWait) {
      this.release('no-logger-wait');
    } else {
      this.bootGate = setTimeout(() => {
        this.bootGate = null;
        if (this.released) return;
        // a slow logger (a loaded machine, QEMU without KVM) is not a broken one: stage 2 goes on and its
        // output is held for the logger; only a logger that dies, or is still not ready after
        // SLOW_LOGGER_CAP_MS, sends the uncaught output to the console
        this.log(`vigil init: warning: the catch-all logger is not ready after ${this.o.loggerTimeoutMs} ms: starting stage 2 anyway`);
        this.release('timeout');
        if (!this.loggerDownTimer) {
          this.loggerTimerKind = 'slow';
          this.loggerDownTimer = setTimeout(() => this.loggerGivenUp(), Math.max(SLOW_LOGGER_CAP_MS - this.o.loggerTimeoutMs, 0));
        }
      }, this.o.loggerTimeoutMs);
    }
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

  // ------------------------------------------------------------------------------ the catch-all logger

  private onLoggerEvent(bytes: Buffer): void {
    for (const c of bytes.toString('latin1')) {
      if (c === 'U') this.loggerReady();
      else if (c === 'd') this.loggerDown();
    }
  }

  private loggerReady(): void {
    if (this.loggerDownTimer) clearTimeout(this.loggerDownTimer);
    this.loggerDownTimer = null;
    if (!this.loggerReadyOnce) this.loggerReadyOnce = true;
    this.fallback?.disengage();
    if (!this.released) this.release('logger ready');
  }

  private loggerDown(): void {
    if (this.shutting || !this.fallback) return;
    if (!this.fallback.active) this.fallback.engage('hold');
    if (this.fallback.currentMode === 'console') return;
    // it died: the short bound applies from the first death (it replaces the slow-logger cap; later deaths
    // of a crash-looping logger do not push it back)
    if (this.loggerDownTimer && this.loggerTimerKind === 'dead') return;
    if (this.loggerDownTimer) clearTimeout(this.loggerDownTimer);
    this.loggerTimerKind = 'dead';
    this.loggerDownTimer = setTimeout(() => this.loggerGivenUp(), this.o.loggerTimeoutMs);
  }

  private loggerGivenUp(): void {
    this.loggerDownTimer = null;
    if (this.fallback?.active && this.fallback.currentMode !== 'console') {
      this.console.say(`vigil init: warning: the catch-all logger is ${this.loggerReadyOnce ? 'down' : 'not ready'}: uncaught output goes to the console`);
      this.fallback.setMode('console');
    }
  }

  /** The logger is up (or we stop waiting): the user's services, then stage 2. */
  private release(why: string): void {
    if (this.released || this.shutting) return;
    this.released = true;
    if (this.bootGate) clearTimeout(this.bootGate);
    this.bootGate = null;
    void why;
    const names = copyUserServices(this.basedir, this.scandir, (m) => this.warn(m));
    if (names.length && this.scanner) this.scanner.command('a');
    this.startStage2();
  }

  // ----------------------------------------------------------------------------------------- stage 2

  private startStage2(): void {
    const rc = path.join(this.basedir, 'rc.init');
    if (!fs.existsSync(rc)) {
      this.log(`vigil init: no ${rc}: stage 2 has nothing to do`);
      this.stage2Done();
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
        setsid: true,
        cwd: '/',
        onExit: (status) => {
          this.stage2Pid = 0;
          if (status !== 0) this.warn(`${rc} exited with ${describeWaitStatus(status)}`);
          this.stage2Done();
        },
      });
    } catch (e) {
      this.warn(`unable to start ${rc}: ${(e as Error).message}`);
      this.stage2Done();
    }
  }

  private stage2Done(): void {
    if (this.o.cmd.length && !this.shutting) this.startCmd();
  }

  // ---------------------------------------------------------------------------- container's main program

  private startCmd(): void {
    const name = this.o.cmd[0];
    const found = resolveCmd(name, process.env.PATH ?? '', this.workdir);
    if (typeof found === 'number') {
      this.console.say(`vigil init: ${name}: ${found === 127 ? 'not found' : 'not executable'}`);
      this.cmdFailCode = found;
      this.requestShutdown('h', 0);
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
        argv: this.o.cmd,
        env: process.env,
        fds,
        setsid: false,
        pgid: 0,
        foreground: tty ? 0 : undefined,
        cwd: this.workdir,
        onExit: (status) => {
          this.cmdPid = 0;
          this.cmdStatus = status;
          if (!this.shutting) this.requestShutdown('h', 0);
        },
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
        this.cmdFailCode = 126;
      } else {
        this.console.say(`vigil init: ${name}: ${code === 'ENOENT' ? 'not found' : `unable to exec: ${(err as Error).message}`}`);
        this.cmdFailCode = code === 'ENOENT' ? 127 : 126;
      }
      this.requestShutdown('h', 0);
    } finally {
      for (const fd of [i, o, e]) if (fd !== null) fs.closeSync(fd);
    }
  }

  // ----------------------------------------------------------------------------------------- signals

  private installSignals(): void {
    const sigs: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPWR', 'SIGWINCH', 'SIGALRM'];
    for (const s of sigs) process.on(s, () => this.onSignal(s));
  }

  /** The signal table of README.md. */
  onSignal(sig: NodeJS.Signals): void {
    try {
      if (sig === 'SIGALRM') {
        this.scanner?.command('a');
        return;
      }
      if (this.mode === 'container') {
        const forward = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGWINCH'].includes(sig);
        if (forward && this.cmdPid > 0) {
          native().kill(this.cmdPid, SIGNALS[sig.slice(3)]);
          return;
        }
        switch (sig) {
          case 'SIGTERM':
          case 'SIGINT':
          case 'SIGPWR':
          case 'SIGUSR1':
          case 'SIGUSR2':
            this.requestShutdown('h', 0);
            return;
          case 'SIGHUP':
            this.scanner?.command('h');
            return;
          default:
            return;
        }
      }
      switch (sig) {
        case 'SIGINT':
          this.requestShutdown('r', 0);
          return;
        case 'SIGUSR1':
        case 'SIGPWR':
          this.requestShutdown('p', 0);
          return;
        case 'SIGUSR2':
          this.requestShutdown('h', 0);
          return;
        case 'SIGHUP':
          this.scanner?.command('h');
          return;
        default:
          return; // TERM, QUIT, WINCH: nothing (as s6-linux-init)
      }
    } catch (e) {
      this.warn(`internal error handling ${sig}: ${(e as Error).message}`);
    }
  }

  // ------------------------------------------------------------------------------- the shutdown daemon

  private onShutdownBytes(b: Buffer): void {
    for (const r of this.sdParser.feed(b)) {
      if (r.kind === 'unknown') this.warn(`shutdownd: unknown command: ${String.fromCharCode(r.byte)}`);
      else if (r.kind === 'cancel') {
        if (this.plan) clearTimeout(this.plan);
        this.plan = null;
      } else {
        if (this.plan) clearTimeout(this.plan);
        this.plan = null;
        if (r.delayMs <= 0) this.requestShutdown(r.what, r.graceMs);
        else {
          const what = r.what;
          const grace = r.graceMs;
          this.plan = setTimeout(() => {
            this.plan = null;
            this.requestShutdown(what, grace);
          }, Math.min(r.delayMs, 0x7fffffff));
        }
      }
    }
  }

  /** Stage 3 and 4 (what = S: rc.shutdown only). graceMs 0 = --grace. */
  requestShutdown(what: ShutdownWhat, graceMs: number): void {
    if (this.shutting) return;
    if (this.stage3Running) {
      // a stage-3-only run (`vigil shutdown now`) is in progress: do this one right after it
      if (what !== 'S') this.pendingShutdown = { what, graceMs };
      return;
    }
    void this.shutdown(what, graceMs > 0 ? graceMs : this.o.graceMs).catch((e) => this.crash(e));
  }

  private async shutdown(what: ShutdownWhat, graceMs: number): Promise<void> {
    this.stage3Running = true;
    await this.runScript('rc.shutdown', [WHAT_WORD[what]], false);
    this.stage3Running = false;
    if (what === 'S') {
      const next = this.pendingShutdown;
      this.pendingShutdown = null;
      if (next) this.requestShutdown(next.what, next.graceMs);
      return;
    }
    this.shutting = true;
    if (this.plan) clearTimeout(this.plan);
    if (this.bootGate) clearTimeout(this.bootGate);
    if (this.loggerDownTimer) clearTimeout(this.loggerDownTimer);
    this.sdWatch?.stop();

    // the tree: services down (down-signal + CONT through their supervision), loggers until EOF
    const stopped = new Promise<void>((resolve) => {
      if (this.scannerDone) resolve();
      else this.scannerStopped = resolve;
    });
    this.scanner?.command('t');
    const logger = this.loggerPid();
    const except = new Set<number>(logger > 0 ? [logger] : []);
    if (this.mode === 'machine') {
      native().sync();
      this.log('vigil init: sending all processes the TERM signal...');
    }
    signalAll(SIGNALS.TERM, except, this.useProc);
    signalAll(SIGNALS.CONT, except, this.useProc);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && !this.allGone(except)) await sleep(POLL_MS);
    if (!this.allGone(except)) {
      if (this.mode === 'machine') {
        native().sync();
        this.log('vigil init: sending all processes the KILL signal...');
      }
      for (let i = 0; i < 50 && !this.allGone(except); i++) {
        signalAll(SIGNALS.KILL, except, this.useProc);
        await sleep(POLL_MS);
      }
    }
    // the catch-all logger last: every writer is gone once the supervision has let go of its copies
    if (this.childFifoFd >= 0) fs.closeSync(this.childFifoFd);
    this.childFifoFd = -1;
    this.loggerSub?.close();
    this.fallback?.close();
    const drainEnd = Date.now() + LOGGER_DRAIN_MS;
    const race = await Promise.race([stopped.then(() => true), sleep(LOGGER_DRAIN_MS).then(() => false)]);
    if (!race) {
      this.warn('the catch-all logger did not exit: killing it');
      signalAll(SIGNALS.KILL, new Set(), this.useProc);
      await Promise.race([stopped, sleep(Math.max(100, drainEnd - Date.now() + 500))]);
    }
    // our own fds 1/2 back to the console (the scanner did it when it stopped; make sure)
    if (this.console.fd >= 0) {
      native().dup2(this.console.fd, 1);
      native().dup2(this.console.fd, 2);
    }
    if (this.mode === 'machine') {
      native().sync();
      if (this.kernelInit) umountAll(this.rundir, (m) => this.console.say(m));
      else this.console.say('vigil init: not the kernel\'s init (forced --machine): filesystems left mounted');
      await this.runScript('rc.shutdown.final', [WHAT_WORD[what]], true);
      native().sync();
      const c = native().constants;
      try {
        native().reboot(what === 'p' ? c.RB_POWER_OFF : what === 'r' ? c.RB_AUTOBOOT : c.RB_HALT_SYSTEM);
      } catch (e) {
        this.crash(e);
      }
      return;
    }
    await this.runScript('rc.shutdown.final', [WHAT_WORD[what]], true);
    this.finished(this.exitCode());
  }

  private loggerPid(): number {
    try {
      const st = readStatus(path.join(this.scandir, LOGGER_SERVICE));
      return st.finishing ? 0 : st.pid;
    } catch {
      return 0;
    }
  }

  private allGone(except: ReadonlySet<number>): boolean {
    if (!this.useProc) return false;
    const d = descendants(except);
    return d !== null && d.length === 0;
  }

  /** Spawn BASEDIR/NAME with args and wait for it; its output to the catch-all fifo, or the console. */
  private async runScript(name: string, args: string[], toConsole: boolean): Promise<void> {
    const file = path.join(this.basedir, name);
    if (!fs.existsSync(file)) return;
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
    await new Promise<void>((resolve) => {
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
            resolve();
          },
        });
      } catch (e) {
        this.warn(`unable to run ${file}: ${(e as Error).message}`);
        resolve();
      } finally {
        if (out !== null) fs.closeSync(out);
      }
    });
  }

  /** Container mode: CMD's status, else RUNDIR/vigil/exitcode, else 0. */
  exitCode(): number {
    if (this.o.cmd.length) {
      if (this.cmdStatus !== null) return waitStatusToExitCode(this.cmdStatus);
      if (this.cmdFailCode !== null) return this.cmdFailCode;
    }
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
