/**
 * PipeFeeder: reads a non-blocking pipe/fifo fd into a LogEngine — the reading half of `vigil log`, and the
 * piece the supervisor uses for logging inside its own process (the service's stdout pipe → the engine).
 *
 * Peek, write, then take (pipes and fifos): a logger that read() bytes and is SIGKILLed before it wrote them
 * loses them — s6-log's window is one 8191-byte read. Here the bytes stay in the pipe (which the supervisor
 * holds, so it outlives the logger) until their lines are in every logdir:
 *   1. tee(2) copies up to READ_QUANTUM bytes from the front of the pipe to a private scratch pipe, without
 *      consuming them, and they are read from there;
 *   2. the complete lines among them (up to the last '\n' or NUL) are fed to the engine, which writes them to
 *      the logdirs at once (synchronous writes);
 *   3. once every logdir's queue is empty, exactly the bytes the engine took are consumed from the pipe
 *      (read into scratch) — then the next peek. Nothing more is peeked while bytes are unwritten, so the
 *      pipe is the only buffer (a full disk: the pipe fills and the writer blocks).
 *   A rotation that falls due after a write waits until those bytes are consumed (engine.commit()), so the
 *   fsync of a rotation never sits between a write and its consumption.
 *   What a SIGKILL can cost: a line whose bytes were written but not yet consumed is written again by the
 *   next logger (the window is the write(2) calls of one chunk ≤ 8191 bytes and the read(2) that consumes
 *   it); bytes of a line with no separator yet, when the pipe holds nothing else, are taken into memory as
 *   s6-log does (else poll would report the pipe readable forever) and are lost if the logger dies before
 *   the line ends. Complete lines are never lost.
 * - Other inputs (a socket, a tty: tee(2) refuses them) are read() directly, 8191 bytes at a time, each read
 *   written before the next (s6-log's window).
 * - One uv_poll watcher on the fd while the engine wants input; none while it applies back-pressure
 *   (wantsInput() false, or bytes unwritten → the watcher is stopped, the pipe fills, the writer blocks) —
 *   call resume() from the engine's onDrain. Idle = no timer, no wake-up.
 * - At most `maxReadsPerWake` chunks per wake-up so one chatty service cannot starve the loop.
 * - After engine.stop() with a half-read line, bytes are taken up to the end of that line only, so the bytes
 *   after it stay in the pipe for the next reader (as s6-log).
 * - EOF (every writer gone): engine.end(), then onDone('eof'). The fd is not closed here (its owner closes it).
 * - drain(): the end without waiting for EOF (a supervisor closing a logger): what is unwritten is settled,
 *   what the pipe holds now is read and written, then the engine ends.
 */
import { native } from '../sys/native';
import { watchFd, FdWatch, POLL_READABLE } from '../sys/fdwatch';
import { EAGAIN, EINVAL, EPIPE } from '../sys/errors';
import { LogEngine, BIG_READ, READ_QUANTUM } from './engine';

const NL = 10;

export interface PipeFeederOptions {
  /**
   * called once when the feeder is done for good: EOF (fed to the engine as end()), a read error, or the
   * engine taking no more input (after stop() and the last line, or end()/close() called by the owner)
   */
  onDone?: (why: 'eof' | 'error' | 'closed') => void;
  /** a read error other than EAGAIN (negative errno); the feeder then stops and ends the engine */
  onError?: (errno: number) => void;
  /** chunks per wake-up before yielding (default 16) */
  maxReadsPerWake?: number;
  /** do not set O_NONBLOCK (the caller already did) */
  keepFlags?: boolean;
  /**
   * an exception from the engine while feeding it: the feeder stops and reports it here (a logger inside
   * a supervisor restarts itself); without it the exception propagates (to the loop: uncaught)
   */
  onFault?: (e: unknown) => void;
  /** false: plain read() even on a pipe (tests; the old, s6-log-like window) */
  peek?: boolean;
}

/** One scratch buffer for every feeder: the engine copies what it keeps, so reads can share it. */
let scratch: Buffer | null = null;
/** One private pipe for every feeder's peeks: emptied by each peek before the next. */
let peekPipe: [number, number] | null = null;

function scratchBuf(): Buffer {
  if (!scratch) scratch = Buffer.allocUnsafe(BIG_READ);
  return scratch;
}

function peekPipeFds(): [number, number] {
  if (!peekPipe) peekPipe = native().pipe(true);
  return peekPipe;
}

/** index just past the last separator ('\n' or NUL) in buf[0, n), 0 if none */
function completeLines(buf: Buffer, n: number): number {
  const view = buf.subarray(0, n);
  const nl = view.lastIndexOf(NL);
  const nul = view.lastIndexOf(0);
  return Math.max(nl, nul) + 1;
}

export class PipeFeeder {
  private watch: FdWatch | null = null;
  private stopped = false;
  private eof = false;
  private doneCalled = false;
  private scheduled = false;
  /** peek mode: true while tee(2) works on this fd */
  private peeking: boolean;
  /** bytes fed to the engine (written or being written) and still in the pipe */
  private unconsumed = 0;
  /** drain(): resolve once the fd is read out and the engine ended */
  private drained: (() => void) | null = null;

  constructor(readonly fd: number, readonly engine: LogEngine, private readonly opts: PipeFeederOptions = {}) {
    if (!opts.keepFlags) native().setNonblock(fd, true);
    this.peeking = opts.peek !== false;
    if (this.peeking) engine.deferRotations = true;
  }

  /** Start (or restart after back-pressure): take what is there, then watch. */
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
    const buf = scratchBuf();
    // bytes already peeked and fed are taken out of the pipe once written, never read a second time
    if (!this.settle()) return; // onDrain → resume() brings us back
    for (;;) {
      if (this.engine.inputClosed) break;
      if (!this.engine.wantsInput()) return; // onDrain → resume() brings us back
      const r = n.read(this.fd, buf, 0, this.engine.readSize());
      if (r > 0) {
        this.engine.feed(buf, 0, r);
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

  /** Stop watching (the engine is left as it is; bytes not yet consumed stay in the pipe for the next reader). */
  stop(): void {
    this.stopped = true;
    this.unwatch();
  }

  get watching(): boolean {
    return this.watch !== null;
  }

  /** bytes fed to the engine whose consumption from the pipe waits for their write (0 when all is settled) */
  get pendingBytes(): number {
    return this.unconsumed;
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

  private watchInput(): void {
    if (!this.watch) this.watch = watchFd(this.fd, POLL_READABLE, () => this.guard(() => this.pump()));
  }

  /**
   * The engine wrote what it took: take those bytes out of the pipe. false: still unwritten (the engine then
   * calls onDrain once they are). An owner that reads the pipe itself after stop() calls this first.
   */
  settle(): boolean {
    if (this.unconsumed === 0) return true;
    if (!this.engine.logdirsWritten()) {
      this.engine.wantsInput(); // false: marks the engine blocked, so its onDrain fires once written
      return false;
    }
    const k = this.unconsumed;
    this.unconsumed = 0;
    const r = native().read(this.fd, scratchBuf(), 0, k);
    if (r !== k && this.opts.onError) this.opts.onError(r < 0 ? r : -EPIPE);
    this.engine.commit();
    return true;
  }

  private pump(): void {
    const n = native();
    const buf = scratchBuf();
    const max = this.opts.maxReadsPerWake ?? 16;
    for (let reads = 0; ; reads++) {
      if (this.stopped) { this.unwatch(); return; }
      if (!this.settle()) { this.unwatch(); return; } // onDrain → resume() comes back here
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
      // peeking: the engine takes a stopped line's bytes only up to its end (feed's result), so no 1-byte reads
      const want = this.peeking ? READ_QUANTUM : Math.min(READ_QUANTUM, this.engine.readSize());
      let r: number;
      if (this.peeking) {
        const [pr, pw] = peekPipeFds();
        r = n.tee(this.fd, pw, want);
        if (r === -EINVAL) {
          this.peeking = false; // not a pipe: plain reads
          this.engine.deferRotations = false;
          continue;
        }
        if (r > 0) {
          const got = n.read(pr, buf, 0, r);
          if (got !== r) throw new Error(`vigil: internal error: peeked ${r} bytes, read back ${got}`);
          let take = this.engine.finishingLine ? r : completeLines(buf, r);
          if (take === 0) {
            // no separator in what the pipe holds: s6-log's partial line, taken into memory — if the pipe
            // holds more than one peek, the line is longer than a peek and must be taken as well
            take = r;
            const c = n.read(this.fd, buf, 0, take); // consume first: these bytes live in memory from now
            if (c !== take) throw new Error(`vigil: internal error: peeked ${take} bytes, consumed ${c}`);
            this.engine.feed(buf, 0, take);
            continue;
          }
          this.unconsumed = this.engine.feed(buf, 0, take);
          continue;
        }
      } else {
        r = n.read(this.fd, buf, 0, want);
        if (r > 0) {
          this.engine.feed(buf, 0, r);
          continue;
        }
      }
      if (r === -EAGAIN) {
        this.watchInput();
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
