/**
 * Helpers for the CLI tests (test/cli): a real Debian `s6-svscan` over a temporary scan dir, and running an
 * s6 client and its vigil twin on the same input to compare their bytes.
 *
 *   const t0 = await startS6Tree({ 'a/run!': SLEEP_RUN });   // waits until every supervisor is running
 *   t.after(() => t0.stop());                                 // kills s6-svscan's whole tree
 *   const [s6, vg] = await both('svstat', ['-o', 'up,pid', t0.dir('a')]);
 *   assert.equal(vg.stdout, s6.stdout);
 *
 * vigil's messages are s6's with `vigil NAME:` as the program name; `asS6()` rewrites them back so stderr
 * can be compared byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Bg, startS6Svscan, tool, vigil, ToolResult } from './svscan';
import { makeTree, Tree } from './scandir';
import { waitFor } from './wait';

export { ToolResult };

export interface S6Tree {
  readonly root: string;
  readonly scanner: Bg;
  dir(name: string): string;
  /** SIGKILL s6-svscan and every process below it, remove the directory */
  stop(): void;
}

/** Every service directory of a tree (and its log/), as s6-svscan sees them. */
function serviceDirs(root: string): string[] {
  const out: string[] = [];
  for (const n of fs.readdirSync(root)) {
    if (n.startsWith('.')) continue;
    const d = path.join(root, n);
    if (!fs.statSync(d).isDirectory()) continue;
    out.push(d);
    if (fs.existsSync(path.join(d, 'log')) && fs.statSync(path.join(d, 'log')).isDirectory()) out.push(path.join(d, 'log'));
  }
  return out;
}

/** Start a real s6-svscan over `tree`; resolves once every service has a running s6-supervise. */
export async function startS6Tree(tree: Tree, ms = 10000): Promise<S6Tree> {
  const root = makeTree(tree);
  const scanner = await startS6Svscan(root);
  const dirs = serviceDirs(root);
  await waitFor(async () => {
    for (const d of dirs) {
      const r = await tool('s6-svok', [d]);
      if (r.code !== 0) return false;
      if (!fs.existsSync(path.join(d, 'supervise', 'status'))) return false;
    }
    return true;
  }, ms, `s6-supervise running on ${dirs.join(', ')}`);
  return {
    root,
    scanner,
    dir: (name) => path.join(root, name),
    stop() {
      scanner.kill(); // SIGKILL to s6-svscan and every descendant found through /proc (setsid'd services too)
      try {
        fs.rmSync(root, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    },
  };
}

/** `s6-NAME ARGS` and `vigil NAME ARGS`, started at the same time. */
export async function both(name: string, args: string[], ms = 10000): Promise<[ToolResult, ToolResult]> {
  return Promise.all([tool(`s6-${name}`, args, ms), vigil([name, ...args], ms)]);
}

/** vigil's stderr with s6's program names, to compare with the s6 tool's stderr */
export function asS6(stderr: string): string {
  return stderr.replace(/(^|\n)vigil ([a-z]+): /g, '$1s6-$2: ').replace(/usage: vigil ([a-z]+) /g, 'usage: s6-$1 ');
}

/** the seconds counts of s6-svstat's human line replaced by N */
export function maskSeconds(line: string): string {
  return line.replace(/[0-9]+ seconds/g, 'N seconds');
}

/**
 * What the two tools read of each directory named in args: supervise/status and supervise/death_tally
 * (empty when absent), to tell a real difference from a state that changed between the two runs.
 */
function readState(args: string[]): string {
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f).toString('hex');
    } catch {
      return '';
    }
  };
  return args.map((a) => `${read(path.join(a, 'supervise', 'status'))}/${read(path.join(a, 'supervise', 'death_tally'))}`).join(',');
}

/**
 * Compare a vigil tool with its s6 twin. A live service may change state between the two runs (a crash
 * loop; on a loaded machine the two runs can be far apart), so a mismatch while the status or death tally
 * changed does not count and is run again (up to 40 times); a mismatch over an unchanged state counts, and
 * `tries` of those make a real difference.
 */
export async function compareBoth(
  name: string,
  args: string[],
  mask: (s: string) => string = (s) => s,
  tries = 4,
): Promise<{ s6: ToolResult; vg: ToolResult; ok: boolean; detail: string }> {
  let last = { s6: null as unknown as ToolResult, vg: null as unknown as ToolResult, ok: false, detail: '' };
  for (let i = 0, real = 0; i < 40 && real < tries; i++) {
    const before = readState(args);
    const [s6, vg] = await both(name, args);
    const changed = readState(args) !== before;
    const ok = s6.code === vg.code && mask(s6.stdout) === mask(vg.stdout) && s6.stderr === asS6(vg.stderr);
    last = {
      s6, vg, ok,
      detail: `${name} ${args.join(' ')}${changed ? ' (the state changed during the runs)' : ''}\n  s6:    code ${s6.code} out ${JSON.stringify(s6.stdout)} err ${JSON.stringify(s6.stderr)}\n  vigil: code ${vg.code} out ${JSON.stringify(vg.stdout)} err ${JSON.stringify(vg.stderr)}`,
    };
    if (ok) return last;
    if (!changed) real++;
  }
  return last;
}

/** Run async tasks with at most `n` at a time (the CLI tests start many short processes). */
export async function pool(tasks: Array<() => Promise<void>>, n = 4): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const k = next++;
      await tasks[k]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
}
