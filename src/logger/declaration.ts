/**
 * Logging inside the supervisor (src/scanner/inlog.ts runs it): a service's output is written to its logdir by
 * the supervisor process itself — no logger process per service — with the same logdir format and
 * guarantees as `vigil log`. This file reads the declaration, in the service directory:
 *
 *   log-dir     First line: the logdir, relative to the service directory (or absolute). Its presence turns
 *               in-supervisor logging on for this service.
 *   log-script  Optional. s6-log directives, ONE PER LINE (so a regex may hold spaces); empty lines and
 *               lines starting with '#' are ignored. It may start with the option lines `-b` (stop reading
 *               the service while anything is unwritten) and `-l N` (line limit). The logdir of `log-dir`
 *               is appended as the last action. Without the file the script is `t` + the logdir (TAI64N
 *               stamps, s6-log's defaults n10 s99999).
 *
 *   Example:  echo ../../var/log/web > web/log-dir
 *             printf '%s\n' -b n20 s1000000 t > web/log-script
 *
 * A service with a `log/` subdirectory keeps its external logger (s6 semantics); `log-dir` is then ignored
 * by the supervisor (the caller decides; readLogDeclaration only reads the files).
 *
 * Memory: the engine's buffers are empty while the disk accepts writes; when a logdir is stuck the engine
 * stops reading the service's pipe at once (src/logger/engine.ts), so the service blocks on write() instead of
 * its output being lost or the supervisor growing. `maxBuffered` (default 256 KiB) only bounds stdout output.
 */
import * as path from 'node:path';
import { parseLogArgs } from './args';
import { parseScript, ScriptError } from './script';
import { readConfigHead, LOG_DIR_MAX, LOG_SCRIPT_MAX } from '../formats/servicedir';

export const LOG_DIR_FILE = 'log-dir';
export const LOG_SCRIPT_FILE = 'log-script';
export const SERVICE_MAX_BUFFERED = 256 * 1024;

export class LogDeclarationError extends Error {}

export interface LogDeclaration {
  /** the service directory (relative paths in log-script, e.g. `=status`, resolve against it) */
  dir: string;
  /** absolute logdir path */
  logdir: string;
  /** the full script, logdir action included (absolute path) */
  script: string[];
  lineLimit: number;
  blocking: boolean;
}

/**
 * Read SVC/log-dir and SVC/log-script. null = no in-supervisor logging declared. Throws
 * LogDeclarationError with a one-line message for a bad declaration (the script is parsed here).
 */
export function readLogDeclaration(serviceDir: string): LogDeclaration | null {
  // both files are user input: read with a cap (src/formats/servicedir.ts), never whole
  const read = (file: string, max: number): Buffer | null => {
    try {
      return readConfigHead(serviceDir, file, max + 1);
    } catch (e) {
      throw new LogDeclarationError(`unable to read ${file}: ${(e as Error).message}`);
    }
  };
  const dirText = read(LOG_DIR_FILE, LOG_DIR_MAX);
  if (dirText === null) return null;
  const nl = dirText.indexOf(10);
  if (nl < 0 && dirText.length > LOG_DIR_MAX) throw new LogDeclarationError(`${LOG_DIR_FILE}: the first line is longer than ${LOG_DIR_MAX} bytes`);
  const first = dirText.subarray(0, nl < 0 ? dirText.length : nl).toString('utf8').trim();
  if (!first) throw new LogDeclarationError(`${LOG_DIR_FILE} is empty`);
  if (first.includes('\0')) throw new LogDeclarationError(`${LOG_DIR_FILE}: the path holds a NUL byte`);
  const logdir = path.resolve(serviceDir, first);
  let lines: string[] = ['t'];
  const scriptText = read(LOG_SCRIPT_FILE, LOG_SCRIPT_MAX);
  if (scriptText !== null) {
    if (scriptText.length > LOG_SCRIPT_MAX) throw new LogDeclarationError(`${LOG_SCRIPT_FILE} is larger than ${LOG_SCRIPT_MAX} bytes`);
    lines = scriptText.toString('utf8').split('\n')
      .map((l) => l.replace(/\r$/, ''))
      .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  }
  // leading option lines (-b, -l N / -lN), then directives; the logdir goes last
  const opts: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === '-b' || /^-l\s*\d+$/.test(l)) opts.push(...l.replace(/^-l\s*/, '-l ').split(' '));
    else break;
  }
  const parsed = parseLogArgs([...opts, '--', ...lines.slice(i), logdir]);
  if (!parsed) throw new LogDeclarationError(`${LOG_SCRIPT_FILE}: bad option line`);
  try {
    parseScript(parsed.script);
  } catch (e) {
    if (e instanceof ScriptError) throw new LogDeclarationError(`${LOG_SCRIPT_FILE}: ${e.message}`);
    throw e;
  }
  return { dir: path.resolve(serviceDir), logdir, script: parsed.script, lineLimit: parsed.lineLimit, blocking: parsed.blocking };
}
