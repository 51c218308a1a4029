/**
 * The one bounded non-blocking writer of vigil: what goes to a stdout, a copy for `docker logs` or a console
 * that may stop reading. write() never blocks and never throws: it writes what the fd takes now (the shim's
 * non-throwing write on a non-blocking fd), keeps the rest, and flushes it when the fd becomes writable
 * (one uv_poll watcher from fdwatch.ts, only while something waits; idle = no watcher, no wake-up).
 *
 *   const sink = new Sink(fd, { max: 1 << 20, onError, onDrained });
 *   sink.write(buf)          // true: all written now; false: held (or dropped, or the sink is dead)
 *   sink.pending             // bytes held
 *   sink.dropped             // lines (newlines) dropped because `max` bytes were already held
 *   sink.settle(ms)          // resolves once nothing is held (or ms passed)
 *   sink.close()             // stop the watcher, close the fd
 *
 * - At most `max` bytes wait; a write that would go past it is dropped whole and counted (in lines and
 *   bytes). `max: Infinity` is for an owner that bounds it itself through back-pressure on `pending`
 *   (`vigil log`: the engine stops reading while its stdout holds too much).
 * - Once a flush has emptied the queue after dropping, onDropped(lines) is called once with the count not
 *   yet reported, so the owner can say so (a line on the fd itself, a warning elsewhere).
 * - A hard error (EPIPE, EIO, ...; anything but EAGAIN) kills the sink: what it holds is discarded, later
 *   writes are ignored, onError(errno) is called once. The fd is the owner's (close() closes it).
 * - The fd must be non-blocking (a description of its own, so O_NONBLOCK disturbs nobody else).
 */
import { native } from './native';
import { watchFd, FdWatch, POLL_WRITABLE } from './fdwatch';
import { EAGAIN } from './errors';
import { closeQuiet } from './fds';

export interface SinkOptions {
  /** bytes held at most while the fd does not take them (default 1 MiB); Infinity: the owner bounds it */
  max?: number;
  /** a hard write error (negative errno): the sink is dead from then on */
  onError?: (errno: number) => void;
  /** what was held has all gone out (or was discarded by an error) after a wait for the fd */
  onDrained?: () => void;
  /** after a flush that emptied the queue: lines dropped since the last report */
  onDropped?: (lines: number) => void;
  /**
   * the fd is a shared socket description that must stay blocking for its other users (a socket cannot be
   * re-opened as a description of one's own): write with send(MSG_DONTWAIT) instead
   */
  dontWait?: boolean;
}

export const SINK_MAX_DEFAULT = 1 << 20;

export class Sink {
  private q: Buffer[] = [];
  private qBytes = 0;
  private watch: FdWatch | null = null;
  private dead_ = false;
  private waiters: Array<() => void> = [];
  private unreported = 0;
  private readonly max: number;
  /** lines dropped because `max` bytes were already held (total) */
  dropped = 0;
  /** bytes dropped because `max` bytes were already held (total) */
  droppedBytes = 0;

  constructor(readonly fd: number, private readonly opts: SinkOptions = {}) {
    this.max = opts.max ?? SINK_MAX_DEFAULT;
  }

  /** bytes held, waiting for the fd */
  get pending(): number {
    return this.qBytes;
  }

  /** a copy of what is held (in order), e.g. to hand it to the next image of this process across a re-exec */
  held(): Buffer {
    return Buffer.concat(this.q);
  }

  /** a hard error happened: writes are ignored */
  get dead(): boolean {
    return this.dead_;
  }

  /** Write now what the fd takes, hold the rest (up to max). True if everything went out now. */
  write(data: Buffer | string): boolean {
    if (this.dead_) return false;
    let b = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.q.length === 0) {
      const r = this.put(b);
      if (r === b.length) return true;
      if (r >= 0) b = b.subarray(r);
      else if (r !== -EAGAIN) {
        this.fail(r);
        return false;
      }
    }
    if (this.qBytes + b.length > this.max) {
      let n = 0;
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
      this.dropped += n;
      this.unreported += n;
      this.droppedBytes += b.length;
      return false;
    }
    // a copy: the caller may reuse its buffer
    this.q.push(Buffer.from(b));
    this.qBytes += b.length;
    if (!this.watch) this.watch = watchFd(this.fd, POLL_WRITABLE, () => this.flush());
    return false;
  }

  private put(b: Buffer): number {
    return this.opts.dontWait ? native().writeDontwait(this.fd, b, 0, b.length) : native().write(this.fd, b, 0, b.length);
  }

  private fail(r: number): void {
    this.dead_ = true;
    this.q = [];
    this.qBytes = 0;
    this.stopWatch();
    if (this.opts.onError) this.opts.onError(r);
  }

  private stopWatch(): void {
    if (this.watch) {
      this.watch.stop();
      this.watch = null;
    }
  }

  /** the fd is writable: write what is held, in order */
  private flush(): void {
    while (this.q.length) {
      const b = this.q[0];
      const r = this.put(b);
      if (r === -EAGAIN) return; // the watcher fires again
      if (r < 0) {
        this.fail(r);
        break;
      }
      this.qBytes -= r;
      if (r === b.length) this.q.shift();
      else this.q[0] = b.subarray(r);
    }
    this.stopWatch();
    if (this.unreported > 0 && !this.dead_) {
      const k = this.unreported;
      this.unreported = 0;
      if (this.opts.onDropped) this.opts.onDropped(k);
    }
    if (this.opts.onDrained) this.opts.onDrained();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** resolves when nothing is held any more (written, or discarded by an error), or after ms */
  settle(ms: number): Promise<void> {
    if (this.q.length === 0 || this.dead_) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** stop watching the fd (what is held stays held); the fd stays open */
  stop(): void {
    this.stopWatch();
  }

  /** stop watching and close the fd */
  close(): void {
    this.stopWatch();
    closeQuiet(this.fd);
  }
}
