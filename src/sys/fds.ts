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

/** true if the description behind fd is O_NONBLOCK */
export function isNonblocking(fd: number): boolean {
  const octal = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s*([0-7]+)/m)?.[1] ?? '0';
  return (parseInt(octal, 8) & fs.constants.O_NONBLOCK) !== 0;
}

/** A pipe for a child: [readFd, writeFd], both close-on-exec; nonblock applies to the read end only. */
export function pipeForChild(readNonblock = true): [number, number] {
  const n = native();
  const [r, w] = n.pipe(false);
  if (readNonblock) n.setNonblock(r, true);
  return [r, w];
}
