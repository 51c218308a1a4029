/**
 * Finding and signalling "every other process" at shutdown.
 *
 * s6 does kill(-1, SIG). vigil cannot always: as a subreaper under another init kill(-1) would hit every
 * process of the user on the whole machine, and as a kernel's init kill(-1, 0) never reports "none left"
 * (kernel threads count). So vigil walks /proc and takes the *descendants of its own pid*: as PID 1 that is
 * every user process (kthreadd's children are not ours), as a subreaper every orphan of ours is re-parented
 * to us, so it is still in the tree. Without /proc it falls back to kill(-1) as PID 1 (never as a subreaper).
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import { readProcStat } from '../sys/procstat';

interface ProcEntry { pid: number; ppid: number; state: string }

function readProcs(): ProcEntry[] | null {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  const out: ProcEntry[] = [];
  for (const n of names) {
    if (!/^[0-9]+$/.test(n)) continue;
    const st = readProcStat(n);
    if (st) out.push({ pid: Number(n), state: st.state, ppid: st.ppid }); // else gone meanwhile
  }
  return out;
}

/**
 * Live descendants of `root` (default: us), zombies excluded, minus `except`. null if /proc is unusable
 * (then the caller cannot know). /proc must be *our* namespace's: check procMatchesUs() once.
 */
export function descendants(except: ReadonlySet<number> = new Set(), root = process.pid): number[] | null {
  const all = readProcs();
  if (all === null) return null;
  const kids = new Map<number, ProcEntry[]>();
  for (const p of all) {
    const l = kids.get(p.ppid);
    if (l) l.push(p);
    else kids.set(p.ppid, [p]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop() as number;
    for (const c of kids.get(pid) ?? []) {
      stack.push(c.pid);
      if (c.state !== 'Z' && !except.has(c.pid)) out.push(c.pid);
    }
  }
  return out;
}

/** Does /proc show us under our own pid? (false: no /proc, or the /proc of another PID namespace) */
export function procMatchesUs(): boolean {
  try {
    return Number(fs.readlinkSync('/proc/self')) === process.pid;
  } catch {
    return false;
  }
}

/**
 * Send sig to every descendant (except some pids). Returns how many were signalled, or -1 when it had to
 * fall back to kill(-1) (PID 1 without a usable /proc).
 */
export function signalAll(sig: number, except: ReadonlySet<number>, useProc: boolean): number {
  const sh = native();
  if (!useProc) {
    if (process.pid === 1) {
      sh.kill(-1, sig);
      return -1;
    }
    return 0;
  }
  const pids = descendants(except) ?? [];
  for (const p of pids) sh.kill(p, sig);
  return pids.length;
}

/**
 * The children of `pid` (every thread's /proc/PID/task/TID/children), zombies included; null without a
 * usable /proc. A few small reads: what stage 3 asks after each reap when it must spare the logger.
 */
export function childrenOf(pid: number): number[] | null {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const out: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue; // the thread is gone
    }
    for (const w of text.split(' ')) if (w.trim()) out.push(Number(w));
  }
  return out;
}
