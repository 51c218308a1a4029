/**
 * The restarted-scanner scenario (test/scanner/adopt.test.ts, `npm run stress -- adopt`): N services under
 * `vigil svscan`, the scanner SIGKILLed, a second one started over the same directory. Every run must be
 * adopted (supervise/vigil-run says so, the status names the same pid), no process doubled, and SIGTERM to
 * the second scanner must leave no process behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree } from './scandir';
import { startVigilSvscan } from './svscan';
import { waitFor, statusOf } from './wait';
import { readRunRecord } from '../../src/formats/runrecord';
import { readProcStat } from '../../src/sys/procstat';

/** live (non-zombie) processes whose cwd is inside dir: the services of that tree, whoever their parent */
export function procsIn(dir: string): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(n)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${n}/cwd`);
      if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
      const st = readProcStat(n);
      if (st === null || st.state === 'Z') continue;
      out.push(Number(n));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out.sort((a, b) => a - b);
}

export function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export interface AdoptRunResult {
  services: number;
  /** ms from starting the second scanner until every service was adopted (-1: not within 60 s) */
  adoptMs: number;
  /** services whose status pid after adoption differs from the first scanner's */
  changed: number;
  /** processes in the tree after adoption (must equal services) */
  processes: number;
  /** processes left in the tree 5 s after the second scanner's SIGTERM */
  leftAfterTerm: number;
}

export async function adoptRun(n: number): Promise<AdoptRunResult> {
  const tree: Record<string, string> = {};
  const names = Array.from({ length: n }, (_, i) => `s${String(i).padStart(4, '0')}`);
  for (const s of names) tree[`${s}/run!`] = '#!/bin/sh\nexec sleep 1000000\n';
  const sd = makeTree(tree);
  const args = [`-c${n + 10}`];
  try {
    const first = await startVigilSvscan(sd, args);
    const pids = new Map<string, number>();
    try {
      await waitFor(() => names.every((s) => (statusOf(path.join(sd, s))?.pid ?? 0) > 0), 120000, `${n} services up`, 100);
      for (const s of names) pids.set(s, statusOf(path.join(sd, s))!.pid);
      process.kill(first.pid, 'SIGKILL');
      await first.exited;
    } finally {
      first.kill();
    }
    const t0 = Date.now();
    const second = await startVigilSvscan(sd, args, {});
    try {
      let adoptMs = -1;
      try {
        await waitFor(() => names.every((s) => readRunRecord(path.join(sd, s))?.kind === 'adopted'), 60000, 'every service adopted', 20);
        adoptMs = Date.now() - t0;
      } catch {
        /* adoptMs stays -1 */
      }
      const changed = names.filter((s) => statusOf(path.join(sd, s))?.pid !== pids.get(s)).length;
      const processes = procsIn(sd).length;
      second.signal('SIGTERM');
      let left = -1;
      try {
        await waitFor(() => procsIn(sd).length === 0, 5000, 'no process left', 50);
        left = 0;
      } catch {
        left = procsIn(sd).length;
      }
      return { services: n, adoptMs, changed, processes, leftAfterTerm: left };
    } finally {
      second.kill();
    }
  } finally {
    killAll(procsIn(sd));
    removeTree(sd);
  }
}
