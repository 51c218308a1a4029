/**
 * Machine mode's filesystems: what stage 1 mounts and what stage 4 unmounts.
 *
 * Stage 1 mounts, skipping what is already mounted: proc on /proc, sysfs on /sys, devtmpfs on /dev, a tmpfs
 * (mode 0755, nodev, nosuid) on the run directory.
 * Stage 4 (umountAll) walks /proc/mounts from the end back, as s6-linux-init-umountall: it keeps the run
 * directory and the first proc, sysfs and devtmpfs; it never tries `/` (rootfs of an initramfs cannot be
 * unmounted: EINVAL). EBUSY → read-only remount.
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';

export interface MountEntry { source: string; target: string; type: string }

/** /proc/mounts decoded (octal escapes), or [] */
export function readMounts(): MountEntry[] {
  let text: string;
  try {
    text = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  const unesc = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text.split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ');
    return { source: unesc(f[0]), target: unesc(f[1]), type: f[2] };
  });
}

function isMounted(target: string, mounts: MountEntry[]): boolean {
  return mounts.some((m) => m.target === target);
}

export function mountEarly(rundir: string, say: (m: string) => void): void {
  const sh = native();
  const c = sh.constants;
  const tryMount = (src: string, target: string, type: string, flags: number, data: string | null): void => {
    try {
      fs.mkdirSync(target, { recursive: true });
    } catch {
      /* may exist or be read-only */
    }
    try {
      sh.mount(src, target, type, flags, data);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') say(`vigil init: warning: unable to mount ${type} on ${target}: ${(e as Error).message}`);
    }
  };
  if (!fs.existsSync('/proc/self/stat')) tryMount('proc', '/proc', 'proc', c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, null);
  let mounts = readMounts();
  if (!isMounted('/sys', mounts)) tryMount('sysfs', '/sys', 'sysfs', c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, null);
  if (!isMounted('/dev', mounts)) tryMount('devtmpfs', '/dev', 'devtmpfs', c.MS_NOSUID, 'mode=0755');
  mounts = readMounts();
  if (!isMounted(rundir, mounts)) tryMount('tmpfs', rundir, 'tmpfs', c.MS_NOSUID | c.MS_NODEV, 'mode=0755');
}

export function umountAll(rundir: string, say: (m: string) => void): void {
  const sh = native();
  const c = sh.constants;
  const mounts = readMounts();
  const keep = new Set<number>();
  for (const t of ['proc', 'sysfs', 'devtmpfs']) {
    const i = mounts.findIndex((m) => m.type === t);
    if (i >= 0) keep.add(i);
  }
  for (let i = mounts.length - 1; i >= 0; i--) {
    const m = mounts[i];
    if (keep.has(i) || m.target === rundir || m.target === '/' || m.type === 'rootfs') continue;
    try {
      sh.umount(m.target, 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EBUSY') {
        try {
          sh.mount(null, m.target, null, c.MS_REMOUNT | c.MS_RDONLY, null);
        } catch (e2) {
          say(`vigil init: warning: unable to remount ${m.target} read-only: ${(e2 as Error).message}`);
        }
      } else if (code !== 'EINVAL' && code !== 'ENOENT') {
        say(`vigil init: warning: unable to unmount ${m.target}: ${(e as Error).message}`);
      }
    }
  }
  // the root filesystem: read-only, so the last writes are on disk
  try {
    sh.mount(null, '/', null, c.MS_REMOUNT | c.MS_RDONLY, null);
  } catch {
    /* an initramfs's rootfs, or already read-only */
  }
}

/** The kernel command line's runlevel: the first of `default 1 2 3 4 5`, else `default` (as s6-linux-init). */
export function kernelRunlevel(): string {
  try {
    const words = fs.readFileSync('/proc/cmdline', 'utf8').trim().split(/\s+/);
    for (const w of words) if (['default', '1', '2', '3', '4', '5'].includes(w)) return w;
  } catch {
    /* no /proc */
  }
  return 'default';
}
