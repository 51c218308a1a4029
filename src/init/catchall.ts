/**
 * The catch-all logger inside PID 1 (the default; `--external-logger` runs it as the supervised `vigil log`
 * service s6-svscan-log instead, as before).
 *
 * Why: a second Node process cost a whole Node start (~45-100 ms) on the path to stage 2, since stage 2
 * waits for the logger, plus 25-37 MB for a process that only copies a fifo into a logdir. Inside init it is
 * one engine of src/logger (the same one `vigil log` and in-supervisor logging use), ready in the turn that
 * does the fifo trick.
 *
 * The fifo trick is unchanged: init's stdout/stderr and every service without a logger write into
 * RUNDIR/service/s6-svscan-log/fifo; this reader holds the fifo's read end (non-blocking, one uv_poll while
 * the engine wants input) from stage 1 on, so stage 2's blocking open returns at once, and writers never
 * meet a fifo without a reader. Back-pressure as in `vigil log`: while the logdir does not take the lines
 * (disk full), at most 256 KiB wait in the engine, then the reader stops reading, the fifo fills and the
 * writers block (services) or hold (init's own non-blocking writes).
 *
 * A fault (a logdir that cannot be opened, an exception inside the engine) is caught: one line on the
 * console (the same message is not repeated while it keeps failing), the machine is told the logger is down
 * (the fallback reader holds, then sends to the console, as for a dead external logger), and the reader is
 * restarted 1 s later. At the end (`close()`), what the fifo holds is read out, written, and the logdir
 * closed cleanly; no EOF is needed.
 */
import * as fs from 'node:fs';
import { LogEngine } from '../logger/engine';
import { PipeFeeder } from '../logger/feeder';
import { SERVICE_MAX_BUFFERED } from '../logger/declaration';

export const RESTART_MS = 1000;

export interface CatchAllOptions {
  fifo: string;
  /** the fifo's read end, already open (a re-exec of init carries it): not opened again */
  fd?: number;
  /** the logdir (null: none, the lines only go to `copy`: s6-overlay's S6_LOGGING=0) */
  logdir: string | null;
  /** the logdir's stamps, s6-log directives ('t' TAI64N, 'T' ISO 8601; default ['t']) */
  stamps?: string[];
  /** container: every line is also copied here, unstamped (the container's stdout: docker logs) */
  copy?: (line: Buffer) => void;
  /** the logger is up (the machine's logger-ready) */
  ready: () => void;
  /** the logger is down (the machine's logger-down) */
  down: () => void;
  /** a line on the console */
  say: (line: string) => void;
}

export class CatchAll {
  private fd = -1;
  private engine: LogEngine | null = null;
  private feeder: PipeFeeder | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private lastFault = '';
  /** faults since start (tests, diagnostics) */
  faults = 0;

  constructor(private readonly o: CatchAllOptions) {
    if (o.fd !== undefined && o.fd >= 0) this.fd = o.fd;
  }

  /** the fifo's read end (-1 before start() and after close()) */
  get fifoFd(): number {
    return this.fd;
  }

  get up(): boolean {
    return this.engine !== null;
  }

  /** the fifo's read end is open here (from the first start() to close(), across faults and restarts) */
  get holdsFifo(): boolean {
    return this.fd >= 0;
  }

  /** Open the fifo (once) and the logdir; ready() on success, else a fault and a retry. */
  start(): void {
    if (this.closed || this.engine) return;
    try {
      if (this.fd < 0) this.fd = fs.openSync(this.o.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const copy = this.o.copy;
      this.engine = new LogEngine({
        // (init gives a logdir or a copy, at least one)
        script: [...(copy ? ['1'] : []), ...(this.o.logdir !== null ? [...(this.o.stamps ?? ['t']), this.o.logdir] : [])],
        maxBuffered: SERVICE_MAX_BUFFERED,
        cwd: '/',
        onWarning: (m) => this.o.say(`vigil init: catch-all logger: ${m}`),
        onAlert: (d) => this.o.say(`vigil init: catch-all logger: alert: ${d.toString('utf8').replace(/\n$/, '')}`),
        onStdout: copy ? (d) => (copy(d), true) : undefined,
        onDrain: () => this.feeder?.resume(),
      });
      this.feeder = new PipeFeeder(this.fd, this.engine, {
        keepFlags: true,
        onFault: (e) => this.fault(e),
        onError: (errno) => this.o.say(`vigil init: catch-all logger: unable to read the fifo: errno ${-errno}`),
      });
    } catch (e) {
      this.fault(e);
      return;
    }
    this.lastFault = '';
    this.o.ready();
    this.feeder.resume();
  }

  private fault(e: unknown): void {
    this.faults++;
    const msg = e instanceof Error ? e.message : String(e);
    if (msg !== this.lastFault) this.o.say(`vigil init: catch-all logger: ${msg} - restarting it every ${RESTART_MS / 1000} s`);
    this.lastFault = msg;
    this.feeder?.stop();
    this.feeder = null;
    this.engine?.abandon();
    this.engine = null;
    this.o.down();
    if (this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start();
    }, RESTART_MS);
  }

  /** Before a re-exec: current marked cleanly closed when idle, so the next image's logger appends to it. */
  markClean(): void {
    try {
      this.engine?.markClean();
    } catch {
      /* the next logger archives it as unfinished, as s6-log does */
    }
  }

  /** The end: read out what the fifo holds, write it, close the logdir cleanly, close the fifo. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const feeder = this.feeder;
    const engine = this.engine;
    if (feeder && engine) {
      await feeder.drain();
      // (a fault while draining has abandoned the engine: nothing left to close)
      if (this.engine === engine) await engine.close();
    }
    this.feeder = null;
    this.engine = null;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
