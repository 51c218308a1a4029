/**
 * The console holder: what init's stdout/stderr (and stdin) were before the fifo trick — the container's
 * own stdio (what `docker logs` shows) or /dev/console on a machine.
 *
 * Init keeps a close-on-exec dup of each, and never gives those descriptions to children: libuv may have
 * made a description O_NONBLOCK (node-pid1-facts.md §4), and a child must not inherit that. A child gets a
 * *freshly opened* description instead: `/proc/self/fd/N` re-opened (a new open file description for a pipe,
 * fifo, tty or device; O_APPEND for a regular file so it never writes over it). Only when that is impossible
 * (a socket, or no /proc) does the child share the dup, which is then made blocking.
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import { EAGAIN } from '../sys/errors';

const { O_WRONLY, O_RDONLY, O_APPEND, O_NOCTTY } = fs.constants;

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** A new description of what fd refers to, opened with flags; falls back to a blocking dup. */
export function reopenFd(fd: number, write: boolean): number {
  return reopenFdEx(fd, write)[0];
}

/** reopenFd, also saying whether the description is new (true) or a shared dup (false) */
export function reopenFdEx(fd: number, write: boolean): [number, boolean] {
  const sh = native();
  let st: fs.Stats | null = null;
  try {
    st = fs.fstatSync(fd);
  } catch {
    st = null;
  }
  if (st && !st.isSocket()) {
    const flags = (write ? O_WRONLY | (st.isFile() ? O_APPEND : 0) : O_RDONLY) | O_NOCTTY;
    try {
      return [fs.openSync(`/proc/self/fd/${fd}`, flags), true];
    } catch {
      /* fall through */
    }
  }
  const d = sh.dupCloexec(fd, 3);
  try {
    sh.setNonblock(d, false);
  } catch {
    /* not every fd supports it */
  }
  return [d, false];
}

const pause = new Int32Array(new SharedArrayBuffer(4));

export class ConsoleHolder {
  /** close-on-exec dups of the original 0/1/2 (-1 = was closed) */
  readonly inFd: number;
  readonly outFd: number;
  readonly errFd: number;
  /** a description only init writes to, blocking, for its own console messages */
  private readonly sayFd: number;

  private constructor(inFd: number, outFd: number, errFd: number) {
    this.inFd = inFd;
    this.outFd = outFd;
    this.errFd = errFd;
    const target = errFd >= 0 ? errFd : outFd;
    let s = -1;
    if (target >= 0) {
      try {
        const [fd, fresh] = reopenFdEx(target, true);
        s = fd;
        // a description of our own: non-blocking, so a stuck serial console cannot hang PID 1 (say() waits
        // a bounded time, then drops the message)
        if (fresh) native().setNonblock(s, true);
      } catch {
        s = -1;
      }
    }
    this.sayFd = s;
  }

  /** Take the current 0/1/2 (call before the fifo trick, before anything touched process.stdout/stderr). */
  static fromStdio(): ConsoleHolder {
    const sh = native();
    const d = (fd: number): number => (isOpen(fd) ? sh.dupCloexec(fd, 10) : -1);
    return new ConsoleHolder(d(0), d(1), d(2));
  }

  /** Machine mode: /dev/console for everything. */
  static fromDevice(dev: string): ConsoleHolder {
    const sh = native();
    // non-blocking open: a serial line without carrier must not hang PID 1; then blocking again
    const fd = fs.openSync(dev, fs.constants.O_RDWR | O_NOCTTY | fs.constants.O_NONBLOCK);
    sh.setNonblock(fd, false);
    const a = sh.dupCloexec(fd, 10);
    const b = sh.dupCloexec(fd, 10);
    const c = sh.dupCloexec(fd, 10);
    fs.closeSync(fd);
    return new ConsoleHolder(a, b, c);
  }

  /** Fresh descriptions for a child's 0/1/2 (the caller closes them after spawning). null = /dev/null. */
  freshStdio(): [number | null, number | null, number | null] {
    const r = (fd: number, w: boolean): number | null => {
      if (fd < 0) return null;
      try {
        return reopenFd(fd, w);
      } catch {
        return null;
      }
    };
    return [r(this.inFd, false), r(this.outFd, true), r(this.errFd, true)];
  }

  /** A fresh description of the console's output stream (stdout, else stderr). */
  freshOut(): number | null {
    const fd = this.outFd >= 0 ? this.outFd : this.errFd;
    if (fd < 0) return null;
    try {
      return reopenFd(fd, true);
    } catch {
      return null;
    }
  }

  /** A fresh description of the console's error stream (stderr, else stdout). */
  freshErr(): number | null {
    const fd = this.errFd >= 0 ? this.errFd : this.outFd;
    if (fd < 0) return null;
    try {
      return reopenFd(fd, true);
    } catch {
      return null;
    }
  }

  /**
   * Write a message on the console, synchronously; never throws. A console that accepts nothing for
   * about a second (EAGAIN) loses the rest of the message rather than stalling PID 1.
   */
  say(text: string): void {
    if (this.sayFd < 0) return;
    const b = Buffer.from(text.endsWith('\n') ? text : text + '\n');
    const sh = native();
    let off = 0;
    let waits = 0;
    while (off < b.length) {
      const n = sh.write(this.sayFd, b, off, b.length - off);
      if (n > 0) {
        off += n;
        continue;
      }
      if (n === -EAGAIN && waits++ < 100) {
        Atomics.wait(pause, 0, 0, 10);
        continue;
      }
      return;
    }
  }

  /** The raw fd init writes its own console messages to (for redirecting 1/2 back at the end). */
  get fd(): number {
    return this.sayFd;
  }
}
