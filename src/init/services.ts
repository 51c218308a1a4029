/**
 * Populating the scan directory (RUNDIR/service).
 *
 * Early services, written by init at every boot (the scandir is vigil's own: it is emptied first):
 *   s6-svscan-log/             the catch-all logger: fifo (0600), notification-fd 3, and a `run` that is a
 *                              small Node program (`#!<node>` shebang): no /bin/sh needed, which matters in
 *                              an initramfs holding only node. It opens the fifo read-only (non-blocking,
 *                              then blocking), points stdout at the console (container mode, the `1`
 *                              directive copies every line there: `docker logs` shows everything) or
 *                              /dev/null (machine), and runs `vigil log -d3 -- [1] t RUNDIR/uncaught-logs`
 *                              in the same process (no second Node start).
 *   s6-linux-init-shutdownd/   the shutdown daemon's fifo. The daemon itself lives inside PID 1
 *                              (shutdownd.ts): a separate process would cost a Node start and ~25-37 MB for
 *                              something that sleeps until shutdown. The directory holds `down` and a `run`
 *                              that only explains that, so the scanner shows it as a normally-down service.
 *   s6-linux-init-early-getty/ machine mode, when BASEDIR/early-getty holds a command line (first line, split
 *                              on blanks, no quoting; a relative program path such as ./getty.sh is taken
 *                              from BASEDIR; a bare name is searched in PATH when the service starts).
 *
 * The user's services (BASEDIR/service/NAME) are *copied* into the scandir, like s6-linux-init's run-image:
 * the basedir may be read-only (supervise/ and event/ are written next to `run`), and a copy cannot be
 * changed behind the supervisor's back by an edit of the basedir. They are copied only once the catch-all
 * logger is ready (see init.ts), so none of them can write into a fifo with no reader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';
import { SHUTDOWND_SERVICE } from './protocol';

export const LOGGER_SERVICE = 's6-svscan-log';
export const EARLY_GETTY_SERVICE = 's6-linux-init-early-getty';

/**
 * Absolute path of a compiled run program (dist/src/cli/run-*.js). Run programs are process entry points,
 * so they live with the CLI; init only names the file (no import: init stays below cli in the layering).
 */
function ours(mod: string): string {
  // dist/src/init/ (tsc's output) or dist/ (the bundle dist/vigil.js, next to dist/src/)
  const own = path.join(__dirname, '..', 'cli', mod);
  return fs.existsSync(own) ? own : path.join(__dirname, 'src', 'cli', mod);
}

/** The text of a run file that is a Node program calling `main(config)` of one of our modules. */
export function nodeRunFile(module: string, config: unknown): string {
  return `#!${process.execPath}\n'use strict';\n// written by vigil init at boot: do not edit (it is rewritten every boot)\n` +
    `require(${JSON.stringify(ours(module))}).main(${JSON.stringify(config)});\n`;
}

function writeFile(p: string, text: string, mode: number): void {
  fs.writeFileSync(p, text, { mode });
  fs.chmodSync(p, mode);
}

export interface LoggerConfig {
  fifo: string;
  /** copy the lines to the console (stdout = the console) */
  console: boolean;
  logdir: string;
}

/** a new, empty fifo at p (mode 0600), whatever was there before */
function freshFifo(p: string): string {
  try {
    fs.unlinkSync(p);
  } catch {
    /* not there */
  }
  native().mkfifo(p, 0o600);
  fs.chmodSync(p, 0o600);
  return p;
}

export function writeLoggerService(scandir: string, rundir: string, consoleCopy: boolean): string {
  const dir = path.join(scandir, LOGGER_SERVICE);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const fifo = freshFifo(path.join(dir, 'fifo'));
  writeFile(path.join(dir, 'notification-fd'), '3\n', 0o644);
  const cfg: LoggerConfig = { fifo, console: consoleCopy, logdir: path.join(rundir, 'uncaught-logs') };
  writeFile(path.join(dir, 'run'), nodeRunFile('run-catchall-log.js', cfg), 0o755);
  return fifo;
}

/**
 * A service directory that only holds a fifo for something running inside init itself: `down`, and a `run`
 * that only explains, so the scanner shows a normally-down service and nothing runs. Returns the fifo.
 */
function insideInitService(scandir: string, name: string, what: string): string {
  const dir = path.join(scandir, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const fifo = freshFifo(path.join(dir, 'fifo'));
  writeFile(path.join(dir, 'down'), '', 0o644);
  writeFile(path.join(dir, 'run'),
    `#!${process.execPath}\nprocess.stderr.write(${JSON.stringify(`vigil: ${what} runs inside vigil init (PID 1); this directory only holds its fifo\n`)});\n`, 0o755);
  return fifo;
}

/** The catch-all logger inside init (the default): its fifo where s6-linux-init has it. */
export function writeInternalLoggerDir(scandir: string): string {
  return insideInitService(scandir, LOGGER_SERVICE, 'the catch-all logger (vigil init --external-logger runs it here)');
}

export function writeShutdowndService(scandir: string): string {
  return insideInitService(scandir, SHUTDOWND_SERVICE, 'the shutdown daemon');
}

/** Machine mode: BASEDIR/early-getty = one command line; returns false when there is none. */
export function writeEarlyGetty(scandir: string, basedir: string): boolean {
  let line: string;
  try {
    line = fs.readFileSync(path.join(basedir, 'early-getty'), 'utf8').split('\n')[0].trim();
  } catch {
    return false;
  }
  if (!line) return false;
  const argv = line.split(/[ \t]+/);
  // a relative program path (./getty.sh) is BASEDIR's
  if (argv[0].includes('/') && !path.isAbsolute(argv[0])) argv[0] = path.join(basedir, argv[0]);
  const dir = path.join(scandir, EARLY_GETTY_SERVICE);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFile(path.join(dir, 'run'), nodeRunFile('run-exec.js', { argv }), 0o755);
  return true;
}

/**
 * Copy a tree: directories, regular files (mode kept), symlinks (as symlinks), fifos (re-made). Sockets and
 * devices are skipped. Owner is not kept (a non-root init cannot, and root's copy is root's).
 */
export function copyTree(src: string, dst: string): void {
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dst);
  } else if (st.isDirectory()) {
    fs.mkdirSync(dst, { mode: st.mode & 0o7777 });
    for (const name of fs.readdirSync(src)) copyTree(path.join(src, name), path.join(dst, name));
    fs.chmodSync(dst, st.mode & 0o7777);
  } else if (st.isFile()) {
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, st.mode & 0o7777);
  } else if (st.isFIFO()) {
    native().mkfifo(dst, st.mode & 0o777);
  }
}

/**
 * Copy every BASEDIR/service/NAME into the scandir (dot names skipped, names already present left alone).
 * Returns the names copied; a service that fails to copy is reported and skipped (the others go on).
 */
export function copyUserServices(basedir: string, scandir: string, warn: (m: string) => void): string[] {
  const src = path.join(basedir, 'service');
  let names: string[];
  try {
    names = fs.readdirSync(src);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`unable to read ${src}: ${(e as Error).message}`);
    return [];
  }
  const done: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const dst = path.join(scandir, name);
    if (fs.existsSync(dst)) {
      warn(`service ${name}: a service of that name already exists in ${scandir}: not copied`);
      continue;
    }
    try {
      const real = path.join(src, name);
      if (!fs.statSync(real).isDirectory()) continue;
      // a symlinked service dir is copied as its target's content
      copyTree(fs.realpathSync(real), dst);
      done.push(name);
    } catch (e) {
      warn(`service ${name}: unable to copy it into ${scandir}: ${(e as Error).message}`);
      try {
        fs.rmSync(dst, { recursive: true, force: true });
      } catch {
        /* leave it */
      }
    }
  }
  return done;
}
