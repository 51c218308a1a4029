/**
 * The fallback reader: init's own read end on the catch-all fifo while the catch-all logger is not ready.
 *
 * Why: a fifo with no reader makes every writer die of SIGPIPE (container-inits-measured.md: services that
 * print before the logger is up die, 8 boots out of 8). While the logger is down, init reads the fifo itself
 * so writers never see EPIPE:
 *   - 'hold' (at boot and right after the logger died): the bytes are kept (up to HOLD_MAX) and written back
 *     into the fifo once the logger is ready, so they still reach uncaught-logs;
 *   - 'console' (the logger has not been ready for `loggerTimeoutMs`, or the hold buffer is full): what was
 *     held and everything after goes to the console, as s6-linux-init's "if the logger cannot run" rule says.
 * When the logger signals readiness, the reader is closed and the held bytes are re-injected.
 * One fd + one uv_poll while active; nothing at all while the logger is up.
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import { FdWatch, readAvailable, watchReadable, watchFd, POLL_WRITABLE } from '../sys/fdwatch';
import { EAGAIN } from '../sys/errors';

export const HOLD_MAX = 256 * 1024;

export class FallbackReader {
  private fd = -1;
  private watch: FdWatch | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private mode: 'hold' | 'console' = 'hold';
  private readonly scratch = Buffer.allocUnsafe(65536);
  private reinject: Buffer[] = [];
  private reinjectWatch: FdWatch | null = null;

  constructor(
    private readonly fifo: string,
    /** writes to the console */
    private readonly toConsole: (b: Buffer) => void,
    /** init's own write end on the fifo (non-blocking), for re-injection */
    private readonly writeFd: number,
  ) {}

  get active(): boolean {
    return this.fd >= 0;
  }

  get currentMode(): 'hold' | 'console' {
    return this.mode;
  }

  /** Start reading (no-op if already). */
  engage(mode: 'hold' | 'console'): void {
    if (this.fd < 0) {
      this.fd = fs.openSync(this.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      this.watch = watchReadable(this.fd, () => this.onReadable());
    }
    this.setMode(mode);
  }

  setMode(mode: 'hold' | 'console'): void {
    this.mode = mode;
    if (mode === 'console') this.flushHeldToConsole();
  }

  private flushHeldToConsole(): void {
    for (const b of this.held) this.toConsole(b);
    this.held = [];
    this.heldBytes = 0;
  }

  private onReadable(): void {
    if (this.fd < 0) return;
    let r;
    try {
      r = readAvailable(this.fd, this.scratch, 1 << 18);
    } catch {
      return;
    }
    if (r.bytes.length === 0) return;
    if (this.mode === 'console') {
      this.toConsole(r.bytes);
      return;
    }
    this.held.push(r.bytes);
    this.heldBytes += r.bytes.length;
    if (this.heldBytes > HOLD_MAX) this.setMode('console');
  }

  /** read what the fifo still holds, then stop watching and close our read end */
  private stopReading(): void {
    if (this.fd < 0) return;
    this.onReadable();
    this.watch?.stop();
    this.watch = null;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** The logger is ready: stop reading, hand the held bytes back to the fifo. */
  disengage(): void {
    // whatever is still in the pipe is read by the logger; what we hold goes back in
    this.stopReading();
    if (this.heldBytes > 0) {
      this.reinject.push(...this.held);
      this.held = [];
      this.heldBytes = 0;
      this.pumpReinject();
    }
  }

  private pumpReinject(): void {
    const sh = native();
    while (this.reinject.length) {
      const b = this.reinject[0];
      const n = sh.write(this.writeFd, b, 0, b.length);
      if (n === b.length) {
        this.reinject.shift();
        continue;
      }
      if (n > 0) {
        this.reinject[0] = b.subarray(n);
        continue;
      }
      if (n === -EAGAIN) {
        if (!this.reinjectWatch) {
          this.reinjectWatch = watchFd(this.writeFd, POLL_WRITABLE, () => this.pumpReinject());
        }
        return;
      }
      // EPIPE: the logger went away again; the console gets it
      for (const x of this.reinject) this.toConsole(x);
      this.reinject = [];
    }
    this.reinjectWatch?.stop();
    this.reinjectWatch = null;
  }

  /** At the very end: anything still held goes to the console. */
  close(): void {
    this.stopReading();
    this.flushHeldToConsole();
    for (const x of this.reinject) this.toConsole(x);
    this.reinject = [];
    this.reinjectWatch?.stop();
    this.reinjectWatch = null;
  }
}
