/**
 * BASEDIR/env as an envdir, read as plain `s6-envdir` reads one (src/formats/envdir.ts owns the rules): each
 * file's name is a variable; its first line is the value, trailing spaces, tabs and CRs removed, NUL bytes
 * turned into newlines; an empty file *unsets* the variable. Names with `=` and dot files are skipped. The
 * directory is optional; an unreadable entry is one warning and is skipped.
 */
import { applyEnvdir, readEnvdir as readEnvdirAs } from '../formats/envdir';

export { applyEnvdir };

/** name -> value, or null = unset. Missing dir = {}. Unreadable entries are reported through warn. */
export function readEnvdir(dir: string, warn: (m: string) => void = () => {}): Record<string, string | null> {
  return readEnvdirAs(dir, {}, warn, true);
}
