/**
 * /proc readers for the benchmarks: memory (PSS from smaps_rollup), context switches over every thread,
 * process trees (children of every thread), process states, and a cleanup sweep.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function readOr(p: string): string | null {
  try {
    return fs.readFileSync(p, 'latin1');
  } catch {
    return null;
  }
}

export interface Mem {
  /** proportional set size, kB */
  pss: number;
  /** resident set size, kB */
  rss: number;
  /** Private_Clean + Private_Dirty, kB */
  priv: number;
  /** Pss_Anon (kB) when the kernel reports it */
  pssAnon: number;
}

/** Memory of one process from /proc/PID/smaps_rollup (kB). Null if the process is gone. */
export function memOf(pid: number): Mem | null {
  const t = readOr(`/proc/${pid}/smaps_rollup`);
  if (t === null) return null;
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(t);
    return m ? Number(m[1]) : 0;
  };
  return {
    pss: field('Pss'),
    rss: field('Rss'),
    priv: field('Private_Clean') + field('Private_Dirty'),
    pssAnon: field('Pss_Anon'),
  };
}

/** Sum of memOf over pids (gone processes count 0). */
export function memSum(pids: number[]): Mem {
  const out: Mem = { pss: 0, rss: 0, priv: 0, pssAnon: 0 };
  for (const pid of pids) {
    const m = memOf(pid);
    if (!m) continue;
    out.pss += m.pss;
    out.rss += m.rss;
    out.priv += m.priv;
    out.pssAnon += m.pssAnon;
  }
  return out;
}

/** Thread ids of a process. */
export function tids(pid: number): number[] {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => n > 0);
  } catch {
    return [];
  }
}

/** voluntary + nonvoluntary context switches summed over every thread of pid (0 if gone). */
export function ctxSwitches(pid: number): number {
  let n = 0;
  for (const tid of tids(pid)) {
    const t = readOr(`/proc/${pid}/task/${tid}/status`);
    if (!t) continue;
    const v = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(t);
    const nv = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(t);
    n += (v ? Number(v[1]) : 0) + (nv ? Number(nv[1]) : 0);
  }
  return n;
}

export function ctxSwitchesSum(pids: number[]): number {
  return pids.reduce((a, p) => a + ctxSwitches(p), 0);
}

/** Children of pid, over all its threads (zombies included: they stay on their parent's list). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of tids(pid)) {
    const t = readOr(`/proc/${pid}/task/${tid}/children`);
    if (!t) continue;
    for (const s of t.split(' ')) if (s.trim()) out.push(Number(s));
  }
  return out;
}

/** pid and all its descendants (breadth first). */
export function treeOf(pid: number): number[] {
  const out: number[] = [];
  const q = [pid];
  const seen = new Set<number>();
  while (q.length) {
    const p = q.shift() as number;
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(p);
    for (const c of childrenOf(p)) q.push(c);
  }
  return out;
}

export interface Stat { pid: number; comm: string; state: string; ppid: number; pgrp: number }

export function statOf(pid: number): Stat | null {
  const t = readOr(`/proc/${pid}/stat`);
  if (!t) return null;
  const open = t.indexOf('(');
  const close = t.lastIndexOf(')');
  if (open < 0 || close < 0) return null;
  const rest = t.slice(close + 2).split(' ');
  return { pid, comm: t.slice(open + 1, close), state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) };
}

export function alive(pid: number): boolean {
  const s = statOf(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

export function allPids(): number[] {
  return fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)).map(Number);
}

function killQuiet(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/**
 * SIGKILL every process whose cwd or executable lies under `root` (services run in their service directories,
 * so this catches every service a supervisor left behind, whatever its session). Returns how many were killed.
 */
export function sweepUnder(root: string): number {
  const prefix = path.resolve(root) + '/';
  let n = 0;
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    let cwd = '';
    let exe = '';
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`) + '/';
    } catch { /* gone or kernel thread */ }
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch { /* idem */ }
    if (cwd.startsWith(prefix) || exe.startsWith(prefix)) {
      killQuiet(pid, 'SIGKILL');
      n++;
    }
  }
  return n;
}

/** SIGKILL a process group, ignoring errors. */
export function killGroup(pgid: number): void {
  if (pgid > 1) killQuiet(-pgid, 'SIGKILL');
}

export { killQuiet };
