/**
 * Yes/no questions about a path that never throw (a missing or unreadable path is just "no").
 */
import * as fs from 'node:fs';

/** anything at p (symlinks followed) */
export function exists(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** a directory at p (symlinks followed) */
export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** p itself is a symlink */
export function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
