/**
 * /proc/PID/stat, read once here: the fields vigil needs (state, ppid, start time). comm (field 2) may hold
 * spaces and parentheses, so the fields are counted from the last ')'.
 */
import * as fs from 'node:fs';

export interface ProcStat {
  /** field 3: R S D Z T t X ... */
  state: string;
  /** field 4 */
  ppid: number;
  /** field 22: clock ticks after boot; with the pid it names one process, never a later one that reused the pid */
  startTime: number;
}

/** null if the process is gone (or /proc unreadable) */
export function readProcStat(pid: number | string): ProcStat | null {
  let st: string;
  try {
    st = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(f[19]);
  if (f.length < 20 || !Number.isSafeInteger(startTime)) return null;
  return { state: f[0], ppid: Number(f[1]), startTime };
}
