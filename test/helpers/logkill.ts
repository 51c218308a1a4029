/**
 * The logger kill scenario (shared by test/logger/kills.test.ts, the stress script and the bench): a writer
 * sends numbered lines into a fifo whose two ends this process holds (as the scanner holds a service's log
 * pipe), a logger (`vigil log` or Debian's `s6-log`) reads it into a logdir and is SIGKILLed at random
 * moments spread over the stream, restarted at once each time; at the end a last logger drains the fifo.
 * Then every line of the logdir (archives in name order, then current) is counted: lost, duplicated, out of
 * order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { sleep } from './wait';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const VIGIL = path.join(ROOT, 'bin', 'vigil');
const WRITER = path.join(__dirname, 'numbered-writer.js');

export type LoggerKind = 'vigil' | 's6';

export interface KillStreamOptions {
  kind: LoggerKind;
  /** numbered lines to send */
  lines: number;
  /** SIGKILLs, at random moments spread over the expected length of the stream */
  kills: number;
  /** lines per write of the writer, and ms between writes (the pace) */
  batch: number;
  intervalMs: number;
  /** a fresh directory (the fifo and the logdir go there) */
  dir: string;
  /** logger script before the logdir (default: t s4000000 n1000: timestamps, and no archive ever trimmed) */
  script?: string[];
  /** upper bound for the whole run (default: 4 × the stream's length + 60 s) */
  deadlineMs?: number;
  /** [node, vigil] to run `vigil log` with (default: this node, this checkout's bin/vigil) — the bench's frozen copy */
  vigil?: [string, string];
}

export interface KillStreamResult {
  kind: LoggerKind;
  lines: number;
  /** SIGKILLs that hit a running logger */
  kills: number;
  lost: number;
  duplicated: number;
  /** input bytes of each run of consecutive duplicated lines (a kill between a write and its take rewrites one chunk) */
  dupBlocks: number[];
  outOfOrder: number;
  /** first few problems, for messages */
  examples: string[];
  ms: number;
}

function loggerCmd(kind: LoggerKind, script: string[], vigil: [string, string] = [process.execPath, VIGIL]): [string, string[]] {
  return kind === 's6' ? ['/usr/bin/s6-log', ['--', ...script]] : [vigil[0], [vigil[1], 'log', '--', ...script]];
}

function listDir(d: string): string[] {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
}

/** every line of a logdir, archives (@….s/.u, by name = by time) first, then current */
export function logdirLines(d: string): string[] {
  const names = listDir(d);
  const files = [...names.filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort(), ...(names.includes('current') ? ['current'] : [])];
  const out: string[] = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(d, f), 'latin1');
    for (const l of text.split('\n')) if (l !== '') out.push(l);
  }
  return out;
}

/** the last lines of current and of the newest archive (cheap: 4 KiB of each) */
export function tailLines(d: string): string[] {
  const names = listDir(d);
  const newest = names.filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort().pop();
  const out: string[] = [];
  for (const f of [newest, 'current']) {
    if (!f) continue;
    try {
      const fd = fs.openSync(path.join(d, f), 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.min(4096, size));
        fs.readSync(fd, buf, 0, buf.length, size - buf.length);
        out.push(...buf.toString('latin1').split('\n').slice(1));
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      /* rotated away meanwhile */
    }
  }
  return out;
}

/** the line's number (a `t` stamp stripped), NaN if none */
export function lineNumber(l: string): number {
  const m = /^(?:@[0-9a-f]{24} )?(\d{9}) /.exec(l);
  return m ? Number(m[1]) : NaN;
}

/** input bytes of numbered line k as numbered-writer.ts writes it: 9 digits, a space, k % 41 bytes, newline */
function inputBytes(k: number): number {
  return 11 + (k % 41);
}

/** count lost / duplicated / out-of-order numbers 1..n among the lines */
export function audit(lines: string[], n: number): { lost: number; duplicated: number; dupBlocks: number[]; outOfOrder: number; examples: string[] } {
  const seen = new Uint16Array(n + 1);
  const examples: string[] = [];
  const dupBlocks: number[] = [];
  let lastDup = -2;
  let duplicated = 0;
  let outOfOrder = 0;
  let prev = 0;
  for (const l of lines) {
    const k = lineNumber(l);
    if (!(k >= 1 && k <= n)) {
      if (examples.length < 5) examples.push(`garbage line ${JSON.stringify(l.slice(0, 60))}`);
      continue;
    }
    if (seen[k]++ > 0) {
      duplicated++;
      if (k === lastDup + 1) dupBlocks[dupBlocks.length - 1] += inputBytes(k);
      else dupBlocks.push(inputBytes(k));
      lastDup = k;
      if (examples.length < 5) examples.push(`line ${k} duplicated`);
    } else if (k < prev) {
      outOfOrder++;
      if (examples.length < 5) examples.push(`line ${k} after ${prev}`);
    }
    if (k > prev) prev = k;
  }
  let lost = 0;
  for (let k = 1; k <= n; k++) {
    if (seen[k] === 0) {
      lost++;
      if (examples.length < 5) examples.push(`line ${k} lost`);
    }
  }
  return { lost, duplicated, dupBlocks, outOfOrder, examples };
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
  });
}

export async function killStream(o: KillStreamOptions): Promise<KillStreamResult> {
  const t0 = Date.now();
  const script = [...(o.script ?? ['t', 's4000000', 'n1000']), './d'];
  const fifo = path.join(o.dir, 'fifo');
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  execFileSync('mkfifo', [fifo]);
  // both ends held here, as the scanner holds a service's log pipe: a dead logger loses nothing in the pipe
  const holder = fs.openSync(fifo, fs.constants.O_RDWR);
  const wfd = fs.openSync(fifo, fs.constants.O_WRONLY);
  const expectMs = Math.ceil(o.lines / o.batch) * o.intervalMs;
  const deadline = t0 + (o.deadlineMs ?? expectMs * 4 + 60000);
  const writer = spawn(process.execPath, [WRITER, String(o.lines), String(o.batch), String(o.intervalMs)], { stdio: ['ignore', wfd, 'inherit'] });
  fs.closeSync(wfd);
  let writerDone = false;
  const writerExit = new Promise<number | null>((resolve) => writer.once('exit', (c) => { writerDone = true; resolve(c); }));
  const [cmd, argv] = loggerCmd(o.kind, script, o.vigil);
  let logger: ChildProcess | null = null;
  const startLogger = (): ChildProcess => spawn(cmd, argv, { cwd: o.dir, stdio: [holder, 'ignore', 'inherit'] });
  let kills = 0;
  try {
    // kill moments: uniform over the stream, sorted
    const at = Array.from({ length: o.kills }, () => Math.random() * expectMs).sort((a, b) => a - b);
    logger = startLogger();
    for (const when of at) {
      const wait = t0 + when - Date.now();
      if (wait > 0) await sleep(wait);
      if (Date.now() > deadline) throw new Error(`kill stream: past the deadline after ${kills} kills`);
      if (logger.exitCode === null && logger.signalCode === null) {
        logger.kill('SIGKILL');
        kills++;
      }
      await exited(logger);
      logger = startLogger();
    }
    let timer: NodeJS.Timeout | undefined;
    const wcode = await Promise.race([
      writerExit,
      new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())); }),
    ]);
    clearTimeout(timer);
    if (wcode !== 0) throw new Error(`the writer did not finish (${wcode})`);
    // the last logger drains the fifo: wait until the last line is in, then stop it cleanly
    const lastIsIn = (): boolean => tailLines(path.join(o.dir, 'd')).some((l) => lineNumber(l) === o.lines);
    while (!lastIsIn()) {
      if (Date.now() > deadline) throw new Error(`kill stream: line ${o.lines} not logged before the deadline`);
      await sleep(50);
    }
    logger.kill('SIGTERM');
    await exited(logger);
  } finally {
    if (logger && logger.exitCode === null && logger.signalCode === null) logger.kill('SIGKILL');
    if (!writerDone) writer.kill('SIGKILL');
    fs.closeSync(holder);
  }
  const a = audit(logdirLines(path.join(o.dir, 'd')), o.lines);
  return { kind: o.kind, lines: o.lines, kills, ...a, ms: Date.now() - t0 };
}
