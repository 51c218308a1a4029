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

/** one line of at most ~700 bytes (comm is at most 64 bytes); read in one read(2) */
const buf = Buffer.allocUnsafe(2048);

/**
 * null if the process is gone (or /proc unreadable). open + one read + close into a fixed buffer (not
 * readFileSync, which adds an fstat and a read to EOF): this runs once per spawn of run (runrecord.ts).
 */
export function readProcStat(pid: number | string): ProcStat | null {
  let st: string;
  let fd = -1;
  try {
    fd = fs.openSync(`/proc/${pid}/stat`, 'r');
    st = buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return null;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(f[19]);
  if (f.length < 20 || !Number.isSafeInteger(startTime)) return null;
  return { state: f[0], ppid: Number(f[1]), startTime };
}
