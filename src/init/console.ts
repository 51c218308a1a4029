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
import { reopenFdEx } from '../sys/fds';
import { Sink } from '../sys/sink';

const { O_NOCTTY } = fs.constants;

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** A new description of what fd refers to, for writing or reading; falls back to a blocking dup. */
export function reopenFd(fd: number, write: boolean): number {
  return reopenFdEx(fd, write)[0];
}

/** at most this much of init's console messages waits for a console that does not read; the rest is dropped */
export const CONSOLE_MAX = 256 * 1024;

export class ConsoleHolder {
  /** close-on-exec dups of the original 0/1/2 (-1 = was closed) */
  readonly inFd: number;
  readonly outFd: number;
  readonly errFd: number;
  /** a description only init writes to, non-blocking, for its own console messages (-1: none) */
  private readonly sayFd: number;
  /** init's own console messages: never blocks PID 1, holds at most CONSOLE_MAX, counts what it drops */
  private readonly sink: Sink | null;

  private constructor(inFd: number, outFd: number, errFd: number) {
    this.inFd = inFd;
    this.outFd = outFd;
    this.errFd = errFd;
    const target = errFd >= 0 ? errFd : outFd;
    let s = -1;
    let shared = false;
    if (target >= 0) {
      try {
        // a description of our own, non-blocking: a stuck serial console or a full pipe cannot hang PID 1
        // (a socket cannot be reopened: its shared dup stays blocking for its other users, and the sink
        // writes to it with send(MSG_DONTWAIT))
        const [fd, fresh] = reopenFdEx(target, true, true);
        s = fd;
        shared = !fresh;
      } catch {
        s = -1;
      }
    }
    this.sayFd = s;
    this.sink = s < 0 ? null : new Sink(s, {
      max: CONSOLE_MAX,
      dontWait: shared,
      onDropped: (lines) => {
        this.sink?.write(`vigil init: ${lines} console lines were dropped (the console did not read them)\n`);
      },
    });
  }

  /** Take the current 0/1/2 (call before the fifo trick, before anything touched process.stdout/stderr). */
  static fromStdio(): ConsoleHolder {
    const sh = native();
    const d = (fd: number): number => (isOpen(fd) ? sh.dupCloexec(fd, 10) : -1);
    return new ConsoleHolder(d(0), d(1), d(2));
  }

  /** After a re-exec of init: the holder's dups of the original 0/1/2, carried across the exec by number. */
  static adopt(inFd: number, outFd: number, errFd: number): ConsoleHolder {
    return new ConsoleHolder(inFd, outFd, errFd);
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
   * Write a message on the console; never blocks, never throws. What the console does not take now waits
   * (at most CONSOLE_MAX bytes, then messages are dropped and counted, and a line says so once it reads).
   */
  say(text: string): void {
    this.sink?.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** lines dropped because the console did not read (total) */
  get dropped(): number {
    return this.sink?.dropped ?? 0;
  }

  /** resolves once every message has reached the console (or after ms): before init exits */
  settle(ms: number): Promise<void> {
    return this.sink ? this.sink.settle(ms) : Promise.resolve();
  }

  /** The raw fd init writes its own console messages to (for redirecting 1/2 back at the end). */
  get fd(): number {
    return this.sayFd;
  }
}
