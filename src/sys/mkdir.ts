/**
 * mkdir -p for paths that come from user input (a service's log-dir, a logdir of a log script): one level at a
 * time through plain mkdir(2) calls that fail fast, never Node's recursive mkdir — which, asked for
 * /proc/nope/x, spins at 100 % of a core forever (ENOENT from a pseudo file system it keeps retrying), and
 * vigil calls it synchronously: the whole tree froze. Paths into /proc, /sys or /dev, or whose nearest
 * existing ancestor is on such a file system (proc, sysfs, cgroup, debugfs, devpts...), are refused with a
 * clear message: nothing there is a place for logs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** deeper than this is a mistake, not a log directory */
const MAX_DEPTH = 64;

/** statfs f_type of the pseudo file systems where directories cannot (or must not) be made */
const PSEUDO_FS: Readonly<Record<number, string>> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x1cd1: 'devpts',
  0x73636673: 'securityfs',
  0xcafe4a11: 'bpf',
  0x6e736673: 'nsfs',
  0x42494e4d: 'binfmt_misc',
};

const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

export class MkdirError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

/** Why `dir` must not be made (a one-line reason), or null. */
export function pseudoFsReason(dir: string): string | null {
  const abs = path.resolve(dir);
  for (const r of PSEUDO_ROOTS) {
    if (abs === r || abs.startsWith(`${r}/`)) return `${abs} is under ${r} (a pseudo file system): refusing to create it`;
  }
  // the nearest existing ancestor tells which file system the new directories would be on
  let p = abs;
  for (let i = 0; i <= MAX_DEPTH; i++) {
    try {
      const t = fs.statfsSync(p).type;
      const name = PSEUDO_FS[t];
      return name ? `${abs} would be on ${p}, a ${name} file system: refusing to create it` : null;
    } catch {
      const up = path.dirname(p);
      if (up === p) return null;
      p = up;
    }
  }
  return null;
}

/**
 * Make `dir` and its missing parents, each with `mode` (umask applies, as mkdir -p). Existing directories
 * are kept. Throws MkdirError (code: EPSEUDOFS, ENOTDIR, ELOOP, or mkdir(2)'s errno name) with a one-line
 * message naming the path that failed.
 */
export function mkdirParents(dir: string, mode = 0o755): void {
  const abs = path.resolve(dir);
  const why = pseudoFsReason(abs);
  if (why) throw new MkdirError(why, 'EPSEUDOFS');
  const parts = abs.split('/').filter(Boolean);
  if (parts.length > MAX_DEPTH) throw new MkdirError(`${abs}: more than ${MAX_DEPTH} levels: refusing to create it`, 'ELOOP');
  let p = '';
  for (const part of parts) {
    p += `/${part}`;
    try {
      fs.mkdirSync(p, mode);
      continue;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      if (code !== 'EEXIST') throw new MkdirError(`unable to mkdir ${p}: ${code}`, code);
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      throw new MkdirError(`unable to stat ${p}: ${code}${code === 'ELOOP' ? ' (symlink loop)' : ''}`, code);
    }
    if (!st.isDirectory()) throw new MkdirError(`${p} exists and is not a directory`, 'ENOTDIR');
  }
}
