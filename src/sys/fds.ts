/**
 * File-descriptor plumbing for handing fds to children. libuv makes the open file description behind
 * Node's own stdout/stderr O_NONBLOCK, and that flag is shared with every child given the same description;
 * reopenFresh gives a new, blocking description of the same pipe/fifo/tty/file through /proc/self/fd.
 */
import * as fs from 'node:fs';
import { native } from './native';

/** close(fd) ignoring every error (already closed, never opened: fd < 0). */
export function closeQuiet(fd: number): void {
  if (fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** open("/proc/self/fd/N") for reading or writing: same object, fresh description, close-on-exec, blocking. */
export function reopenFresh(fd: number, mode: 'r' | 'w'): number {
  return fs.openSync(`/proc/self/fd/${fd}`, mode === 'r' ? fs.constants.O_RDONLY : fs.constants.O_WRONLY);
}

/**
 * A new open file description of what fd refers to (pipe, fifo, tty, device: /proc/self/fd/N re-opened;
 * O_APPEND for a regular file, so it never writes over it), for writing or reading, blocking or not; true
 * with it. Where that is impossible (a socket, no /proc) a close-on-exec dup, shared with fd's other users,
 * so it is left blocking (nonblock is then not applied: it would change it for them too); false with it.
 */
export function reopenFdEx(fd: number, write: boolean, nonblock = false): [number, boolean] {
  const c = fs.constants;
  let st: fs.Stats | null = null;
  try {
    st = fs.fstatSync(fd);
  } catch {
    st = null;
  }
  if (st && !st.isSocket()) {
    const flags = (write ? c.O_WRONLY | (st.isFile() ? c.O_APPEND : 0) : c.O_RDONLY) | c.O_NOCTTY | (nonblock ? c.O_NONBLOCK : 0);
    try {
      return [fs.openSync(`/proc/self/fd/${fd}`, flags), true];
    } catch {
      /* fall through */
    }
  }
  const sh = native();
  const d = sh.dupCloexec(fd, 3);
  try {
    sh.setNonblock(d, false);
  } catch {
    /* not every fd supports it */
  }
  return [d, false];
}

/** the open flags of fd (and its O_CLOEXEC) as /proc/self/fdinfo shows them */
function fdFlags(fd: number): number {
  const octal = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s*([0-7]+)/m)?.[1] ?? '0';
  return parseInt(octal, 8);
}

/** true if the description behind fd is O_NONBLOCK */
export function isNonblocking(fd: number): boolean {
  return (fdFlags(fd) & fs.constants.O_NONBLOCK) !== 0;
}

/**
 * true if another fd of this process is open for writing on the same pipe or fifo as fd: then it is a writer
 * itself (libuv's own signal pipe is such a pair) and fd can never read EOF.
 */
export function pipeHeldTwice(fd: number): boolean {
  const me = fs.readlinkSync(`/proc/self/fd/${fd}`);
  if (!me.startsWith('pipe:')) return false;
  return fs.readdirSync('/proc/self/fd').some((n) => {
    if (Number(n) === fd) return false;
    try {
      return fs.readlinkSync(`/proc/self/fd/${n}`) === me && (fdFlags(Number(n)) & 3) === fs.constants.O_WRONLY;
    } catch {
      return false; // closed meanwhile (the readdir's own fd)
    }
  });
}

/** A pipe for a child: [readFd, writeFd], both close-on-exec; nonblock applies to the read end only. */
export function pipeForChild(readNonblock = true): [number, number] {
  const n = native();
  const [r, w] = n.pipe(false);
  if (readNonblock) n.setNonblock(r, true);
  return [r, w];
}
