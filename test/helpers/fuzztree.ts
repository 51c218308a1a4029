/**
 * A generated scan directory of hostile service directories beside good ones (test/scanner/fuzz.test.ts, the
 * stress script, the bench): every kind of malformed input a user can leave in a service directory, each bad
 * service named with a unique token (`bNNN-`) at the start so its warning lines can be counted.
 *
 *   const t = makeFuzzTree(root, { good: 20 });   // t.good: names; t.bad: [{ name, token, kind }]
 *   const r = await fuzzRun();                    // the whole scenario under vigil svscan: figures to assert
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { removeTree } from './scandir';
import { startVigilSvscan, startS6Svscan, descendants } from './svscan';
import { procsIn, killAll } from './adopt';
import { waitFor, statusOf, sleep, runqueueMs } from './wait';
import { isUp } from '../../src/formats/status';

export interface BadService {
  name: string;
  /** unique text at the start of the name: every warning about it contains it */
  token: string;
  kind: string;
}

export interface FuzzTree {
  root: string;
  good: string[];
  bad: BadService[];
}

const SLEEP = '#!/bin/sh\nexec sleep 1000000\n';
const CONFIG = ['notification-fd', 'lock-fd', 'timeout-kill', 'timeout-finish', 'max-death-tally', 'down-signal'];

/** deterministic "random" bytes (no NUL-free guarantee: binary garbage) */
function garbage(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const BIG = 10 * 1024 * 1024;

export function makeFuzzTree(root: string, opts: { good?: number } = {}): FuzzTree {
  const good: string[] = [];
  const bad: BadService[] = [];
  for (let i = 0; i < (opts.good ?? 20); i++) {
    const name = `good${String(i).padStart(2, '0')}`;
    fs.mkdirSync(path.join(root, name));
    fs.writeFileSync(path.join(root, name, 'run'), SLEEP, { mode: 0o755 });
    good.push(name);
  }
  let n = 0;
  /** make a bad service: its dir (unless dirless), a run, then `make(dir)` */
  const add = (kind: string, make: (dir: string, name: string) => void, o: { suffix?: string; noDir?: boolean; run?: boolean } = {}): void => {
    const token = `b${String(n++).padStart(3, '0')}-`;
    const name = `${token}${o.suffix ?? kind}`;
    const dir = path.join(root, name);
    if (!o.noDir) {
      fs.mkdirSync(dir);
      if (o.run !== false) fs.writeFileSync(path.join(dir, 'run'), SLEEP, { mode: 0o755 });
    }
    make(dir, name);
    bad.push({ name, token, kind });
  };
  let seed = 1;
  for (const f of CONFIG) {
    add(`${f}-binary`, (d) => fs.writeFileSync(path.join(d, f), garbage(64, seed++)));
    add(`${f}-binary-4k`, (d) => fs.writeFileSync(path.join(d, f), garbage(4096, seed++)));
    // 10 MB files for some (each costs 10 MB of disk): digits for the numbers, garbage for the others
    if (f === 'notification-fd' || f === 'timeout-kill') add(`${f}-10MB-digits`, (d) => fs.writeFileSync(path.join(d, f), Buffer.alloc(BIG, 0x37)));
    if (f === 'down-signal' || f === 'max-death-tally') add(`${f}-10MB-garbage`, (d) => fs.writeFileSync(path.join(d, f), garbage(BIG, seed++)));
    add(`${f}-directory`, (d) => fs.mkdirSync(path.join(d, f)));
    add(`${f}-fifo`, (d) => execFileSync('mkfifo', [path.join(d, f)]));
    add(`${f}-looping-symlink`, (d) => {
      fs.symlinkSync(`${f}.b`, path.join(d, f));
      fs.symlinkSync(f, path.join(d, `${f}.b`));
    });
    add(`${f}-negative`, (d) => fs.writeFileSync(path.join(d, f), '-1\n'));
    add(`${f}-words`, (d) => fs.writeFileSync(path.join(d, f), 'soon please\n'));
    add(`${f}-nul`, (d) => fs.writeFileSync(path.join(d, f), '3\0\n'));
  }
  for (const f of ['notification-fd', 'lock-fd']) {
    add(`${f}-huge`, (d) => fs.writeFileSync(path.join(d, f), '100000000\n'));
    add(`${f}-max`, (d) => fs.writeFileSync(path.join(d, f), '4294967295\n'));
  }
  add('down-signal-zero', (d) => fs.writeFileSync(path.join(d, 'down-signal'), '0\n'));
  add('down-signal-99', (d) => fs.writeFileSync(path.join(d, 'down-signal'), '99\n'));
  // in-supervisor logging declarations
  add('log-dir-proc', (d) => fs.writeFileSync(path.join(d, 'log-dir'), '/proc/nope/x\n'));
  add('log-dir-sys', (d) => fs.writeFileSync(path.join(d, 'log-dir'), '/sys/nope\n'));
  add('log-dir-dev', (d) => fs.writeFileSync(path.join(d, 'log-dir'), '/dev/nope/deeper\n'));
  add('log-dir-10MB', (d) => fs.writeFileSync(path.join(d, 'log-dir'), Buffer.alloc(BIG, 0x61)));
  add('log-dir-binary', (d) => fs.writeFileSync(path.join(d, 'log-dir'), garbage(300, seed++)));
  add('log-dir-empty', (d) => fs.writeFileSync(path.join(d, 'log-dir'), '\n'));
  add('log-dir-directory', (d) => fs.mkdirSync(path.join(d, 'log-dir')));
  add('log-dir-fifo', (d) => execFileSync('mkfifo', [path.join(d, 'log-dir')]));
  add('log-dir-through-file', (d) => {
    fs.writeFileSync(path.join(d, 'afile'), 'x');
    fs.writeFileSync(path.join(d, 'log-dir'), './afile/logs\n');
  });
  add('log-script-garbage', (d) => {
    fs.writeFileSync(path.join(d, 'log-dir'), './logs\n');
    fs.writeFileSync(path.join(d, 'log-script'), garbage(2000, seed++));
  });
  add('log-script-10MB', (d) => {
    fs.writeFileSync(path.join(d, 'log-dir'), './logs\n');
    fs.writeFileSync(path.join(d, 'log-script'), Buffer.alloc(BIG, 0x74));
  });
  add('log-script-bad-directive', (d) => {
    fs.writeFileSync(path.join(d, 'log-dir'), './logs\n');
    fs.writeFileSync(path.join(d, 'log-script'), 't\nxyz\n');
  });
  // supervise/ and event/ that are not directories
  add('supervise-file', (d) => fs.writeFileSync(path.join(d, 'supervise'), 'x'));
  add('supervise-fifo', (d) => execFileSync('mkfifo', [path.join(d, 'supervise')]));
  add('event-file', (d) => fs.writeFileSync(path.join(d, 'event'), 'x'));
  add('event-looping-symlink', (d) => {
    fs.symlinkSync('event.b', path.join(d, 'event'));
    fs.symlinkSync('event', path.join(d, 'event.b'));
  });
  // run
  add('run-missing', () => undefined, { run: false });
  add('run-not-executable', (d) => fs.writeFileSync(path.join(d, 'run'), SLEEP, { mode: 0o644 }), { run: false });
  add('run-directory', (d) => fs.mkdirSync(path.join(d, 'run')), { run: false });
  add('run-fifo', (d) => execFileSync('mkfifo', ['-m', '0755', path.join(d, 'run')]), { run: false });
  add('run-10MB-garbage', (d) => fs.writeFileSync(path.join(d, 'run'), garbage(BIG, seed++), { mode: 0o755 }), { run: false });
  add('run-bad-interpreter', (d) => fs.writeFileSync(path.join(d, 'run'), '#!/nonexistent/sh\n', { mode: 0o755 }), { run: false });
  // the service directory itself
  add('dangling-symlink', (d) => fs.symlinkSync('/nonexistent/service', d), { noDir: true });
  add('looping-symlink', (d, name) => {
    // the partner is a dot name: the scanner skips it, so only this entry is to be reported
    const partner = path.join(path.dirname(d), `.loop-${name.slice(0, 5)}`);
    fs.symlinkSync(partner, d);
    fs.symlinkSync(d, partner);
  }, { noDir: true });
  // names: a newline, 255 bytes, with a bad file so that each has something to report
  add('newline', (d) => fs.writeFileSync(path.join(d, 'timeout-kill'), 'x\n'), { suffix: 'name\nwith-newline' });
  add('long-name', (d) => fs.writeFileSync(path.join(d, 'down-signal'), 'NOPE\n'), { suffix: 'L'.repeat(250) });
  add('control-bytes', (d) => fs.writeFileSync(path.join(d, 'notification-fd'), 'y\n'), { suffix: 'ctl\x01\x1b[31m' });
  // many of the same, to make it several hundred
  for (let i = 0; i < 5; i++) {
    for (const f of CONFIG) add(`${f}-binary-${i}`, (d) => fs.writeFileSync(path.join(d, f), garbage(128, seed++)));
    add(`run-missing-${i}`, () => undefined, { run: false });
    add(`supervise-file-${i}`, (d) => fs.writeFileSync(path.join(d, 'supervise'), ''));
    add(`log-dir-proc-${i}`, (d) => fs.writeFileSync(path.join(d, 'log-dir'), `/proc/${i}/nope/x\n`));
  }
  for (let i = 0; i < 120; i++) {
    const f = CONFIG[i % CONFIG.length];
    add(`${f}-bulk-${i}`, (d) => fs.writeFileSync(path.join(d, f), garbage(16 + (i % 40), seed++)));
  }
  return { root, good, bad };
}

export interface FuzzRunResult {
  bad: number;
  good: number;
  /** ms from starting the scanner until every good service was up (-1: not within the wait) */
  upMs: number;
  /** upMs less the time the scanner waited for a CPU meanwhile (runqueueMs): its own time to bring them up */
  upOwnMs: number;
  /** bad services with no warning line (names, first 10) */
  unsaid: string[];
  /** bad services said other than once, after the retries ("kind: N lines") */
  notOnce: string[];
  /** warning lines longer than 1100 bytes, or not starting with "vigil: warning: " (first 100 bytes of each) */
  badLines: string[];
  /** the scanner's peak RSS (VmHWM), bytes */
  hwmBytes: number;
  /** the good services were still up at the end */
  goodStillUp: boolean;
  /** ms from SIGTERM until the scanner exited (-1: not within 10 s) */
  stopMs: number;
  /** stopMs less the time the scanner waited for a CPU meanwhile (an over-estimate: the last ms before the exit go unsampled) */
  stopOwnMs: number;
}

/** a process's peak RSS (VmHWM of /proc/PID/status), bytes; null when it is gone */
export function peakRssBytes(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** a fresh directory for a hostile tree: on a tmpfs when there is one (see fuzzRun) */
function fuzzRoot(): string {
  return fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'vigil-fuzz-'));
}

/**
 * One run of the hostile-tree scenario (test/scanner/fuzz.test.ts, `npm run stress -- fuzz`): make the tree
 * under a fresh temp dir, start vigil svscan over it, wait for the good services and for one line per bad one,
 * wait `settleMs` more (past the 10 s spawn retry and the 3 s rescans: nothing may be said twice), read the
 * peak RSS, SIGTERM it. Returns the figures; the caller asserts. The tree is removed.
 */
export async function fuzzRun(opts: { good?: number; settleMs?: number; dir?: string; beforeStop?: (pid: number) => Promise<void>; vigil?: [string, string] } = {}): Promise<FuzzRunResult> {
  // The scan directory is on a tmpfs, as /run/service is under vigil init, s6-linux-init and s6-overlay (the bench
  // does the same). On ext4 the stop of the ~250 running services measures the file system, not the supervisor's
  // answer to SIGTERM: each still makes 2 status writes and a death_tally write (s6's protocol: a new .new file
  // renamed over the old one; 744 renames for the tree), and on this VM's journal-less ext4 each new inode is
  // found by skipping every recently deleted one (ext4's recently_deleted: 16 % of the stop's CPU in perf) and
  // each rename over a file starts its write-back (9 %). Measured 2026-12-02, load 15.5–17: 2200–2367 ms on
  // /var/tmp against 644–1037 ms on /dev/shm. `dir` chooses another place (measurements); beforeStop runs just
  // before the SIGTERM (e.g. to attach strace).
  const root = opts.dir ? fs.mkdtempSync(path.join(opts.dir, 'vigil-fuzz-')) : fuzzRoot();
  try {
    const tree = makeFuzzTree(root, { good: opts.good ?? 20 });
    const t0 = Date.now();
    const sv = await startVigilSvscan(root, [`-c${tree.bad.length + tree.good.length + 10}`], { vigil: opts.vigil });
    try {
      // the scanner's waits for a CPU, sampled at each poll: on a loaded machine they are the machine's time, not its own
      const rq0 = runqueueMs(sv.pid) ?? 0;
      let rq = rq0;
      const sample = (): void => {
        rq = runqueueMs(sv.pid) ?? rq;
      };
      const allUp = (): boolean => tree.good.every((g) => { const s = statusOf(path.join(root, g)); return !!s && isUp(s); });
      let upMs = -1;
      let upOwnMs = -1;
      try {
        await waitFor(() => { sample(); return allUp(); }, 30000, 'the good services up', 10);
        upMs = Date.now() - t0;
        upOwnMs = Math.round(upMs - (rq - rq0));
      } catch {
        /* upMs stays -1 */
      }
      const said = (b: BadService): number => sv.stderr().split('\n').filter((l) => l.includes(b.token)).length;
      try {
        await waitFor(() => tree.bad.every((b) => said(b) >= 1), 15000, 'a line for every bad service');
      } catch {
        /* unsaid lists them */
      }
      await sleep(opts.settleMs ?? 11000);
      const lines = sv.stderr().split('\n').filter(Boolean);
      const hwmBytes = peakRssBytes(sv.pid) ?? 0;
      const goodStillUp = allUp();
      if (opts.beforeStop) await opts.beforeStop(sv.pid);
      sample();
      const rqT = rq;
      const ts = Date.now();
      sv.signal('SIGTERM');
      let stopMs = -1;
      let stopOwnMs = -1;
      try {
        await waitFor(() => { sample(); return sv.hasExited(); }, 10000, 'the scanner to exit after SIGTERM', 5);
        stopMs = Date.now() - ts;
        stopOwnMs = Math.round(stopMs - (rq - rqT));
      } catch {
        /* stopMs stays -1 */
      }
      return {
        bad: tree.bad.length,
        good: tree.good.length,
        upMs,
        upOwnMs,
        unsaid: tree.bad.filter((b) => said(b) === 0).map((b) => JSON.stringify(b.name.slice(0, 40))).slice(0, 10),
        notOnce: tree.bad.filter((b) => said(b) !== 1).map((b) => `${b.kind}: ${said(b)} lines`),
        badLines: lines.filter((l) => Buffer.byteLength(l) > 1100 || !l.startsWith('vigil: warning: ')).map((l) => l.slice(0, 100)),
        hwmBytes,
        goodStillUp,
        stopMs,
        stopOwnMs,
      };
    } finally {
      sv.kill();
    }
  } finally {
    removeTree(root);
  }
}

export interface S6FuzzRunResult {
  bad: number;
  good: number;
  /** ms from starting s6-svscan until every good service was up (-1: not within upWaitMs) */
  upMs: number;
  /** s6-svscan's peak RSS, bytes */
  scannerHwmBytes: number;
  /** the sum of the peak RSS of s6-svscan and of every s6-supervise alive at the end, bytes */
  allHwmBytes: number;
  /** s6-supervise processes alive at the end */
  supervisors: number;
  /** ms from SIGTERM until s6-svscan exited (-1: not within stopWaitMs) */
  stopMs: number;
}

/**
 * The same hostile tree under Debian's s6-svscan (the bench's peer column): time until the good services are
 * up, then, settleMs later, the peak RSS of s6-svscan and of its s6-supervise processes, then SIGTERM. The
 * tree and every process left in it are removed.
 */
export async function s6FuzzRun(opts: { good?: number; settleMs?: number; upWaitMs?: number; stopWaitMs?: number } = {}): Promise<S6FuzzRunResult> {
  const root = fuzzRoot();
  try {
    const tree = makeFuzzTree(root, { good: opts.good ?? 20 });
    const t0 = Date.now();
    const sv = await startS6Svscan(root, ['-c', String(tree.bad.length + tree.good.length + 10)]);
    try {
      const allUp = (): boolean => tree.good.every((g) => { const s = statusOf(path.join(root, g)); return !!s && isUp(s); });
      let upMs = -1;
      try {
        await waitFor(allUp, opts.upWaitMs ?? 60000, 'the good services up');
        upMs = Date.now() - t0;
      } catch {
        /* upMs stays -1 */
      }
      await sleep(opts.settleMs ?? 3000);
      const scannerHwmBytes = peakRssBytes(sv.pid) ?? 0;
      const sups = descendants(sv.pid).filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/comm`, 'latin1').trim() === 's6-supervise';
        } catch {
          return false;
        }
      });
      const allHwmBytes = sups.reduce((a, p) => a + (peakRssBytes(p) ?? 0), scannerHwmBytes);
      const ts = Date.now();
      sv.signal('SIGTERM');
      let stopMs = -1;
      try {
        await waitFor(() => sv.hasExited(), opts.stopWaitMs ?? 5000, 's6-svscan to exit after SIGTERM');
        stopMs = Date.now() - ts;
      } catch {
        /* stopMs stays -1 */
      }
      return { bad: tree.bad.length, good: tree.good.length, upMs, scannerHwmBytes, allHwmBytes, supervisors: sups.length, stopMs };
    } finally {
      sv.kill();
      killAll(procsIn(root));
    }
  } finally {
    removeTree(root);
  }
}
