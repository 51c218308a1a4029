/**
 * `vigil log [-d fd] [-q|-v] [-b] [-p] [-l n] [--] SCRIPT...` — s6-log 2.11 as a separate process: reads
 * stdin, runs the script (src/logger/engine.ts), writes logdirs. Exit 0 at the end of input or after
 * SIGTERM (unless -p) / SIGHUP once everything is written; 100 for a bad command line or script; 111 for a
 * system error at start (a logdir that cannot be created or locked).
 *
 * stdin: a pipe/fifo/socket/tty is set O_NONBLOCK and read with the shim's poll watcher + non-throwing
 * read (never the thread pool); a regular file is read synchronously (it never blocks) in multiples of
 * s6-log's 8191-byte reads, yielding to the loop between chunks so signals are seen.
 *
 * stdin is peeked, written, then taken (src/logger/feeder.ts): a SIGKILL loses no complete line, and nothing
 * is read while a logdir holds unwritten data (with or without -b).
 * Environment: VIGIL_LOG_MAX_BUFFERED=bytes caps the output waiting for a slow stdout (action 1) without -b
 * (default 16 MiB); past it, reading stops (back-pressure) instead of growing without limit as s6-log would.
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import { installReaper } from '../sys/reaper';
import { Sink } from '../sys/sink';
import { PipeFeeder } from '../logger/feeder';
import { LogEngine, READ_QUANTUM } from '../logger/engine';
import { parseLogArgs } from '../logger/args';
import { ScriptError } from '../logger/script';
import { LogdirFatal } from '../logger/logdir';
import { strerror, strerrorNum } from '../sys/errors';

const PROG = 'vigil log';
const USAGE = 'vigil log [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -- ] logging_script';

function err(line: string): void {
  try {
    fs.writeSync(2, `${PROG}: ${line}\n`);
  } catch {
    /* stderr gone: nothing to do */
  }
}

/**
 * The memory cap without -b (see engine.ts): VIGIL_LOG_MAX_BUFFERED=bytes in the environment, default 16 MiB.
 * Not an option, so that the command line stays exactly s6-log's.
 */
function maxBufferedFromEnv(): number | undefined {
  const v = process.env.VIGIL_LOG_MAX_BUFFERED;
  if (v === undefined || !/^[0-9]+$/.test(v) || Number(v) === 0) return undefined;
  return Number(v);
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  const o = parseLogArgs(argv);
  if (!o) {
    err(`usage: ${USAGE}`);
    return 100;
  }
  if (o.notif >= 0) {
    // checked before the script, as s6-log does
    if (o.notif < 3) { err('fatal: notification fd must be 3 or more'); return 100; }
    // Node opens fds of its own (epoll, eventfds, wake-up pipes with both ends here) right after 0-2: a -d fd
    // the caller did not pass may be one of them, and must never be written to and closed. (Node marks
    // every fd close-on-exec at start, so that flag cannot tell them apart.)
    let bad: unknown = null;
    try {
      const link = fs.readlinkSync(`/proc/self/fd/${o.notif}`);
      let own = link.startsWith('anon_inode:');
      if (!own && link.startsWith('pipe:')) {
        for (const f of fs.readdirSync('/proc/self/fd')) {
          if (Number(f) === o.notif) continue;
          try { if (fs.readlinkSync(`/proc/self/fd/${f}`) === link) { own = true; break; } } catch { /* closed meanwhile */ }
        }
      }
      if (own) bad = Object.assign(new Error(''), { code: 'EBADF' });
    } catch (e) {
      bad = (e as NodeJS.ErrnoException).code === 'ENOENT' ? Object.assign(new Error(''), { code: 'EBADF' }) : e;
    }
    if (bad) { err(`fatal: invalid notification fd: ${strerror(bad)}`); return 100; }
  }
  const alertPrefix = Buffer.from(`${PROG}: alert: `);
  let sink: Sink | null = null;
  let engine: LogEngine;
  let resumeInput: () => void = () => {};
  try {
    engine = new LogEngine({
      script: o.script,
      lineLimit: o.lineLimit,
      blocking: o.blocking,
      verbosity: o.verbosity,
      maxBuffered: maxBufferedFromEnv(),
      onWarning: (m) => err(`warning: ${m}`),
      onAlert: (d) => {
        try { fs.writeSync(2, Buffer.concat([alertPrefix, d])); } catch { /* as s6-log: too bad */ }
      },
      onStdout: (d) => (sink!.write(d), sink!.pending === 0),
      stdoutPending: () => (sink ? sink.pending : 0),
      onDrain: () => resumeInput(),
    });
  } catch (e) {
    if (e instanceof ScriptError) { err(`fatal: ${e.message}`); return 100; }
    if (e instanceof LogdirFatal) { err(`fatal: ${e.message}`); return 111; }
    throw e;
  }
  if (engine.script.hasStdout) {
    try { native().setNonblock(1, true); } catch { /* not fatal: a file or a tty */ }
  }
  // action `1`: never blocks the loop; the engine bounds what it holds (stdoutPending); a hard error closes fd 1
  sink = new Sink(1, {
    max: Infinity,
    onDrained: () => engine.poke(),
    onError: (errno) => {
      err(`warning: unable to write to stdout, closing the stream - error was: ${strerrorNum(errno)}`);
      try { fs.closeSync(1); } catch { /* ignore */ }
    },
  });
  installReaper();

  // signals before readiness: whoever waits for it may signal at once
  let kick: () => void = () => {};
  const onTerm = (): void => { if (!o.protect) engine.stop(); kick(); };
  const onHup = (): void => { engine.stop(); kick(); };
  const onAlrm = (): void => { engine.rotate(); };
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  process.on('SIGALRM', onAlrm);

  // readiness: logdirs are open and locked
  if (o.notif >= 0) {
    try {
      fs.writeSync(o.notif, '\n');
      fs.closeSync(o.notif);
    } catch (e) {
      err(`warning: unable to write readiness notification to fd ${o.notif}: ${strerror(e)}`);
    }
  }


  let st: fs.Stats | null = null;
  try { st = fs.fstatSync(0); } catch { st = null; }
  const isFile = st !== null && st.isFile();
  let stdinOpen = st !== null;
  let done!: () => void;
  const finished = new Promise<void>((r) => { done = r; });
  let feeder: PipeFeeder | null = null;

  const closeInput = (): void => {
    if (feeder) feeder.stop();
    if (stdinOpen) {
      stdinOpen = false;
      try { fs.closeSync(0); } catch { /* ignore */ }
    }
    done();
  };

  // a regular file never blocks: read it synchronously in multiples of s6-log's reads, yielding between
  const fileBuf = isFile ? Buffer.allocUnsafe(READ_QUANTUM * 16) : null;
  let scheduled = false;
  const pumpFile = (): void => {
    if (engine.inputClosed || !stdinOpen) { closeInput(); return; }
    if (!engine.wantsInput()) return; // onDrain comes back here
    let r: number;
    try {
      r = fs.readSync(0, fileBuf!, 0, engine.finishingLine ? 1 : fileBuf!.length, null);
    } catch (e) {
      err(`warning: unable to read from stdin: ${strerror(e)}`);
      r = 0;
    }
    if (r > 0) {
      engine.feed(fileBuf!, 0, r);
      schedule();
      return;
    }
    engine.end();
    closeInput();
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => { scheduled = false; pumpFile(); });
  };
  kick = (): void => {
    if (engine.inputClosed) closeInput();
    else if (feeder) feeder.resume();
    else if (isFile) schedule();
  };
  resumeInput = kick;

  if (!stdinOpen) {
    engine.end();
    done();
  } else if (isFile) {
    pumpFile();
  } else {
    // pipes, fifos, sockets, ttys: O_NONBLOCK + poll watcher + 8191-byte reads (src/logger/feeder.ts)
    try {
      feeder = new PipeFeeder(0, engine, {
        onDone: () => closeInput(),
        onError: (errno) => err(`warning: unable to read from stdin: ${strerrorNum(errno)}`),
      });
    } catch (e) {
      err(`fatal: unable to set stdin non-blocking: ${strerror(e)}`);
      return 111;
    }
    feeder.resume();
  }
  await finished;
  await engine.close();
  sink.stop();
  process.removeListener('SIGTERM', onTerm);
  process.removeListener('SIGHUP', onHup);
  process.removeListener('SIGALRM', onAlrm);
  return 0;
}
