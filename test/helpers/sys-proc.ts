/**
 * Helpers for the src/sys tests: wait for a child's exit through the real reaper (with a deadline), read
 * /proc facts about a process, collect output from a pipe through fdwatch, and clean up processes.
 */
import * as fs from 'node:fs';
import { native } from '../../src/sys/native';
import { installReaper, onExit } from '../../src/sys/reaper';
import { readAvailable, watchReadable } from '../../src/sys/fdwatch';

/** Register pid with the reaper (call in the same turn as spawn) and resolve with its raw status. */
export function exitOf(pid: number, ms = 10_000): Promise<number> {
  installReaper();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pid ${pid} did not exit within ${ms} ms`)), ms);
    onExit(pid, (status) => {
      clearTimeout(t);
      resolve(status);
    });
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
