/**
 * BASEDIR/env as an envdir, read the way s6-envdir reads one: each regular file's name is a variable; its
 * first line (up to the first newline) is the value, trailing spaces and tabs removed, NUL bytes turned into
 * newlines; an empty file *unsets* the variable. Names with `=` and dot files are skipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** name -> value, or null = unset. Missing dir = {}. Unreadable entries are reported through warn. */
export function readEnvdir(dir: string, warn: (m: string) => void = () => {}): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`unable to read envdir ${dir}: ${(e as Error).message}`);
    return out;
  }
  for (const name of names.sort()) {
    if (name.startsWith('.') || name.includes('=')) continue;
    const p = path.join(dir, name);
    try {
      if (!fs.statSync(p).isFile()) continue;
      const buf = fs.readFileSync(p);
      if (buf.length === 0) {
        out[name] = null;
        continue;
      }
      const nl = buf.indexOf(0x0a);
      const line = (nl >= 0 ? buf.subarray(0, nl) : buf).toString('utf8');
      out[name] = line.replace(/[ \t]+$/, '').replace(/\0/g, '\n');
    } catch (e) {
      warn(`unable to read ${p}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Apply to an env object in place. */
export function applyEnvdir(env: NodeJS.ProcessEnv, vars: Record<string, string | null>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
}
