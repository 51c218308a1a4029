/**
 * Helpers for the logger tests (not a test file): run Debian's s6-log and `vigil log` the same way, and
 * snapshot what they wrote with the time stamps masked.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, spawn, ChildProcess } from 'node:child_process';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const VIGIL = path.join(ROOT, 'bin', 'vigil');
export const S6LOG = '/usr/bin/s6-log';

export type Kind = 's6' | 'vigil';

export function mkTmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function cmdFor(kind: Kind, args: string[]): [string, string[]] {
  return kind === 's6' ? [S6LOG, args] : [process.execPath, [VIGIL, 'log', ...args]];
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Run a logger with stdin = a regular file holding `input` (deterministic 8191-byte reads), in cwd. */
export function runWithFile(kind: Kind, args: string[], input: Buffer, cwd: string, timeoutMs = 30000): RunResult {
  const inFile = path.join(cwd, `.input-${kind}`);
  fs.writeFileSync(inFile, input);
  const fd = fs.openSync(inFile, 'r');
  try {
    const [cmd, argv] = cmdFor(kind, args);
    const r = spawnSync(cmd, argv, { cwd, stdio: [fd, 'pipe', 'pipe'], timeout: timeoutMs, maxBuffer: 1 << 28 });
    if (r.error) throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.closeSync(fd);
    fs.unlinkSync(inFile);
  }
}

/** Replace TAI64N labels and T stamps by fixed text. */
export function mask(s: string): string {
  return s
    .replace(/@[0-9a-f]{24}/g, '@TAI64N')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}/g, 'YYYY-MM-DD HH:MM:SS.NNNNNNNNN');
}

/** Program names in messages → PROG. */
export function maskProg(s: string): string {
  return s.replace(/^(s6-log|vigil log):/gm, 'PROG:');
}

export interface FileSnap {
  name: string;
  mode: string;
  size: number;
  content: string;
}

/**
 * Every file of a logdir in name order (archive names masked, order kept), with mode and masked content — but
 * `spool`, vigil's own file (src/logger/spool.ts: its input on the way in; s6-log has none), so that vigil's
 * logdir and s6-log's compare file for file.
 */
export function snapLogdir(dir: string): FileSnap[] {
  const names = fs.readdirSync(dir).filter((n) => n !== 'spool').sort();
  return names.map((n) => {
    const p = path.join(dir, n);
    const st = fs.statSync(p);
    return {
      name: mask(n),
      mode: (st.mode & 0o7777).toString(8),
      size: st.size,
      content: mask(fs.readFileSync(p).toString('latin1')),
    };
  });
}

/** A process that tests must be able to kill even on failure. */
export function startLogger(kind: Kind, args: string[], cwd: string, extra: { stdin?: 'pipe' | number; stderr?: 'pipe' | 'inherit' } = {}): ChildProcess {
  const [cmd, argv] = cmdFor(kind, args);
  return spawn(cmd, argv, { cwd, stdio: [extra.stdin ?? 'pipe', 'pipe', extra.stderr ?? 'pipe'] });
}

export function waitExit(p: ChildProcess, ms: number, what: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (p.exitCode !== null || p.signalCode !== null) {
      resolve({ code: p.exitCode, signal: p.signalCode });
      return;
    }
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} to exit`)), ms);
    p.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

export function killQuietly(p: ChildProcess | null | undefined): void {
  if (p && p.exitCode === null && p.signalCode === null) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
}

/** Collect a stream into a string (latin1). */
export function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  if (stream) stream.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('latin1');
}

/** Numbered lines "prefix-000001\n"... */
export function numbered(from: number, to: number, prefix = 'line', width = 60): string {
  let s = '';
  for (let i = from; i <= to; i++) s += `${prefix}-${String(i).padStart(6, '0')}-${'x'.repeat(Math.max(0, width - prefix.length - 8))}\n`;
  return s;
}
