/**
 * The orphan-burst scenario (test/scanner/pid1-orphans.test.ts and the stress script): `vigil svscan` as PID
 * 1 of a fresh PID namespace; one service makes ORPHANS orphans in bursts of BURST — each burst is a process
 * that forks BURST children and exits at once, so they are re-parented to PID 1: half of them exit at once
 * (often zombies already when re-parented), half sleep 50 ms (they die as PID 1's children; see
 * test/helpers/cprog.ts, with a shell fallback when gcc is missing). Then it
 * waits until none of them is alive, waits 1 s more and counts PID 1's zombies: there must be none.
 */
import * as fs from 'node:fs';
import { makeTree, removeTree } from './scandir';
import { startBg, VIGIL, waitListening } from './svscan';
import { sleep, waitFor } from './wait';
import { compileC, ORPHAN_MAKER_C } from './cprog';

export interface OrphanRunOptions {
  orphans: number;
  burst: number;
  /** extra vigil svscan arguments */
  args?: string[];
}

export interface OrphanRunResult {
  /** orphans seen as PID 1's children by the polling (a lower bound: most are reaped between two looks) */
  seen: number;
  /** zombies whose parent is PID 1, 1 s after the last orphan exited */
  zombiesAfter1s: number;
  /** ms from the last orphan's exit until PID 1 had no zombie left */
  cleanMs: number;
}

interface Kid {
  pid: number;
  zombie: boolean;
  nsPid: number;
}

/** PID 1's children (host pids), every thread's list, with their state and pid inside the namespace */
function childrenOf(hostPid: number): Kid[] {
  const out: Kid[] = [];
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${hostPid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    let list: string;
    try {
      list = fs.readFileSync(`/proc/${hostPid}/task/${t}/children`, 'utf8').trim();
    } catch {
      continue;
    }
    for (const p of list ? list.split(' ') : []) {
      try {
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        const st = fs.readFileSync(`/proc/${p}/status`, 'utf8');
        const ns = /^NSpid:\s+(.*)$/m.exec(st)?.[1].trim().split(/\s+/).pop();
        out.push({ pid: Number(p), zombie: stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z', nsPid: Number(ns) });
      } catch {
        /* reaped meanwhile */
      }
    }
  }
  return out;
}

export async function orphanBurstRun(o: OrphanRunOptions): Promise<OrphanRunResult> {
  const bursts = Math.ceil(o.orphans / o.burst);
  const maker = compileC('orphan-maker', ORPHAN_MAKER_C);
  // the C maker makes 10 000 orphans in a fraction of a second; the shell loop is the fallback without gcc
  const make = maker ? `"${maker}" ${o.orphans} ${o.burst}` : `b=0
while [ $b -lt ${bursts} ]; do
  sh -c 'i=0; while [ $i -lt ${o.burst} ]; do if [ $((i % 2)) = 0 ]; then (exit 0) & else sleep 0.05 & fi; i=$((i+1)); done'
  b=$((b+1))
done`;
  const sd = makeTree({ 'forker/run!': `#!/bin/sh
${make}
: > ../orphans-made
exec sleep 1000000
` });
  const bg = startBg('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, VIGIL, 'svscan', ...(o.args ?? []), sd]);
  try {
    const pid1 = await waitFor(() => {
      const kids = fs.readFileSync(`/proc/${bg.pid}/task/${bg.pid}/children`, 'utf8').trim();
      return kids ? Number(kids.split(' ')[0]) : 0;
    }, 10000, 'PID 1 of the namespace');
    await waitListening(sd, bg, 20000);
    const seen = new Set<number>();
    // the service's own process (run, then sleep) is PID 1's child with the pid in supervise/status
    const servicePid = (): number => {
      try {
        return Number(fs.readFileSync(`${sd}/forker/supervise/status`).readBigUInt64BE(24));
      } catch {
        return 0;
      }
    };
    const orphanKids = (): Kid[] => {
      const sp = servicePid();
      const kids = childrenOf(pid1).filter((k) => k.nsPid !== sp);
      for (const k of kids) seen.add(k.pid);
      return kids;
    };
    await waitFor(() => { orphanKids(); return fs.existsSync(`${sd}/orphans-made`); }, 300000, 'the orphans to be made', 50);
    // the last orphan exits: none of them is alive any more
    await waitFor(() => orphanKids().every((k) => k.zombie), 30000, 'every orphan to have exited', 5);
    const lastExit = Date.now();
    let cleanMs = -1;
    while (Date.now() - lastExit < 1000) {
      if (cleanMs < 0 && orphanKids().length === 0) cleanMs = Date.now() - lastExit;
      await sleep(cleanMs < 0 ? 2 : 50);
    }
    const zombiesAfter1s = orphanKids().filter((k) => k.zombie).length;
    return { seen: seen.size, zombiesAfter1s, cleanMs };
  } finally {
    bg.kill();
    removeTree(sd);
  }
}
