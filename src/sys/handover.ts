/**
 * Carrying a supervisor's state across an execve of itself (`vigil reexec`, or a fault): the state is written
 * to a file that is unlinked at once and kept open, without close-on-exec, across the exec; the new image
 * learns its fd number from $VIGIL_REEXEC_STATE (an env var, not an argument: `ps` shows the same command
 * line before and after), reads it and closes it. Every fd the state names (locks, control fifos, log
 * pipes...) keeps its number across execve, so the state can name fds by number.
 *
 * Why a file and not a pipe: a pipe holds 64 KiB and the writer would block before the exec (nobody reads
 * yet); 1000 services are ~1 MB of JSON. Why unlinked: nothing is left on disk whatever happens. It is made
 * in the first writable directory of `dirs` (the scanner's own .s6-svscan/, then /dev/shm, the temp dir).
 *
 * The new image is the same command: process.execPath with the same node options (execArgv: a preloaded
 * module comes back too) and the same script and arguments, so an upgraded package (a new dist/ under the
 * same bin/vigil) takes over the old one's services. The state carries a format version; an image that does
 * not know it refuses it (and falls back to what a fault did before re-exec existed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from './native';
import { closeQuiet } from './fds';
import { execReplace } from './exec';

/** how a bigint (the TAI64N seconds of status stamps) is written in the JSON: {"$bigint": "digits"} */
const BIGINT = '$bigint';

/** the environment variable naming the state fd in the new image */
export const REEXEC_ENV = 'VIGIL_REEXEC_STATE';

/** Write `state` (JSON) to an unlinked file in the first directory of dirs that works; returns its fd. */
export function writeHandover(state: unknown, dirs: string[], keepFds: readonly number[] = []): number {
  return writeFile({ keep: keepFds, state }, dirs);
}

function writeFile(state: unknown, dirs: string[]): number {
  const data = Buffer.from(JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? { [BIGINT]: v.toString() } : v)));
  const tried: string[] = [];
  for (const dir of [...dirs, '/dev/shm', os.tmpdir()]) {
    const p = path.join(dir, `.vigil-reexec.${process.pid}.${Date.now()}`);
    let fd = -1;
    try {
      fd = fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      fs.unlinkSync(p);
      let off = 0;
      while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, off);
      return fd;
    } catch (e) {
      tried.push(`${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      if (fd >= 0) {
        try {
          fs.unlinkSync(p);
        } catch {
          /* already unlinked */
        }
        closeQuiet(fd);
      }
    }
  }
  throw new Error(`unable to write the re-exec state: tried ${tried.join(', ')}`);
}

/**
 * The state handed over by the previous image, or null when this start is not a re-exec. The fd is closed
 * and the variable removed from the environment (children must not inherit it); the fds the previous image
 * kept open get close-on-exec back (a script this image execs later, .s6-svscan/crash, must not inherit a
 * lock). Throws on a broken state.
 */
export function takeHandover(): unknown | null {
  const v = process.env[REEXEC_ENV];
  if (v === undefined) return null;
  delete process.env[REEXEC_ENV];
  const fd = /^[0-9]+$/.test(v) ? Number(v) : -1;
  if (fd < 3) throw new Error(`${REEXEC_ENV}=${v}: not an fd`);
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, off);
      if (n <= 0) break;
      off += n;
    }
    const got = JSON.parse(buf.toString('utf8', 0, off), (_k, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (typeof o[BIGINT] === 'string' && Object.keys(o).length === 1) return BigInt(o[BIGINT] as string);
      }
      return v;
    }) as { keep?: unknown; state?: unknown } | null;
    if (!got || typeof got !== 'object' || !Array.isArray(got.keep)) throw new Error('a malformed re-exec state');
    const n = native();
    for (const fd of got.keep) {
      try {
        if (typeof fd === 'number' && fd > 2) n.setCloexec(fd, true);
      } catch {
        /* not open */
      }
    }
    return got.state ?? null;
  } finally {
    closeQuiet(fd);
  }
}

/** Make process.env exactly `env` (a re-executed image puts back the environment its tree had). */
export function replaceEnv(env: Record<string, string>): void {
  for (const k of Object.keys(process.env)) if (!Object.prototype.hasOwnProperty.call(env, k)) delete process.env[k];
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
}

/** the command line of this process, to exec it again: node, its options, the script, the arguments */
export function selfCommand(): { file: string; argv: string[] } {
  return { file: process.execPath, argv: [process.execPath, ...process.execArgv, ...process.argv.slice(1)] };
}

/**
 * Write `state` (writeHandover) and execve this same command with it and keepFds open, in `env` (default: this
 * process's environment). Only returns by throwing (the state could not be written, or the exec failed: the
 * fds get close-on-exec back, the state fd is closed, this image carries on).
 */
export function reexecSelf(state: unknown, dirs: string[], keepFds: readonly number[], env: NodeJS.ProcessEnv = process.env): never {
  const { file, argv } = selfCommand();
  const kept = [...new Set(keepFds)].filter((fd) => fd > 2);
  const stateFd = writeHandover(state, dirs, kept);
  const keep = [stateFd, ...kept];
  try {
    return execReplace(file, argv, { ...env, [REEXEC_ENV]: String(stateFd) }, keep);
  } catch (e) {
    const n = native();
    for (const fd of keep) {
      try {
        n.setCloexec(fd, true);
      } catch {
        /* closed */
      }
    }
    closeQuiet(stateFd);
    throw e;
  }
}
