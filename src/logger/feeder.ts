/**
 * PipeFeeder: reads a non-blocking pipe/fifo fd into a LogEngine — the reading half of `vigil log`, and the
 * piece the supervisor uses for logging inside its own process (the service's stdout pipe → the engine).
 *
 * - One uv_poll watcher on the fd while the engine wants input; none while it applies back-pressure
 *   (wantsInput() false → the watcher is stopped, the pipe fills, the writer blocks) — call resume() from
 *   the engine's onDrain. Idle = no timer, no wake-up.
 * - Reads of engine.readSize() bytes (8191 near a rotation, 64 KiB otherwise), each fed (and so written)
 *   before the next, at most `maxReadsPerWake` per wake-up so one chatty service cannot starve the loop.
 * - After engine.stop() with a half-read line, reads one byte at a time up to the end of that line, so the
 *   bytes after it stay in the pipe for the next reader (as s6-log).
 * - EOF (every writer gone): engine.end(), then onDone('eof'). The fd is not closed here (its owner closes it).
 */
import { native } from '../sys/native';
import { watchFd, FdWatch, POLL_READABLE } from '../sys/fdwatch';
import { EAGAIN, EPIPE } from '../sys/errors';
import { LogEngine, BIG_READ } from './engine';


export interface PipeFeederOptions {
  /**
   * called once when the feeder is done for good: EOF (fed to the engine as end()), a read error, or the
   * engine taking no more input (after stop() and the last line, or end()/close() called by the owner)
   */
  onDone?: (why: 'eof' | 'error' | 'closed') => void;
  /** a read error other than EAGAIN (negative errno); the feeder then stops and ends the engine */
  onError?: (errno: number) => void;
  /** reads per wake-up before yielding (default 16) */
  maxReadsPerWake?: number;
  /** do not set O_NONBLOCK (the caller already did) */
  keepFlags?: boolean;
  /**
   * an exception from the engine while feeding it: the feeder stops and reports it here (a logger inside
   * a supervisor restarts itself); without it the exception propagates (to the loop: uncaught)
   */
  onFault?: (e: unknown) => void;
}

/** One scratch buffer for every feeder: the engine copies what it keeps, so reads can share it. */
let scratch: Buffer | null = null;

export class PipeFeeder {
  private watch: FdWatch | null = null;
  private stopped = false;
  private eof = false;
  private doneCalled = false;
  private scheduled = false;
  /** drain(): resolve once the fd is read out and the engine ended */
  private drained: (() => void) | null = null;

  constructor(readonly fd: number, readonly engine: LogEngine, private readonly opts: PipeFeederOptions = {}) {
    if (!opts.keepFlags) native().setNonblock(fd, true);
  }

  /** Start (or restart after back-pressure): read what is there, then watch. */
  resume(): void {
    if (this.drained) {
      this.guard(() => this.drainStep());
      return;
    }
    if (this.stopped || this.eof) return;
    this.guard(() => this.pump());
  }

  /**
   * The end, without waiting for EOF: stop watching, read what the fd holds now (honouring the engine's
   * back-pressure: the engine's onDrain must call resume()), then end the engine. Resolves once ended; the
   * caller then closes the engine. A writer still holding the fd open cannot make it hang.
   */
  drain(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    return new Promise<void>((resolve) => {
      this.drained = resolve;
      this.resume();
    });
  }

  private drainStep(): void {
    const done = this.drained;
    if (!done) return;
    const n = native();
    if (!scratch) scratch = Buffer.allocUnsafe(BIG_READ);
    for (;;) {
      if (this.engine.inputClosed) break;
      if (!this.engine.wantsInput()) return; // onDrain → resume() brings us back
      const r = n.read(this.fd, scratch, 0, this.engine.readSize());
      if (r > 0) {
        this.engine.feed(scratch, 0, r);
        continue;
      }
      break; // EAGAIN: empty; 0: no writer left; error: nothing more to get
    }
    this.drained = null;
    this.engine.end();
    done();
  }

  private guard(f: () => void): void {
    if (!this.opts.onFault) {
      f();
      return;
    }
    try {
      f();
    } catch (e) {
      this.stopped = true;
      this.unwatch();
      const d = this.drained;
      this.drained = null;
      this.opts.onFault(e);
      if (d) d();
    }
  }

  /** Stop watching (the engine is left as it is). */
  stop(): void {
    this.stopped = true;
    this.unwatch();
  }

  get watching(): boolean {
    return this.watch !== null;
  }

  private unwatch(): void {
    if (this.watch) {
      this.watch.stop();
      this.watch = null;
    }
  }

  private finish(why: 'eof' | 'error' | 'closed'): void {
    this.unwatch();
    this.eof = true;
    if (this.doneCalled) return;
    this.doneCalled = true;
    if (this.opts.onDone) this.opts.onDone(why);
  }

  private pump(): void {
    const n = native();
    if (!scratch) scratch = Buffer.allocUnsafe(BIG_READ);
    const buf = scratch;
    const max = this.opts.maxReadsPerWake ?? 16;
    for (let reads = 0; ; reads++) {
      if (this.stopped) { this.unwatch(); return; }
      if (this.engine.inputClosed) { this.finish('closed'); return; }
      if (!this.engine.wantsInput()) { this.unwatch(); return; }
      if (reads >= max) {
        // more may be waiting: let the loop breathe, then go on (the watcher also fires, level-triggered)
        if (!this.watch && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => { this.scheduled = false; this.resume(); });
        }
        return;
      }
      const r = n.read(this.fd, buf, 0, this.engine.readSize());
      if (r > 0) {
        this.engine.feed(buf, 0, r);
        continue;
      }
      if (r === -EAGAIN) {
        if (!this.watch) this.watch = watchFd(this.fd, POLL_READABLE, () => this.guard(() => this.pump()));
        return;
      }
      const err = r < 0 && r !== -EPIPE;
      if (err && this.opts.onError) this.opts.onError(r);
      this.engine.end();
      this.finish(err ? 'error' : 'eof');
      return;
    }
  }
}
