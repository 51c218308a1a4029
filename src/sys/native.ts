/**
 * The typed face of the native shim (native/shim.c, built by node-gyp into native/build/Release/shim.node).
 *
 * Why a shim at all: as PID 1 or a subreaper vigil reaps every orphan with waitpid(-1), which would steal
 * libuv's children, so the supervisor never uses child_process. fork→execve must run async-signal-safe C
 * (forking V8 and running JS in the child crashes), and a few syscalls (OFD locks, prctl, reboot, mount,
 * pidfd) have no Node API. Everything else stays in TypeScript.
 *
 * Conventions: functions that fail throw a SysError-shaped Error with `code` ('ENOENT'), `errno` (negative,
 * as Node does), `syscall` (and for spawn, `stage`: 'fifo', 'dup2', 'chdir', 'execve' ...). The hot-path I/O
 * functions `read`/`write`/`kill` do not throw: they return a negative errno instead.
 */
import * as path from 'node:path';

export interface ReapResult {
  pid: number;
  /** raw wait status as returned by waitpid */
  status: number;
}

export interface SpawnOptions {
  /** call setsid() in the child (default true) */
  setsid?: boolean;
  /** reset every signal disposition to SIG_DFL (default true); false keeps ignored ones. The mask is always emptied. */
  resetSignals?: boolean;
  /** chdir() in the child before exec */
  cwd?: string;
  /**
   * Stage 2's half of the fifo trick: after every other set-up step, open this path O_WRONLY *blocking*
   * (returns once a reader exists) and dup2 it onto each fd of `fifoFds` (default [1, 2]). spawn() returns
   * as soon as the child reaches this point; a failure after it shows only as exit status 127.
   */
  fifoWrite?: string;
  fifoFds?: number[];
  /**
   * the caller itself holds a read end of `fifoWrite` (open across the call), so the child's blocking open
   * returns at once: the child is then made by the fast clone path instead of fork() (a fork of a Node
   * process copies its page tables: 10-18 ms at 50-80 MB)
   */
  fifoReaderHeld?: boolean;
  /** setpgid(0, pgid) in the child when setsid is false (0 = own group) */
  pgid?: number;
  /**
   * the child fd (after the fd map, e.g. 0) of a terminal: the child makes its own process group the
   * terminal's foreground group before exec (use with setsid false and pgid 0). Errors are ignored (check
   * with tcgetpgrp): a terminal that is not the caller's controlling one gives no job control.
   */
  foreground?: number;
  /** set uid/gid in the child (after everything needing privileges) */
  uid?: number;
  gid?: number;
}

export interface PollHandle { readonly __poll: unique symbol }

export interface NativeShim {
  /**
   * clone(CLONE_VM|CLONE_VFORK) on a private stack + execve, as posix_spawn does (a fork of a 50 MB Node
   * process costs 10-18 ms of page-table copying; this costs ~1 ms); plain fork() only with `fifoWrite`,
   * whose child blocks in open() and must not suspend the parent. `file` must be an absolute path, or contain a '/' ('./run': resolved in the child after
   * chdir(opts.cwd), as s6 execs ./run so a script's $0 is ./run); a bare name is a TypeError (no PATH search
   * in the child: do it in TS with which()). `fdmap[i]` is the parent fd
   * that becomes fd i in the child (null or -1 = closed); every other fd is closed at exec. Signals are all
   * blocked across the clone/fork. Throws on failure before exec (the failed child is reaped by the shim). Returns pid.
   */
  spawn(file: string, argv: string[], envp: string[], fdmap: Array<number | null>, opts?: SpawnOptions): number;
  /** waitpid(-1, WNOHANG) until 0 or ECHILD */
  reap(): ReapResult[];
  /** waitid(P_ALL, WNOHANG|WNOWAIT): is any child left (alive or unreaped)? Reaps nothing. */
  hasChildren(): boolean;
  /** waitpid(pid, WNOHANG): null while still running */
  waitpid(pid: number): ReapResult | null;
  execve(file: string, argv: string[], envp: string[]): never;
  mkfifo(path: string, mode: number): void;
  /** [readFd, writeFd], both O_CLOEXEC (and O_NONBLOCK if asked) */
  pipe(nonblock?: boolean): [number, number];
  dup2(oldfd: number, newfd: number): number;
  /** dup with F_DUPFD_CLOEXEC at or above minFd */
  dupCloexec(fd: number, minFd: number): number;
  setCloexec(fd: number, on: boolean): void;
  setNonblock(fd: number, on: boolean): void;
  /** non-throwing: bytes read (0 = EOF) or negative errno (e.g. -11 EAGAIN) */
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** non-throwing: bytes written or negative errno */
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /**
   * write that never blocks, even on a blocking socket (send with MSG_DONTWAIT|MSG_NOSIGNAL; the
   * description's flags are left alone); on anything but a socket, plain write. Non-throwing.
   */
  writeDontwait(fd: number, buf: Uint8Array, offset: number, length: number): number;
  close(fd: number): void;
  /** non-throwing kill(2): 0 or negative errno */
  kill(pid: number, sig: number): number;
  /**
   * fcntl record locks over the whole file. ofd=true uses F_OFD_SETLK (owned by the open file description:
   * one process can hold many, and closing another fd on the same file does not drop it).
   * Returns true if taken, false if someone else holds it (EAGAIN/EACCES). wait=true uses F_(OFD_)SETLKW.
   */
  lock(fd: number, exclusive: boolean, ofd: boolean, wait?: boolean): boolean;
  unlock(fd: number, ofd: boolean): void;
  /** F_GETLK with F_RDLCK over the whole file, as s6 clients do: the holder's pid (-1 for OFD), or 0 if free */
  lockHolder(fd: number): number;
  setsid(): number;
  setSubreaper(on: boolean): void;
  getSubreaper(): boolean;
  reboot(cmd: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  sync(): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, sig: number): void;
  /**
   * Watch fd with a uv_poll handle on the main loop (no thread pool, no timer). events: 1 readable, 2 writable.
   * cb(events) runs on the loop; a negative value is an error status. Costs one small handle per fd.
   */
  pollStart(fd: number, events: number, cb: (events: number) => void): PollHandle;
  pollStop(h: PollHandle): void;
  /** clock_gettime: [seconds, nanoseconds] */
  clockGettime(clock: number): [number, number];
  /** [soft, hard]; RLIM_INFINITY is reported as Infinity */
  getrlimit(resource: number): [number, number];
  /** Infinity (or a negative number) means RLIM_INFINITY */
  setrlimit(resource: number, soft: number, hard: number): void;
  /** ioctl(fd, TIOCNOTTY) */
  tiocnotty(fd: number): void;
  /** ioctl(fd, KDSIGACCEPT, sig): the keyboard request (Alt-Up) becomes sig to pid 1 */
  kdSigAccept(fd: number, sig: number): void;
  /** tcgetpgrp, non-throwing: the foreground process group (0 if not visible in our pid namespace) or -errno */
  tcgetpgrp(fd: number): number;
  /** tcsetpgrp with SIGTTOU blocked for the call, non-throwing: 0 or -errno */
  tcsetpgrp(fd: number, pgrp: number): number;
  /** SIG_IGN (true) or SIG_DFL (false) for a signal Node does not handle (SIGTTOU, SIGTTIN); children get SIG_DFL */
  ignoreSignal(sig: number, on: boolean): void;
  /** prctl(PR_SET_NAME) */
  setProcessName(name: string): void;
  readonly constants: {
    RB_AUTOBOOT: number; RB_HALT_SYSTEM: number; RB_POWER_OFF: number; RB_ENABLE_CAD: number; RB_DISABLE_CAD: number;
    MS_RDONLY: number; MS_NOSUID: number; MS_NODEV: number; MS_NOEXEC: number; MS_REMOUNT: number; MS_BIND: number;
    MS_MOVE: number; MNT_DETACH: number; MNT_FORCE: number;
    CLOCK_REALTIME: number; CLOCK_MONOTONIC: number; RLIMIT_NOFILE: number;
    /** added by the shim's owner (backwards compatible) */
    MS_REC: number; MS_PRIVATE: number; MS_SLAVE: number; MS_SHARED: number; CLOCK_BOOTTIME: number;
    RLIMIT_CORE: number; RLIMIT_NPROC: number; POLL_READABLE: number; POLL_WRITABLE: number;
  };
}

let cached: NativeShim | undefined;

/** Load the shim once; fail with one message naming every path tried. */
export function native(): NativeShim {
  if (cached) return cached;
  // the project root: dist/src/sys/ up three (tsc's output), or dist/ up one (the bundle dist/vigil.js)
  const roots = [path.resolve(__dirname, '..', '..', '..'), path.resolve(__dirname, '..')];
  const tried: string[] = [];
  for (const p of roots.flatMap((root) => ['native/build/Release/shim.node', 'native/build/Debug/shim.node'].map((rel) => path.join(root, rel)))) {
    tried.push(p);
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      cached = require(p) as NativeShim;
      return cached;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error(`vigil: native shim not built (run npm install); tried: ${tried.join(', ')}`);
}
