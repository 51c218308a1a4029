/**
 * Spawning children the vigil way: the native shim forks and execs (no child_process, no PATH search in the
 * child), this file adds what is easier in TypeScript: PATH lookup, env objects, defaults, and registering
 * the child with the reaper in the same turn.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, SpawnOptions } from './native';
import { ENOENT, SysError } from './errors';
import { ExitCallback, onExit } from './reaper';

export interface SpawnRequest {
  /** program; a bare name is searched in PATH (env's PATH, else process PATH), a relative path against cwd */
  file?: string;
  /** argv, argv[0] included; file defaults to argv[0] */
  argv: string[];
  /** environment: an object or a list of "K=V" (default: process.env) */
  env?: NodeJS.ProcessEnv | readonly string[];
  /** fds[i] = parent fd that becomes fd i in the child; null/-1 closed (default [0, 1, 2]) */
  fds?: ReadonlyArray<number | null>;
  cwd?: string;
  setsid?: boolean;
  pgid?: number;
  /** child fd of a terminal whose foreground process group the child takes before exec (see native.ts) */
  foreground?: number;
  resetSignals?: boolean;
  uid?: number;
  gid?: number;
  fifoWrite?: string;
  fifoFds?: number[];
  fifoReaderHeld?: boolean;
  /** register this exit callback with the reaper (race-free: same turn as the fork) */
  onExit?: ExitCallback;
}

/** "K=V" list from an env object (undefined values dropped) */
export function envList(env: NodeJS.ProcessEnv | readonly string[]): string[] {
  if (Array.isArray(env)) return [...(env as readonly string[])];
  const out: string[] = [];
  for (const [k, v] of Object.entries(env as NodeJS.ProcessEnv)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

function envGet(env: NodeJS.ProcessEnv | readonly string[] | undefined, key: string): string | undefined {
  if (env === undefined) return process.env[key];
  if (Array.isArray(env)) {
    const pfx = `${key}=`;
    const hit = (env as readonly string[]).find((e) => e.startsWith(pfx));
    return hit === undefined ? undefined : hit.slice(pfx.length);
  }
  return (env as NodeJS.ProcessEnv)[key];
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** First executable regular file named `name` in PATH (empty entries = cwd), absolute; null if none. */
export function which(name: string, PATH: string = process.env.PATH ?? DEFAULT_PATH, cwd: string = process.cwd()): string | null {
  if (name.includes('/')) return isExecutable(path.resolve(cwd, name)) ? path.resolve(cwd, name) : null;
  for (const dir of PATH.split(':')) {
    const p = path.resolve(cwd, dir === '' ? '.' : dir, name);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute file spawnProcess would exec for this request, or a SysError (ENOENT, stage 'path'). */
export function resolveFile(req: Pick<SpawnRequest, 'file' | 'argv' | 'env' | 'cwd'>): string {
  const file = req.file ?? req.argv[0];
  if (file === undefined || file === '') throw pathError(String(file), 'empty program name');
  const cwd = req.cwd === undefined ? process.cwd() : path.resolve(req.cwd);
  if (file.includes('/')) return path.resolve(cwd, file);
  const found = which(file, envGet(req.env, 'PATH') ?? DEFAULT_PATH, cwd);
  if (found === null) throw pathError(file, 'not found in PATH');
  return found;
}

function pathError(file: string, why: string): SysError {
  const e = new Error(`ENOENT: ${file}: ${why}, spawn '${file}'`) as SysError;
  e.code = 'ENOENT';
  e.errno = -ENOENT;
  e.syscall = 'spawn';
  e.stage = 'path';
  e.path = file;
  return e;
}

/** fork+exec; returns the pid. Throws a SysError (with .stage) when anything before exec fails. */
export function spawnProcess(req: SpawnRequest): number {
  const file = resolveFile(req);
  const opts: SpawnOptions = {};
  if (req.setsid !== undefined) opts.setsid = req.setsid;
  if (req.pgid !== undefined) opts.pgid = req.pgid;
  if (req.foreground !== undefined) opts.foreground = req.foreground;
  if (req.resetSignals !== undefined) opts.resetSignals = req.resetSignals;
  if (req.cwd !== undefined) opts.cwd = req.cwd;
  if (req.uid !== undefined) opts.uid = req.uid;
  if (req.gid !== undefined) opts.gid = req.gid;
  if (req.fifoWrite !== undefined) opts.fifoWrite = req.fifoWrite;
  if (req.fifoFds !== undefined) opts.fifoFds = req.fifoFds;
  if (req.fifoReaderHeld !== undefined) opts.fifoReaderHeld = req.fifoReaderHeld;
  const pid = native().spawn(file, req.argv, envList(req.env ?? process.env), [...(req.fds ?? [0, 1, 2])], opts);
  if (req.onExit) onExit(pid, req.onExit);
  return pid;
}
