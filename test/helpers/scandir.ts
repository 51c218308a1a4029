/**
 * Shared test helpers (reusable by every engineer): build a temporary scan directory from a name → content
 * map, in nitro's fixture style.
 *
 *   const sd = makeTree({
 *     'a/run!': '#!/bin/sh\nexec sleep 1000\n',   // trailing '!' = executable (0755)
 *     'a/notification-fd': '3\n',
 *     'b/down': '',
 *     'b/log/run!': '#!/bin/sh\nexec s6-log ./main\n',
 *     'link@': 'a',                                // trailing '@' = symlink to the content
 *     'empty/': '',                                // trailing '/' = empty directory
 *   });
 *   // sd is an absolute path under os.tmpdir(); removeTree(sd) (or the cleanup list) deletes it
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type Tree = Record<string, string>;

/** mkdtemp under os.tmpdir() */
export function tmpdir(prefix = 'vigil-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Write `tree` under `root` (made with mkdtemp when omitted). Returns root. */
export function makeTree(tree: Tree, root: string = tmpdir()): string {
  for (const [key, content] of Object.entries(tree)) addEntry(root, key, content);
  return root;
}

/** Add one entry with makeTree's naming rules. */
export function addEntry(root: string, key: string, content: string): void {
  if (key.endsWith('/')) {
    fs.mkdirSync(path.join(root, key), { recursive: true });
    return;
  }
  let name = key;
  let mode = 0o644;
  let link = false;
  if (name.endsWith('!')) {
    name = name.slice(0, -1);
    mode = 0o755;
  } else if (name.endsWith('@')) {
    name = name.slice(0, -1);
    link = true;
  }
  const p = path.join(root, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  if (link) {
    fs.symlinkSync(content, p);
    return;
  }
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
}

/** A service that execs `sleep` forever (the usual "up" service). */
export const SLEEP_RUN = '#!/bin/sh\nexec sleep 1000000\n';

/** rm -rf, never throwing */
export function removeTree(root: string): void {
  try {
    fs.rmSync(root, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}
