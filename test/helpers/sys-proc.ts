/**
 * Helpers for the src/sys tests: wait for a child's exit through the real reaper (with a deadline), run a
 * command to completion through the shim, read /proc facts about a process, collect output from a pipe
 * through fdwatch, and clean up processes.
 *
 * Once the reaper is installed, waitpid(-1) also collects child_process's children, whose exit libuv then
 * never reports: a process that reaps must not use child_process. So these tests run commands with runCmd.
 */
import * as fs from 'node:fs';
import { native } from '../../src/sys/native';
import { installReaper, onExit } from '../../src/sys/reaper';
import { readAvailable, watchReadable } from '../../src/sys/fdwatch';
import { envList, resolveFile } from '../../src/sys/spawn';
import { decodeWaitStatus } from '../../src/sys/waitstatus';

/** Register pid with the reaper (call in the same turn as spawn) and resolve with its raw status. */
export function exitOf(pid: number, ms = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pid ${pid} did not exit within ${ms} ms`)), ms);
    onExit(pid, (status) => {
      clearTimeout(t);
      resolve(status);
    });
    // after registering: installing reaps at once, and an unregistered dead pid would count as an orphan
    installReaper();
  });
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...]. */
export function procStat(pid: number): string[] {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).trim().split(' ');
}

/** One "Key:\tvalue" line of /proc/PID/status. */
export function procStatus(pid: number, key: string): string {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
  if (line === undefined) throw new Error(`no ${key} in /proc/${pid}/status`);
  return line.slice(key.length + 1).trim();
}

/** Read a non-blocking fd until EOF (event-driven, bounded). */
export function readAll(fd: number, ms = 10_000): Promise<string> {
  native().setNonblock(fd, true);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    const t = setTimeout(() => {
      w.stop();
      reject(new Error(`no EOF on fd ${fd} within ${ms} ms; got ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    }, ms);
    const w = watchReadable(fd, () => {
      const r = readAvailable(fd, buf);
      chunks.push(r.bytes);
      if (r.eof) {
        w.stop();
        clearTimeout(t);
        resolve(Buffer.concat(chunks).toString());
      }
    });
  });
}

/** Resolve once cond() is true, checking at each event-loop pass through a short timer; fail after ms. */
export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** SIGKILL each pid (and its group when it leads one); ignores the dead. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    native().kill(-pid, 9);
    native().kill(pid, 9);
  }
}

export interface CmdResult {
  /** raw wait status */
  status: number;
  /** exit code, or null if killed */
  code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run argv (PATH-searched) in its own session with stdin /dev/null, collect stdout/stderr, reap it with the
 * reaper. After ms its process group is SIGKILLed and the promise rejects.
 */
export async function runCmd(argv: string[], ms = 30_000, env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<CmdResult> {
  const n = native();
  const file = resolveFile({ argv, env });
  const [or, ow] = n.pipe();
  const [er, ew] = n.pipe();
  const devnull = fs.openSync('/dev/null', 'r');
  let pid: number;
  try {
    pid = n.spawn(file, argv, envList(env), [devnull, ow, ew], cwd === undefined ? {} : { cwd });
  } catch (e) {
    for (const fd of [or, er]) n.close(fd);
    throw e;
  } finally {
    for (const fd of [ow, ew, devnull]) n.close(fd);
  }
  const exited = exitOf(pid, ms + 5000);
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    n.kill(-pid, 9);
    n.kill(pid, 9);
  }, ms);
  try {
    const [stdout, stderr] = await Promise.all([readAll(or, ms + 5000), readAll(er, ms + 5000)]);
    const status = await exited;
    if (timedOut) throw new Error(`${argv.join(' ')}: killed after ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`);
    const w = decodeWaitStatus(status);
    return { status, code: w.code, signal: w.signal, stdout, stderr };
  } finally {
    clearTimeout(killer);
    n.close(or);
    n.close(er);
  }
}
