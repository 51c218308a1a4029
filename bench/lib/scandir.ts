/**
 * Temporary scan directories for the benchmarks, the tiny static service programs, and a reader for
 * supervise/status (s6's 35-byte format, which vigil writes too).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

let ROOT: string | null = null;

/** One temp directory for the whole bench run (under os.tmpdir()); removed by removeBenchRoot(). */
export function benchRoot(): string {
  if (!ROOT) ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-'));
  return ROOT;
}

let SCAN: string | null = null;

/**
 * Where the scan directories go: a tmpfs, as in production (s6-linux-init, s6-overlay and vigil init keep
 * the scan directory in /run). BENCH_SCAN_ROOT chooses another place; without it /dev/shm when it is a
 * tmpfs, else the bench root. Removed by removeBenchRoot().
 */
export function scanRoot(): string {
  if (SCAN) return SCAN;
  let base = process.env.BENCH_SCAN_ROOT || '';
  if (!base) {
    try {
      const mounts = fs.readFileSync('/proc/mounts', 'utf8');
      if (/^\S+ \/dev\/shm tmpfs /m.test(mounts)) base = '/dev/shm';
    } catch {
      /* no /proc */
    }
  }
  SCAN = base ? fs.mkdtempSync(path.join(base, 'vigil-bench-scan-')) : benchRoot();
  return SCAN;
}

/** the filesystem type a path lives on (from /proc/mounts: the longest mount point that contains it) */
export function fsTypeOf(p: string): string {
  try {
    let best = '';
    let type = '?';
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mnt, t] = line.split(' ');
      if (mnt && (p === mnt || p.startsWith(mnt.endsWith('/') ? mnt : `${mnt}/`)) && mnt.length > best.length) {
        best = mnt;
        type = t;
      }
    }
    return `${type} (${best})`;
  } catch {
    return '?';
  }
}

export function removeBenchRoot(): void {
  if (SCAN && SCAN !== ROOT) {
    try {
      fs.rmSync(SCAN, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  SCAN = null;
  if (ROOT) {
    try {
      fs.rmSync(ROOT, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    ROOT = null;
  }
}

let counter = 0;
/** A fresh directory under the bench root (where: 'scan' = under scanRoot()). */
export function freshDir(label: string, where: 'bench' | 'scan' = 'bench'): string {
  const d = path.join(where === 'scan' ? scanRoot() : benchRoot(), `${label}-${++counter}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/*
 * The service programs: a static, libc-free x86-64 binary that pauses forever (12 kB RSS, one execve, no
 * dynamic loader), and a variant that first writes a newline to fd 3 and closes it (s6 readiness notification).
 * Built with gcc at bench time; if that fails we fall back to shell scripts that exec sleep.
 */
const PAUSE_C = `
static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
void _start(void) {
#ifdef NOTIFY
  sys3(1, 3, (long)"\\n", 1);
  sys3(3, 3, 0, 0);
#endif
  for (;;) sys3(34, 0, 0, 0);
}
`;

export interface Programs {
  /** pauses forever */
  pause: string;
  /** notifies readiness on fd 3, then pauses forever */
  notifyPause: string;
  /** how they were made, for the notes */
  kind: string;
}

let programs: Programs | null = null;

export function servicePrograms(): Programs {
  if (programs) return programs;
  const dir = path.join(benchRoot(), 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, 'pause.c');
  fs.writeFileSync(src, PAUSE_C);
  const pause = path.join(dir, 'pause');
  const notifyPause = path.join(dir, 'notify-pause');
  try {
    if (process.arch !== 'x64') throw new Error('not x86-64');
    const flags = ['-O2', '-static', '-nostdlib', '-fno-stack-protector', '-fno-pie', '-no-pie'];
    execFileSync('gcc', [...flags, '-o', pause, src], { stdio: 'pipe' });
    execFileSync('gcc', [...flags, '-DNOTIFY', '-o', notifyPause, src], { stdio: 'pipe' });
    programs = { pause, notifyPause, kind: 'a 9 kB static libc-free binary calling pause() (12 kB RSS)' };
  } catch {
    fs.writeFileSync(pause, '#!/bin/sh\nexec sleep 100000\n', { mode: 0o755 });
    fs.writeFileSync(notifyPause, '#!/bin/sh\necho >&3\nexec 3>&-\nexec sleep 100000\n', { mode: 0o755 });
    programs = { pause, notifyPause, kind: '`sh` exec-ing `sleep 100000` (gcc unavailable)' };
  }
  return programs;
}

export interface ServiceSpec {
  /** absolute path of the program that becomes `run` (hard-linked, else copied) */
  run: string;
  notificationFd?: number;
  down?: boolean;
}

function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
    fs.chmodSync(to, 0o755);
  }
}

/** A scan directory with n services named s0001… built from spec. Returns the service paths. */
export function buildScandir(dir: string, n: number, spec: ServiceSpec): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const width = Math.max(4, String(n).length);
  const out: string[] = [];
  for (let i = 1; i <= n; i++) {
    const s = path.join(dir, `s${String(i).padStart(width, '0')}`);
    fs.mkdirSync(s);
    linkOrCopy(spec.run, path.join(s, 'run'));
    if (spec.notificationFd !== undefined) fs.writeFileSync(path.join(s, 'notification-fd'), `${spec.notificationFd}\n`);
    if (spec.down) fs.writeFileSync(path.join(s, 'down'), '');
    out.push(s);
  }
  return out;
}

/** Write an executable file. */
export function writeExec(p: string, text: string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode: 0o755 });
}

export interface Status {
  pid: number;
  wstat: number;
  paused: boolean;
  finishing: boolean;
  wantUp: boolean;
  ready: boolean;
}

const statusBuf = Buffer.alloc(64);

/** supervise/status of a service dir, or null if missing or short. */
export function readStatus(serviceDir: string): Status | null {
  let fd = -1;
  try {
    fd = fs.openSync(path.join(serviceDir, 'supervise', 'status'), 'r');
    const n = fs.readSync(fd, statusBuf, 0, 64, 0);
    if (n < 35) return null;
    const flags = statusBuf[34];
    return {
      pid: Number(statusBuf.readBigUInt64BE(24)),
      wstat: statusBuf.readUInt16BE(32),
      paused: (flags & 1) !== 0,
      finishing: (flags & 2) !== 0,
      wantUp: (flags & 4) !== 0,
      ready: (flags & 8) !== 0,
    };
  } catch {
    return null;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
