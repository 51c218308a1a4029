/**
 * Envdirs, read as s6-envdir reads them (checked against Debian's s6 2.11.3.2 in test/formats/envdir.test.ts):
 * each file of DIR whose name neither starts with a dot nor contains `=` is a variable; an **empty file
 * unsets it**; otherwise its value is
 *
 * | mode | value |
 * |---|---|
 * | default (`s6-envdir`) | the first line; trailing spaces, tabs and CRs removed |
 * | `-n` (noChomp) | the first line, trailing blanks kept |
 * | `-f` (verbatim) | the whole file, one trailing newline removed |
 * | `-fn` | the whole file, byte for byte |
 *
 * then NUL bytes become newlines (`-c` picks another character). Without `-L` (noClamp) only the first
 * 4095 bytes are read. Where s6-envdir 2.11 loses a value (`-L` without `-f` on a file with no newline
 * gives ""), vigil keeps it. Users: `vigil init`'s BASEDIR/env (default mode, problems are warnings) and
 * s6-overlay's container environment (`with-contenv` = `s6-envdir -Lf`, problems are fatal, as there).
 *
 * The other direction, `envdirFile`, is what s6-linux-init 1.2 writes when it dumps an environment
 * (`s6-linux-init -s`): the value and a newline, so that `-Lf` reads the value back exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { strerror } from '../sys/errors';

export interface EnvdirOptions {
  /** -f: the whole file, not the first line */
  verbatim?: boolean;
  /** -n: keep the trailing newline (-f) or the trailing blanks (first line) */
  noChomp?: boolean;
  /** -L: no 4095-byte limit */
  noClamp?: boolean;
  /** -c: what a NUL byte becomes (default "\n") */
  nullIs?: string;
}

/** s6-envdir's clamp: what it reads of a file without -L */
export const ENVDIR_CLAMP = 4095;

/** One file's bytes → the variable's value, or null = unset (an empty file). Pure. */
export function envdirValue(buf: Buffer, o: EnvdirOptions = {}): string | null {
  if (buf.length === 0) return null;
  let b = o.noClamp ? buf : buf.subarray(0, ENVDIR_CLAMP);
  if (o.verbatim) {
    if (!o.noChomp && b.length && b[b.length - 1] === 0x0a) b = b.subarray(0, b.length - 1);
  } else {
    const nl = b.indexOf(0x0a);
    if (nl >= 0) b = b.subarray(0, nl);
    if (!o.noChomp) {
      let end = b.length;
      while (end > 0 && (b[end - 1] === 0x20 || b[end - 1] === 0x09 || b[end - 1] === 0x0d)) end--;
      b = b.subarray(0, end);
    }
  }
  const nul = (o.nullIs ?? '\n').charAt(0) || '\n';
  return b.toString('utf8').replace(/\0/g, nul);
}

/** A file s6-envdir would read; an error names it (`unable to read DIR/NAME: …`). */
export class EnvdirError extends Error {
  constructor(readonly file: string, readonly reason: unknown, text: string) {
    super(text);
  }
}

/**
 * name → value, or null = unset, in name order. `onProblem`: 'throw' (an EnvdirError: the directory or a
 * file unreadable, a directory or a fifo where a file should be — s6-envdir dies on those) or a function
 * given one line per problem (the entry is then skipped). A missing DIR is a problem too unless
 * `missingOk` (init's BASEDIR/env is optional).
 */
export function readEnvdir(
  dir: string,
  o: EnvdirOptions = {},
  onProblem: 'throw' | ((line: string) => void) = 'throw',
  missingOk = false,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const problem = (file: string, e: unknown, text: string) => {
    if (onProblem === 'throw') throw new EnvdirError(file, e, text);
    onProblem(text);
  };
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if (!(missingOk && (e as NodeJS.ErrnoException).code === 'ENOENT')) problem(dir, e, `unable to read envdir ${dir}: ${strerror(e)}`);
    return out;
  }
  for (const name of names.sort()) {
    if (name.startsWith('.') || name.includes('=')) continue;
    const p = path.join(dir, name);
    let fd: number;
    try {
      // O_NONBLOCK: a fifo put there by mistake must not hang the reader; a non-file is refused below
      fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch (e) {
      problem(p, e, `unable to read ${p}: ${strerror(e)}`);
      continue;
    }
    try {
      if (!fs.fstatSync(fd).isFile()) {
        problem(p, null, `unable to read ${p}: not a regular file`);
        continue;
      }
      out[name] = envdirValue(readCapped(fd, o.noClamp ? Infinity : ENVDIR_CLAMP), o);
    } catch (e) {
      if (e instanceof EnvdirError) throw e;
      problem(p, e, `unable to read ${p}: ${strerror(e)}`);
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

function readCapped(fd: number, cap: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(65536, cap - total);
    if (want <= 0) break;
    const b = Buffer.allocUnsafe(want);
    const n = fs.readSync(fd, b, 0, want, null);
    if (n === 0) break;
    chunks.push(b.subarray(0, n));
    total += n;
  }
  return Buffer.concat(chunks, total);
}

/** Apply to an env object in place (null deletes). */
export function applyEnvdir(env: NodeJS.ProcessEnv, vars: Record<string, string | null>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
}

/** The bytes s6-linux-init 1.2 dumps for one variable (read back exactly by `-Lf`). */
export function envdirFile(value: string): string {
  return `${value}\n`;
}
