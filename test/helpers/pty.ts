/**
 * A real pseudo-terminal for tests of `docker run -it`-style use: test/helpers/pty-run.py (Python's pty.fork,
 * so the program is a session leader with the terminal as its controlling terminal and fds 0/1/2, as an OCI
 * runtime with process.terminal does) runs the program; the test types into the terminal and reads what it
 * prints.
 *
 *   const p = runOnPty(t, ['unshare', ..., 'node', VIGIL, 'init', ..., '--', 'sh', '-i']);
 *   await p.waitOutput('$ ', 10000, 'the prompt');
 *   p.type('echo hi\n'); p.type('\x03');          // ^C: the terminal driver sends SIGINT to the foreground group
 *   const code = await p.exited(10000);
 * The process table helpers read /proc (host pids): a process's process group and its terminal's foreground
 * group (tpgid), to wait until a job really owns the terminal before typing a control character.
 */
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { liveDescendants } from './init-ns';
import { waitFor } from './wait';

const PTY_RUN = path.resolve(__dirname, '..', '..', '..', 'test', 'helpers', 'pty-run.py');

export interface Pty {
  child: ChildProcess;
  /** everything the terminal printed so far (echo of typed input included, \r\n line ends) */
  output(): string;
  /** type bytes into the terminal */
  type(s: string): void;
  /** type bytes, then wait for what they cause to be printed (matched only in output after the typing) */
  send(keys: string, expect: string | RegExp, ms: number, why: string): Promise<void>;
  /** resolve once the output (after `from`, an offset into output()) matches */
  waitOutput(what: string | RegExp, ms: number, why: string, from?: number): Promise<void>;
  /** the program's exit code (128+N for signal N); rejects after ms */
  exited(ms: number): Promise<number>;
  /** live descendants of the program whose comm is `comm` */
  find(comm: string): ProcInfo[];
}

export interface ProcInfo {
  pid: number;
  comm: string;
  state: string;
  pgrp: number;
  session: number;
  /** the foreground process group of the process's controlling terminal (-1: none) */
  tpgid: number;
}

export function procInfo(pid: number): ProcInfo | null {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { pid, comm, state: f[0], pgrp: Number(f[2]), session: Number(f[3]), tpgid: Number(f[5]) };
  } catch {
    return null;
  }
}

/** wait until a live descendant named comm owns the terminal (its group is the foreground one) and runs */
export async function waitForeground(p: Pty, comm: string, ms: number): Promise<ProcInfo> {
  return waitFor(() => p.find(comm).find((x) => x.tpgid === x.pgrp && x.state !== 'T'), ms,
    `a running ${comm} in the terminal's foreground group (seen: ${JSON.stringify(p.find(comm))})`);
}

export function runOnPty(t: TestContext, argv: string[], env: NodeJS.ProcessEnv = process.env): Pty {
  const child = spawn('python3', [PTY_RUN, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const ended = new Promise<number>((resolve) => {
    child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? 9 : 0)));
  });
  let done = false;
  void ended.then(() => { done = true; });
  t.after(() => {
    if (done) return;
    for (const p of liveDescendants(child.pid!)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  });
  const type = (s: string): void => { child.stdin!.write(Buffer.from(s, 'latin1')); };
  const pty: Pty = {
    child,
    output: () => out,
    type,
    send: (keys, expect, ms, why) => {
      const mark = out.length;
      type(keys);
      return pty.waitOutput(expect, ms, why, mark);
    },
    waitOutput: async (what, ms, why, from = 0) => {
      const end = Date.now() + ms;
      const hit = (): boolean => (typeof what === 'string' ? out.slice(from).includes(what) : what.test(out.slice(from)));
      while (!hit()) {
        if (Date.now() > end || done) {
          if (hit()) return;
          throw new Error(`${done ? 'ended' : `timed out after ${ms} ms`} waiting for ${why}\n--- terminal ---\n${JSON.stringify(out.slice(-3000))}\n--- stderr ---\n${err}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exited: (ms) => Promise.race([
      ended,
      new Promise<never>((_r, rej) => setTimeout(() => rej(new Error(`still running after ${ms} ms\n--- terminal ---\n${JSON.stringify(out.slice(-3000))}\n--- stderr ---\n${err}`)), ms).unref()),
    ]),
    find: (comm) => liveDescendants(child.pid!).map(procInfo).filter((x): x is ProcInfo => x !== null && x.comm === comm),
  };
  return pty;
}
