/**
 * Shared test helpers (reusable): run `vigil svscan` (or real `s6-svscan`, or anything) in the background,
 * collect its stderr, stop it and every descendant at the end (even when the test failed), and run s6's
 * client tools with a deadline.
 *
 *   const sv = startVigilSvscan(scandir, ['-t0']);     // or startS6Svscan(scandir)
 *   t.after(() => sv.kill());                           // SIGKILLs the scanner and all its descendants
 *   await waitFor(() => sv.stderr().includes('...'), 2000, '...');
 *   const r = await tool('s6-svstat', [dir]);           // { code, stdout, stderr, ms }
 *
 * Descendants are found through /proc (ppid links), because services call setsid() and so escape the
 * scanner's process group.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess, execFile } from 'node:child_process';
import { sleep, waitFor } from './wait';
import { runCmd } from './sys-proc';
import { isReaperInstalled } from '../../src/sys/reaper';
import { signalName } from '../../src/sys/signals';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const VIGIL = path.join(ROOT, 'bin', 'vigil');

export interface Bg {
  readonly proc: ChildProcess;
  readonly pid: number;
  stderr(): string;
  stdout(): string;
  /** resolves with [code, signal] once the process has exited */
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  hasExited(): boolean;
  /** SIGKILL the process and every descendant (idempotent) */
  kill(): void;
  /** stop tracking it (it is dead and its descendants are dealt with): nothing is killed at exit */
  forget(): void;
  signal(sig: NodeJS.Signals): void;
}

/** Every live pid whose ppid chain leads to `root` (root excluded). */
export function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = kids.get(ppid) ?? [];
    list.push(Number(name));
    kids.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    for (const c of kids.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

export function killTree(pid: number): void {
  const all = descendants(pid);
  for (const p of [pid, ...all]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

const live = new Set<Bg>();
process.on('exit', () => {
  for (const b of live) b.kill();
});

/** Start a command in the background (own process group), collecting its output. */
export function startBg(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdio?: Array<'pipe' | 'ignore' | 'inherit' | number> } = {}): Bg {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: (opts.stdio as never) ?? ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let err = '';
  let out = '';
  proc.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  let done = false;
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    proc.on('exit', (code, sig) => {
      done = true;
      resolve([code, sig]);
    });
  });
  const bg: Bg = {
    proc,
    pid: proc.pid as number,
    stderr: () => err,
    stdout: () => out,
    exited,
    hasExited: () => done,
    kill() {
      live.delete(bg);
      // once it has exited and been reaped its pid may already name another process (pid_max can be 32768,
      // and the orphan tests go through thousands of pids a second), and what it left was re-parented:
      // nothing to kill through that pid any more
      if (proc.pid !== undefined && !done) killTree(proc.pid);
    },
    forget() {
      live.delete(bg);
    },
    signal(sig) {
      if (done) return;
      try {
        process.kill(proc.pid as number, sig);
      } catch {
        /* gone */
      }
    },
  };
  live.add(bg);
  return bg;
}

/**
 * `vigil svscan ARGS DIR` in the background; waits until .s6-svscan/control has a reader. opts.vigil: the
 * [node, bin/vigil] to run (default: this node, this checkout) — the bench passes its frozen copy.
 */
export async function startVigilSvscan(scandir: string, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; vigil?: [string, string] } = {}): Promise<Bg> {
  const [node, bin] = opts.vigil ?? [process.execPath, VIGIL];
  const bg = startBg(node, [bin, 'svscan', ...args, scandir], { env: opts.env });
  await waitListening(scandir, bg);
  return bg;
}

/** real `s6-svscan ARGS DIR` in the background */
export async function startS6Svscan(scandir: string, args: string[] = []): Promise<Bg> {
  const bg = startBg('s6-svscan', [...args, scandir]);
  await waitListening(scandir, bg);
  return bg;
}

/** wait until a scanner reads DIR/.s6-svscan/control (an O_NONBLOCK write-open succeeds) */
export async function waitListening(scandir: string, bg: Bg, ms = 5000): Promise<void> {
  await waitFor(() => {
    if (bg.hasExited()) throw new Error(`scanner exited early: ${bg.stderr()}`);
    let fd: number;
    try {
      fd = fs.openSync(path.join(scandir, '.s6-svscan', 'control'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch {
      return false;
    }
    fs.closeSync(fd);
    return true;
  }, ms, `a scanner listening on ${scandir}`);
}

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program to completion with a deadline (SIGKILL after `ms`); never rejects. */
export function tool(cmd: string, args: string[], ms = 10000, opts: { cwd?: string } = {}): Promise<ToolResult> {
  const t0 = Date.now();
  // In a test process that runs a Supervisor in-process, the sys reaper's waitpid(-1) would steal
  // child_process's children (execFile would then never call back): run the tool through the shim.
  if (isReaperInstalled()) {
    return runCmd([cmd, ...args], ms, process.env, opts.cwd).then(
      (r): ToolResult => ({ code: r.code, signal: r.signal === null ? null : (signalName(r.signal) as NodeJS.Signals), stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 }),
      (e: Error): ToolResult => ({ code: null, signal: 'SIGKILL', stdout: '', stderr: e.message, ms: Date.now() - t0 }),
    );
  }
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: ms, killSignal: 'SIGKILL', cwd: opts.cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
      let code: number | null = 0;
      if (e) code = typeof e.code === 'number' ? e.code : null;
      resolve({ code, signal: e?.signal ?? null, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - t0 });
    });
  });
}

/** vigil COMMAND ARGS (compiled CLI) */
export const vigil = (args: string[], ms = 10000) => tool(process.execPath, [VIGIL, ...args], ms);

/** digits replaced by N (compare s6-svstat lines whose seconds/pids differ) */
export function maskDigits(s: string): string {
  return s.replace(/[0-9]+/g, 'N');
}

/** is pid a zombie or gone? */
export function isGoneOrZombie(pid: number): boolean {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

export { sleep };
