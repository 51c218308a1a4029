/**
 * The restarted-scanner scenario (test/scanner/adopt.test.ts, `npm run stress -- adopt`): N services under
 * `vigil svscan`, the scanner SIGKILLed, a second one started over the same directory. Every run must be
 * adopted (supervise/vigil-run says so, the status names the same pid), no process doubled, and SIGTERM to
 * the second scanner must leave no process behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree } from './scandir';
import { Bg, startVigilSvscan, startS6Svscan } from './svscan';
import { waitFor, statusOf } from './wait';
import { readRunRecord } from '../../src/formats/runrecord';
import { readProcStat } from '../../src/sys/procstat';

/**
 * live (non-zombie) processes whose cwd is inside dir: the services of that tree, whoever their parent (and,
 * under s6, its s6-supervise processes and s6-svscan, which chdir there: withSupervisors false leaves those out)
 */
export function procsIn(dir: string, withSupervisors = true): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(n)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${n}/cwd`);
      if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
      const st = readProcStat(n);
      if (st === null || st.state === 'Z') continue;
      if (!withSupervisors && /^s6-(svscan|supervise)$/.test(fs.readFileSync(`/proc/${n}/comm`, 'latin1').trim())) continue;
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

/** n services running `sleep` in a fresh scan directory: [the directory, the service names] */
function sleepTree(n: number): [string, string[]] {
  const tree: Record<string, string> = {};
  const names = Array.from({ length: n }, (_, i) => `s${String(i).padStart(4, '0')}`);
  for (const s of names) tree[`${s}/run!`] = '#!/bin/sh\nexec sleep 1000000\n';
  return [makeTree(tree), names];
}

/** wait until every service has a pid, note them, then SIGKILL the scanner (only it) and wait for its end */
async function upThenKill(sd: string, names: string[], scanner: Bg): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  await waitFor(() => names.every((s) => (statusOf(path.join(sd, s))?.pid ?? 0) > 0), 120000, `${names.length} services up`, 100);
  for (const s of names) pids.set(s, statusOf(path.join(sd, s))!.pid);
  process.kill(scanner.pid, 'SIGKILL');
  await scanner.exited;
  return pids;
}

/** SIGTERM the scanner; the processes of the tree still there 5 s later (0 as soon as there are none) */
async function leftAfterTerm(sd: string, scanner: Bg): Promise<number> {
  scanner.signal('SIGTERM');
  try {
    await waitFor(() => procsIn(sd).length === 0, 5000, 'no process left', 50);
    return 0;
  } catch {
    return procsIn(sd).length;
  }
}

/** opts.vigil: the [node, bin/vigil] to run (default: this node, this checkout; the bench passes its frozen copy) */
export async function adoptRun(n: number, opts: { vigil?: [string, string] } = {}): Promise<AdoptRunResult> {
  const [sd, names] = sleepTree(n);
  const args = [`-c${n + 10}`];
  try {
    const first = await startVigilSvscan(sd, args, { vigil: opts.vigil });
    let pids: Map<string, number>;
    try {
      pids = await upThenKill(sd, names, first);
    } finally {
      first.kill();
    }
    const t0 = Date.now();
    const second = await startVigilSvscan(sd, args, { vigil: opts.vigil });
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
      const left = await leftAfterTerm(sd, second);
      return { services: n, adoptMs, changed, processes, leftAfterTerm: left };
    } finally {
      second.kill();
    }
  } finally {
    killAll(procsIn(sd));
    removeTree(sd);
  }
}

export interface S6AdoptRunResult {
  services: number;
  /**
   * ms from starting the second s6-svscan until it listens and every service answers as supervised (its
   * supervise/control fifo has a reader, as s6-svok checks): the first s6-supervise processes never died
   */
  supervisedMs: number;
  /** services whose status pid after the restart differs from before */
  changed: number;
  /** service processes (s6-supervise left out) after the restart (must equal services) */
  processes: number;
  /** s6-supervise processes after the restart */
  supervisors: number;
  /** processes of the tree (services and s6-supervise) left 5 s after the second scanner's SIGTERM */
  leftAfterTerm: number;
}

function controlHasReader(dir: string): boolean {
  try {
    fs.closeSync(fs.openSync(path.join(dir, 'supervise', 'control'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    return true;
  } catch {
    return false;
  }
}

/**
 * s6's analogue of adoptRun, for the bench's peer column: n services under Debian's s6-svscan, s6-svscan
 * SIGKILLed (its s6-supervise processes survive, re-parented), a second s6-svscan started over the same
 * directory (its own s6-supervise children say "another instance of s6-supervise is already running").
 */
export async function s6AdoptRun(n: number): Promise<S6AdoptRunResult> {
  const [sd, names] = sleepTree(n);
  const args = ['-c', String(n + 10)];
  let first: Bg | null = null;
  try {
    first = await startS6Svscan(sd, args);
    let pids: Map<string, number>;
    try {
      pids = await upThenKill(sd, names, first);
    } finally {
      // only the scanner (if a wait above failed): its s6-supervise children are what survives in s6
      first.signal('SIGKILL');
    }
    const t0 = Date.now();
    const second = await startS6Svscan(sd, args);
    try {
      let supervisedMs = -1;
      try {
        await waitFor(() => names.every((s) => controlHasReader(path.join(sd, s))), 60000, 'every service supervised', 20);
        supervisedMs = Date.now() - t0;
      } catch {
        /* supervisedMs stays -1 */
      }
      const changed = names.filter((s) => statusOf(path.join(sd, s))?.pid !== pids.get(s)).length;
      const processes = procsIn(sd, false).length;
      const supervisors = procsIn(sd).length - processes - 1; // s6-svscan itself is there too
      const left = await leftAfterTerm(sd, second);
      return { services: n, supervisedMs, changed, processes, supervisors, leftAfterTerm: left };
    } finally {
      second.kill();
    }
  } finally {
    killAll(procsIn(sd));
    first?.forget(); // dead, its pid free for reuse: not to be killed at exit (its s6-supervise were swept above)
    removeTree(sd);
  }
}
