/**
 * The typed face of the native shim (native/shim.c), and its loader: a prebuilt binary from the npm package
 * (prebuilds/<target>/vigil.node, made by native/prebuild.js) or a local node-gyp build (native/build/Release/shim.node).
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
import * as fs from 'node:fs';
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
  /**
   * lock-fd's lock held by another process: this child fd (of the fdmap) gets an OFD write lock with
   * F_OFD_SETLKW after every other set-up step, just before exec. spawn() returns as soon as the child
   * waits; a failure after that point shows only as exit status 127. Implies fork().
   */
  lockWait?: number;
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
   * process costs 10-18 ms of page-table copying; this costs ~1 ms); plain fork() only with `fifoWrite` or
   * `lockWait`, whose child blocks (in open(), on a lock) and must not suspend the parent. `file` must be an absolute path, or contain a '/' ('./run': resolved in the child after
   * chdir(opts.cwd), as s6 execs ./run so a script's $0 is ./run); a bare name is a TypeError (no PATH search
   * in the child: do it in TS with which()). `fdmap[i]` is the parent fd
   * that becomes fd i in the child (null or -1 = closed); every other fd is closed at exec. Signals are all
   * blocked across the clone/fork. Throws on failure before exec (the failed child is reaped by the shim). Returns pid.
   */
  spawn(file: string, argv: string[], envp: string[], fdmap: Array<number | null>, opts?: SpawnOptions): number;
  /** waitpid(-1, WNOHANG | __WALL) until 0 or ECHILD */
  reap(): ReapResult[];
  /** waitid(P_ALL, WNOHANG|WNOWAIT): is any child left (alive or unreaped)? Reaps nothing. */
  hasChildren(): boolean;
  /**
   * Start the child watcher (once per process; again only replaces cb): a thread blocked in
   * waitid(P_ALL, WEXITED | WNOWAIT | __WALL) that calls cb on the loop whenever a child is a zombie, and
   * waits until a reap() that began after that has run. cb must call reap(). false if it could not start.
   */
  watchChildren(cb: () => void): boolean;
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
  /**
   * tee(2) with SPLICE_F_NONBLOCK: copy up to len bytes from pipe fdIn to pipe fdOut without consuming them.
   * Non-throwing: bytes copied, 0 at EOF (fdIn empty, no writer), or a negative errno (-11 EAGAIN: fdIn empty;
   * -22 EINVAL: not pipes).
   */
  tee(fdIn: number, fdOut: number, len: number): number;
  /**
   * splice(2) with SPLICE_F_NONBLOCK from pipe fdIn to fdOut at offset offOut (-1: fdOut's position). The bytes
   * written are exactly the bytes taken, in one system call (a SIGKILL cannot fall between). Non-throwing: bytes
   * moved, 0 at EOF, or a negative errno (-11 EAGAIN: fdIn empty; -22 EINVAL: not a pipe, or no splice there).
   */
  splice(fdIn: number, fdOut: number, offOut: number, len: number): number;
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
  /**
   * AF_UNIX stream sockets with fd passing (the service manager's control socket). unixListen: socket + bind
   * + listen, non-blocking, close-on-exec (remove a stale file first). unixConnect: a blocking client socket.
   * accept, sendFds, recvFds: non-throwing, never blocking (negative errno; -11 EAGAIN), no SIGPIPE; at most
   * 16 fds a message; received fds are close-on-exec, and a message whose fds did not fit gives -EBADMSG with
   * every fd that came closed.
   */
  unixListen(path: string, backlog?: number): number;
  unixConnect(path: string): number;
  accept(fd: number): number;
  sendFds(fd: number, buf: Uint8Array, offset: number, length: number, fds: number[] | null): number;
  recvFds(fd: number, buf: Uint8Array, offset: number, length: number): [number, number[]];
  /** SO_PEERCRED: [pid, uid, gid] of the peer */
  peerCred(fd: number): [number, number, number];
  /**
   * (Re)configure the event-loop watchdog (native/shim.c; src/supervisor/watchdog.ts), starting it the first time
   * limitMs > 0: after limitMs without the loop turning, a native thread writes one line to fd 2, clears
   * close-on-exec on `keep` and execve(file, argv, env + VIGIL_REEXEC_COLD=1;faults;now;blocked;note).
   * limitMs 0: never fires. true while it runs.
   */
  watchdog(cfg: { limitMs: number; file: string; argv: string[]; env: string[]; faults: string; who: string; keep: number[] }): boolean;
  /** the note carried in the marker (at most 255 bytes; no system call) */
  watchdogNote(note: string): void;
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
let loadedFrom: string | undefined;

/**
 * The project's root (holds prebuilds/ and native/): three levels above tsc's dist/src/sys/, one above the
 * bundle dist/vigil.js (scripts/bundle.js). Decided by where this code is, never by probing upwards (a bundle
 * in node_modules/vigil/dist/ has the user's own project three levels up).
 */
export const ROOT = path.basename(__dirname) === 'sys' ? path.resolve(__dirname, '..', '..', '..') : path.resolve(__dirname, '..');

/**
 * Which C library the running node links against, from the ELF interpreter (PT_INTERP) of process.execPath:
 * /lib/ld-musl-<arch>.so.1 is musl, ld-linux*.so.* is glibc. Reliable where file probes are not (a Debian host
 * with musl-tools has /lib/ld-musl-x86_64.so.1 too) and cheap (one 4 KiB read, no process.report). A node
 * without an interpreter (static) or unreadable falls back to process.report: glibcVersionRuntime only on glibc.
 */
export function libcOf(execPath: string = process.execPath): 'glibc' | 'musl' {
  const interp = elfInterpreter(execPath);
  if (interp !== null) {
    if (/ld-musl-/.test(interp)) return 'musl';
    if (/ld-linux/.test(interp)) return 'glibc';
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** PT_INTERP of a little-endian ELF64 file, '' if it has none, null if it is not one or cannot be read. */
export function elfInterpreter(file: string): string | null {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return null; }
  try {
    const read = (len: number, pos: number): Buffer => {
      const b = Buffer.alloc(len);
      const n = fs.readSync(fd, b, 0, len, pos);
      return b.subarray(0, n);
    };
    const h = read(64, 0);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB (x86-64 and aarch64 Linux are both)
    if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return null;
    const phoff = Number(h.readBigUInt64LE(0x20));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const ph = read(phentsize * phnum, phoff);
    for (let i = 0; i + 56 <= ph.length && i < phentsize * phnum; i += phentsize) {
      if (ph.readUInt32LE(i) !== 3 /* PT_INTERP */) continue;
      const s = read(Number(ph.readBigUInt64LE(i + 0x20)), Number(ph.readBigUInt64LE(i + 8)));
      const nul = s.indexOf(0);
      return s.subarray(0, nul < 0 ? s.length : nul).toString('latin1');
    }
    return '';
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The prebuilt binary's directory name for this process (prebuilds/<target>/vigil.node), or null if none is built for it. */
export function prebuildTarget(): string | null {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return null;
  return `linux-${process.arch}-${libcOf()}`;
}

/** Where a fitting prebuilt binary would be, or null if none is built for this platform. */
export function prebuildPath(): string | null {
  const t = prebuildTarget();
  return t === null ? null : path.join(ROOT, 'prebuilds', t, 'vigil.node');
}

/** The path the shim was loaded from (after native() succeeded). */
export function nativePath(): string | undefined {
  return loadedFrom;
}

/**
 * Load the first of `paths` that exists and loads; `tried` gets one "path (reason)" per failure.
 * A file that exists but does not load (wrong libc, a node too old for its Node-API level...) is passed over.
 */
export function loadFirst(paths: string[], tried: string[]): { shim: NativeShim; path: string } | null {
  for (const p of paths) {
    if (!fs.existsSync(p)) {
      tried.push(`${p} (not found)`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return { shim: require(p) as NativeShim, path: p };
    } catch (e) {
      tried.push(`${p} (${String((e as Error).message).split('\n')[0]})`);
    }
  }
  return null;
}

/**
 * Load the shim once. Order: $VIGIL_NATIVE alone if set; else the prebuilt binary for this platform, arch and
 * libc (prebuilds/linux-{x64,arm64}-{glibc,musl}/vigil.node, shipped in the npm package), then a local
 * node-gyp build (native/build/Release, then Debug: what `npm install` compiles when no prebuild fits).
 * Fails with one message naming every path tried and why each was passed over.
 */
export function native(): NativeShim {
  if (cached) return cached;
  const tried: string[] = [];
  const forced = process.env.VIGIL_NATIVE;
  const pre = prebuildPath();
  const paths = forced ? [path.resolve(forced)] : [
    ...(pre ? [pre] : []),
    path.join(ROOT, 'native', 'build', 'Release', 'shim.node'),
    path.join(ROOT, 'native', 'build', 'Debug', 'shim.node'),
  ];
  const got = loadFirst(paths, tried);
  if (got) {
    cached = got.shim;
    loadedFrom = got.path;
    return cached;
  }
  const what = `node ${process.version} on ${process.platform}-${process.arch}${process.platform === 'linux' ? ` (${libcOf()})` : ''}`;
  throw new Error(`vigil: no native shim loads for ${what}; tried ${tried.join(', ')}` +
    `${forced ? ' (from $VIGIL_NATIVE)' : ''}. Prebuilt binaries cover linux x64/arm64 with glibc or musl; ` +
    'elsewhere build it from source: npm rebuild vigil (needs python3, make and a C compiler)');
}
