/**
 * Test harness for `vigil init` as PID 1 of a fresh PID + mount namespace
 * (`unshare --pid --fork --mount-proc --mount`), driven from outside with child_process (allowed in tests).
 *
 *   const b = await bootInit(t, { basedir, args: ['--grace', '1000'], cmd: ['sleep', '100'] });
 *   b.pid1          // host pid of vigil init (PID 1 inside)
 *   b.signal('SIGTERM'); const r = await b.exited(5000);   // { code, signal, ms }
 *   b.stdout() / b.stderr()  // what the "container" printed
 * t.after kills the namespace (SIGKILL to PID 1, then to unshare) and removes the temp dirs.
 */
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { makeTree, tmpdir, Tree } from './scandir';
import { waitFor } from './wait';
import { tainParseLabel, tainToUnixMs } from '../../src/formats/tai64n';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const VIGIL = path.join(REPO, 'bin', 'vigil');

export interface BootOptions {
  /** basedir content (makeTree naming: trailing ! = executable) */
  tree?: Tree;
  /** or an existing basedir (not removed afterwards) */
  basedirPath?: string;
  /** extra environment for vigil init */
  env?: Record<string, string>;
  args?: string[];
  cmd?: string[];
  /** run PID 1 as this uid/gid (setpriv), with a rundir it owns */
  uid?: number;
  /** the working directory vigil init is started in (the image's WORKDIR) */
  cwd?: string;
  /** called with the rundir before boot (e.g. to plant a broken uncaught-logs) */
  prepare?: (rundir: string) => void;
  /**
   * machine-mode tests: bind-mount this file over /dev/console inside the namespace (so init's console
   * messages land there, not on the host's console)
   */
  fakeConsole?: string;
  /**
   * sh commands run inside the namespace just before init is exec'd, with $RUNDIR and $BASEDIR set (e.g.
   * `mount --bind "$RUNDIR" /run` and an overlay on /etc: an image's root without touching the host's)
   */
  inner?: string;
  /** pass neither --basedir nor --rundir (init's defaults, or what it detects) */
  plain?: boolean;
  /** give init an fd 3: a socket whose other end is child.stdio[3] (a container manager's start barrier) */
  fd3?: boolean;
  /** node's own options before bin/vigil (e.g. -r a preloaded module) */
  nodeArgs?: string[];
}

export interface Booted {
  basedir: string;
  rundir: string;
  child: ChildProcess;
  pid1: number;
  t0: number;
  stdout(): string;
  stderr(): string;
  signal(sig: NodeJS.Signals): void;
  /** resolves with how the namespace ended; rejects after ms */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** lines of RUNDIR/uncaught-logs/current without their stamp */
  logLines(): string[];
  /** [unix ms, text] of each line of uncaught-logs/current */
  stampedLines(): Array<[number, string]>;
}

export async function bootInit(t: TestContext, o: BootOptions): Promise<Booted> {
  const basedir = o.basedirPath ?? makeTree(o.tree ?? {});
  const rundir = tmpdir('vigil-init-run-');
  fs.chmodSync(rundir, 0o755);
  if (o.uid !== undefined) {
    fs.chownSync(rundir, o.uid, o.uid);
    fs.chmodSync(basedir, 0o755);
  }
  o.prepare?.(rundir);
  const initArgv = [VIGIL, 'init', ...(o.plain ? [] : ['--basedir', basedir, '--rundir', rundir]), ...(o.args ?? [])];
  if (o.cmd) initArgv.push('--', ...o.cmd);
  const priv = o.uid !== undefined ? ['setpriv', `--reuid=${o.uid}`, `--regid=${o.uid}`, '--clear-groups', '--'] : [];
  const t0 = Date.now();
  const inner = [...priv, process.execPath, ...(o.nodeArgs ?? []), ...initArgv];
  const wrapped = o.fakeConsole
    ? ['sh', '-c', 'mount --bind "$0" /dev/console && exec "$@"', o.fakeConsole, ...inner]
    : o.inner !== undefined
      ? ['env', `RUNDIR=${rundir}`, `BASEDIR=${basedir}`, 'sh', '-c', `set -e\n${o.inner}\nexec "$@"`, 'inner', ...inner]
      : inner;
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--mount', ...wrapped], {
    stdio: o.fd3 ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(o.env ?? {}) },
    cwd: o.cwd,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  let ended: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
  const endP = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = { code, signal, at: Date.now() };
      resolve(ended);
    });
  });
  let pid1 = 0;
  t.after(() => {
    if (!ended) {
      if (pid1 > 0) {
        try {
          process.kill(pid1, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (!o.basedirPath) fs.rmSync(basedir, { recursive: true, force: true });
    fs.rmSync(rundir, { recursive: true, force: true });
  });
  pid1 = await waitFor(() => {
    if (ended) throw new Error(`namespace ended early: ${JSON.stringify(ended)}\n${err}`);
    try {
      const kids = fs.readdirSync(`/proc/${child.pid}/task`).flatMap((tid) =>
        fs.readFileSync(`/proc/${child.pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
      return kids.length ? Number(kids[0]) : 0;
    } catch {
      return 0;
    }
  }, 5000, 'PID 1 of the namespace');
  const readLog = (): string => {
    try {
      return fs.readFileSync(path.join(rundir, 'uncaught-logs', 'current'), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    basedir, rundir, child, pid1, t0,
    stdout: () => out,
    stderr: () => err,
    signal: (sig) => process.kill(pid1, sig),
    exited: (ms) => Promise.race([
      endP,
      new Promise<never>((_r, rej) => setTimeout(() => rej(new Error(`namespace still running after ${ms} ms\n--- stderr ---\n${err}`)), ms).unref()),
    ]),
    logLines: () => readLog().split('\n').filter(Boolean).map((l) => l.replace(/^@[0-9a-f]{24} /, '')),
    stampedLines: () => readLog().split('\n').filter(Boolean).map((l) => {
      const tn = tainParseLabel(l.slice(0, 25));
      return [tn ? tainToUnixMs(tn) : NaN, l.slice(26)] as [number, string];
    }),
  };
}

/** the lines of RUNDIR/order (the tests' scripts append to it, in the order things happen), [] before any */
export function orderLines(rundir: string): string[] {
  try {
    return fs.readFileSync(path.join(rundir, 'order'), 'utf8').trim().split('\n');
  } catch {
    return [];
  }
}

/** processes still alive whose parent chain leads to pid (host view) */
export function liveDescendants(pid: number): number[] {
  const all = fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n));
  const kids = new Map<number, number[]>();
  for (const n of all) {
    try {
      const st = fs.readFileSync(`/proc/${n}/stat`, 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') continue;
      const pp = Number(f[1]);
      kids.set(pp, [...(kids.get(pp) ?? []), Number(n)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) for (const c of kids.get(stack.pop() as number) ?? []) {
    out.push(c);
    stack.push(c);
  }
  return out;
}
