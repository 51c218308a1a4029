/**
 * vigil svscan as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`), shared by the
 * scanner's PID-1 test files: start it over a tree, signal PID 1 from outside, count zombies, wait for the end.
 */
import * as fs from 'node:fs';
import { after } from 'node:test';
import { makeTree, removeTree } from './scandir';
import { startBg, Bg, VIGIL, descendants, waitListening } from './svscan';
import { waitFor, sleep } from './wait';

export const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});

export interface Ns {
  bg: Bg;
  /** host pid of vigil (PID 1 inside) */
  pid1: number;
  signal(sig: NodeJS.Signals): void;
}

export async function pid1(tree: Record<string, string>, args: string[] = []): Promise<{ sd: string; ns: Ns }> {
  const sd = makeTree(tree);
  cleanup.push(() => removeTree(sd));
  const bg = startBg('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, VIGIL, 'svscan', ...args, sd]);
  cleanup.push(() => bg.kill());
  const p = await waitFor(() => {
    const kids = fs.readFileSync(`/proc/${bg.pid}/task/${bg.pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(' ')[0]) : 0;
  }, 5000, 'PID 1 of the namespace');
  await waitListening(sd, bg);
  const ns: Ns = {
    bg,
    pid1: p,
    signal: (sig) => {
      try {
        process.kill(p, sig);
      } catch {
        /* gone */
      }
    },
  };
  return { sd, ns };
}

export function zombies(root: number): number {
  let z = 0;
  for (const p of descendants(root)) {
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (s.slice(s.lastIndexOf(')') + 2)[0] === 'Z') z++;
    } catch {
      /* gone */
    }
  }
  return z;
}

export const exitOf = (bg: Bg, ms: number) =>
  Promise.race([bg.exited, sleep(ms).then(() => { throw new Error(`namespace still running after ${ms} ms: ${bg.stderr()}`); })]);
