/**
 * PipeFeeder: reads a non-blocking pipe/fifo fd into a LogEngine — the reading half of `vigil log`, and the
 * piece the supervisor uses for logging inside its own process (the service's stdout pipe → the engine).
 *
 * Three ways to take input, tried in this order (README.md: "A killed logger loses nothing and doubles nothing"):
 * - spool (pipes and fifos, a logdir in the script): splice(2) moves up to one read's worth of bytes from the
 *   pipe to the end of the first logdir's `spool` file — taken from the pipe and on file in one system call —
 *   then they are fed to the engine, which writes their lines to every logdir and only then records in the
 *   spool's header that they are applied (src/logger/spool.ts, LogEngine.feedFromPipe). A SIGKILL anywhere
 *   loses nothing (the bytes are in the pipe or in the spool) and doubles nothing (the next logger cuts each
 *   `current` back to where the unapplied bytes' output began, then writes them again). A partial line is in
 *   the spool too. After stop() with a half-read line, the pipe is peeked (tee(2)) so that only the bytes up
 *   to the end of that line are taken: the rest stays in the pipe for the next reader (as s6-log).
 * - peek (the spool cannot be used: no logdir, or a file system that cannot splice): tee(2) copies up to
 *   READ_QUANTUM bytes from the front of the pipe without consuming them, the complete lines among them are
 *   written, and only then are those bytes read out of the pipe. Window: a kill between the write and the
 *   read doubles one chunk; a line with no separator while the pipe holds nothing else is taken into memory
 *   (and lost by a kill before it ends) — s6-log's window.
 * - read (a socket, a tty: neither splice nor tee works): read(2) 8191 bytes at a time, each read written
 *   before the next (s6-log's window).
 * - One uv_poll watcher on the fd while the engine wants input; none while it applies back-pressure
 *   (wantsInput() false: output unwritten, spool unsettled → the watcher is stopped, the pipe fills, the
 *   writer blocks) — call resume() from the engine's onDrain. Idle = no timer, no wake-up.
 * - At most `maxReadsPerWake` chunks per wake-up so one chatty service cannot starve the loop.
 * - EOF (every writer gone): engine.end(), then onDone('eof'). The fd is not closed here (its owner closes it).
 * - drain(): the end without waiting for EOF (a supervisor closing a logger): what is unwritten is settled,
 *   what the pipe holds now is taken (the same way) and written, then the engine ends.
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
  /** how input is taken (see the header): spool → peek → read, falling back on EINVAL */
  private mode: 'spool' | 'peek' | 'read';
  /** peek mode: bytes fed to the engine (written or being written) and still in the pipe */
  private unconsumed = 0;
  /** drain(): resolve once the fd is read out and the engine ended */
  private drained: (() => void) | null = null;

  constructor(readonly fd: number, readonly engine: LogEngine, private readonly opts: PipeFeederOptions = {}) {
    if (!opts.keepFlags) native().setNonblock(fd, true);
    this.mode = opts.peek === false ? 'read' : engine.useSpool() ? 'spool' : 'peek';
    if (this.mode === 'peek') engine.deferRotations = true;
  }

  /** how input is taken now (tests, diagnostics) */
  get how(): 'spool' | 'peek' | 'read' {
    return this.mode;
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
   * The end, without waiting for EOF: stop watching, take what the fd holds now (honouring the engine's
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
    // bytes already peeked and fed are taken out of the pipe once written, never read a second time
    if (!this.settle()) return; // onDrain → resume() brings us back
    for (;;) {
      if (this.engine.inputClosed) break;
      if (!this.engine.wantsInput()) return; // onDrain → resume() brings us back
      const r = this.take();
      if (r > 0) continue;
      if (r === -EAGAIN && !this.engine.wantsInput()) return; // the spool is stuck: its retry brings us back
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

  /** peek mode: bytes fed to the engine whose consumption from the pipe waits for their write (0 when settled) */
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
   * Peek mode: the engine wrote what it took: take those bytes out of the pipe. false: still unwritten (the
   * engine then calls onDrain once they are). Spool mode: nothing to do here (the engine settles its spool).
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

  /**
   * Take one chunk of input the current way and feed it. Returns the bytes taken (> 0), 0 at EOF, or a
   * negative errno (-EAGAIN: nothing there now, or the spool is stuck).
   */
  private take(): number {
    const n = native();
    const buf = scratchBuf();
    for (;;) {
      if (this.mode === 'spool') {
        let want = this.engine.readSize();
        if (this.engine.finishingLine) {
          // after stop(): take only up to the end of the line being finished
          want = this.lineEnd();
          if (want <= 0) return want;
        }
        const r = this.engine.feedFromPipe(this.fd, want, buf);
        if (r === -EINVAL) {
          this.engine.dropSpool(); // not a pipe, or no splice on the logdir's file system
          this.mode = 'peek';
          this.engine.deferRotations = true;
          continue;
        }
        return r;
      }
      if (this.mode === 'peek') {
        const [pr, pw] = peekPipeFds();
        const r = n.tee(this.fd, pw, READ_QUANTUM);
        if (r === -EINVAL) {
          this.mode = 'read'; // not a pipe: plain reads
          this.engine.deferRotations = false;
          continue;
        }
        if (r <= 0) return r;
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
          return take;
        }
        this.unconsumed = this.engine.feed(buf, 0, take);
        if (!this.settle()) return take; // written later: the next take waits for settle()
        return take;
      }
      const r = n.read(this.fd, buf, 0, Math.min(READ_QUANTUM, this.engine.readSize()));
      if (r > 0) this.engine.feed(buf, 0, r);
      return r;
    }
  }

  /** spool mode after stop(): bytes up to and including the first separator at the front of the pipe (all of them if none) */
  private lineEnd(): number {
    const n = native();
    const [pr, pw] = peekPipeFds();
    const r = n.tee(this.fd, pw, READ_QUANTUM);
    if (r <= 0) return r;
    const buf = scratchBuf();
    const got = n.read(pr, buf, 0, r);
    if (got !== r) throw new Error(`vigil: internal error: peeked ${r} bytes, read back ${got}`);
    const nl = buf.subarray(0, r).indexOf(NL);
    const nul = buf.subarray(0, r).indexOf(0);
    const sep = nl === -1 ? nul : nul === -1 ? nl : Math.min(nl, nul);
    return sep === -1 ? r : sep + 1;
  }

  private pump(): void {
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
      const r = this.take();
      if (r > 0) continue;
      if (r === -EAGAIN) {
        if (!this.engine.wantsInput()) { this.unwatch(); return; } // the spool is stuck: its retry → onDrain
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
