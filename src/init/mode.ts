/**
 * Which mode `vigil init` runs in (documented in README.md):
 *   --container / --machine force it. Otherwise machine mode only when we are PID 1 *of the initial PID
 *   namespace* (a kernel's init): there, pid 2 is the kernel's `kthreadd`. In a container (PID 1 of a child
 *   namespace) pid 2 is one of our own threads or another process, and when we are not PID 1 at all we are
 *   a subreaper under someone else's init: both are container mode.
 * When /proc is not mounted and we are PID 1 we are almost certainly a kernel's init (an initramfs):
 * machine mode mounts /proc first and then checks again.
 */
import * as fs from 'node:fs';
import { InitMode } from './options';

export interface ModeProbe {
  pid: number;
  /** content of /proc/2/stat's comm field, or null if /proc/2 cannot be read */
  pid2Comm: string | null;
  procMounted: boolean;
}

export function probeMode(): ModeProbe {
  let pid2Comm: string | null = null;
  let procMounted = false;
  try {
    procMounted = fs.existsSync('/proc/self/stat');
    const st = fs.readFileSync('/proc/2/stat', 'latin1');
    const m = /^\d+ \((.*)\) /.exec(st);
    pid2Comm = m ? m[1] : null;
  } catch {
    pid2Comm = null;
  }
  return { pid: process.pid, pid2Comm, procMounted };
}

export function decideMode(forced: InitMode | undefined, p: ModeProbe): InitMode {
  if (forced) return forced;
  if (p.pid !== 1) return 'container';
  if (!p.procMounted) return 'machine';
  return p.pid2Comm === 'kthreadd' ? 'machine' : 'container';
}
