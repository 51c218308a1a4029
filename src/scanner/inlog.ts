/**
 * In-supervisor logging for the scanner: services that declare `log-dir` (and have no `log/`) get their stdout
 * written to a logdir by the scanner process itself — no logger process, no supervisor process per service.
 * The declaration (log-dir, log-script) is described in src/logger/declaration.ts and src/logger/README.md.
 *
 *   const inlog = new InLog({ log, copyFd? });     // copyFd: also copy every line, "[name] line", there
 *   new Scanner({ ..., ...inlog.scannerHooks(), onStopped: (how) => inlog.closeAll().then(...) });
 *   inlog.rotate()                                   // s6-log's SIGALRM for every in-supervisor logdir
 *
 * "Loses nothing", as s6-svscan's pipe between a service and its log/ (s6-protocol.md §8.5):
 * - At first discovery of the service the scanner makes a pipe and keeps BOTH ends for the service's life.
 *   Every start of the service gets a dup of the write end as fd 1; the read end is read here. A service that
 *   dies (SIGKILL included) and restarts writes into the same pipe: what it wrote before dying is still in the
 *   pipe or already in the logdir, and nobody ever sees EOF or EPIPE.
 * - One uv_poll watcher per logged service, only while its engine wants input; an idle logged service costs
 *   the engine (≈4.9 kB heap), two pipe fds and the logdir's lock + current fds — no timer, no wake-up.
 * - Taken through the spool (src/logger/feeder.ts, spool.ts): bytes leave the pipe only into the logdir's
 *   spool file (one splice), and are marked applied only once written, so a re-exec of the supervisor (or its
 *   death) at any instant leaves every byte in the pipe or in the spool, and the next engine writes what is
 *   not known to be written again after cutting `current` back — nothing lost, nothing doubled.
 * - A stuck logdir (disk full, EIO): the engine stops reading at once, so the pipe fills and the service
 *   blocks in write(2): back-pressure, not loss, not growth.
 *   The warning (one line, naming the service) comes from the engine, which retries every `r` ms.
 * - Stop: the scanner brings the services down first; then closeAll() reads each pipe until it is empty
 *   (EAGAIN — no EOF needed, so a leaked grandchild holding the write end cannot hang it), ends the engine
 *   (a partial last line is dropped, as s6-log at EOF), waits until everything is written, fsyncs and
 *   chmods `current` 0744 (clean close) and closes the pipe.
 * - An inactive service whose supervision ended (its directory was removed from the scan dir) is drained
 *   and closed the same way (onForget).
 * - A bad declaration (empty log-dir, a log-script directive s6-log refuses, a logdir that cannot be made or
 *   locked): one line `vigil: warning: NAME: ... - running it unlogged`; the service then gets the scanner's
 *   default stdout and nothing else is disturbed. A service with both log/ and log-dir keeps log/ (s6
 *   semantics) and the warning says log-dir is ignored.
 *
 * The copy (`vigil svscan -L`, `vigil init --log-copy`: for `docker logs`): every logged line, without stamps,
 * prefixed `[name] `, is written to copyFd through a fresh non-blocking description of it. A stdout that does
 * not keep up never blocks the loop nor the logdir: at most copyMax bytes (1 MiB) wait, newer lines are
 * dropped and counted, and once stdout drains one line `[vigil] N lines were not copied here (stdout too slow)`
 * is written there (and a warning on stderr). The logdir copy is the one that never loses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';
import { closeQuiet, reopenFdEx } from '../sys/fds';
import { Sink } from '../sys/sink';
import { LogEngine } from '../logger/engine';
import { PipeFeeder } from '../logger/feeder';
import { mkdirParents } from '../sys/mkdir';
import { LogDeclaration, LogDeclarationError, readLogDeclaration, SERVICE_MAX_BUFFERED } from '../logger/declaration';

export const COPY_MAX_DEFAULT = 1 << 20;

/** the in-supervisor loggers a re-exec carries over (plain data; the pipe by fd number) */
export type InLogState = Array<{ key: string; name: string; decl: LogDeclaration; r: number; w: number }>;

export interface InLogOptions {
  /** where warning lines go (the scanner's log) */
  log: (line: string) => void;
  /** copy every logged line, prefixed "[name] ", to this fd (reopened as a fresh non-blocking description) */
  copyFd?: number;
  /** bytes of copy that may wait for a slow copyFd before lines are dropped (default 1 MiB) */
  copyMax?: number;
  /** per-service cap on stdout output (the -L copy) waiting (default 256 KiB) */
  maxBuffered?: number;
}

/**
 * `vigil svscan`/`init` run with V8's optimizing compiler off (src/cli/main.ts: a syscall-bound supervisor
 * keeps ~2 MB less). Logging is the one CPU-bound job of the supervisor — per-line work, 3x slower without
 * TurboFan on 80-byte lines — so the first in-supervisor logger turns the optimizer back on.
 */
let optimizerOn = false;
function needOptimizer(): void {
  if (optimizerOn) return;
  optimizerOn = true;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--opt');
}

/** One logged service: the pipe (both ends held), the engine, the feeder. */
class Logged {
  readonly engine: LogEngine;
  readonly feeder: PipeFeeder;
  private closing: Promise<void> | null = null;

  constructor(readonly name: string, readonly decl: LogDeclaration, readonly r: number, readonly w: number, owner: InLog) {
    let script = decl.script;
    if (owner.copy) script = [...script, '+^', `p[${name}]`, '1'];
    // parents one level at a time, never into /proc, /sys, /dev: a MkdirError names the culprit
    mkdirParents(path.dirname(decl.logdir));
    const copy = owner.copy;
    needOptimizer();
    this.engine = new LogEngine({
      script,
      lineLimit: decl.lineLimit,
      blocking: decl.blocking,
      maxBuffered: owner.maxBuffered,
      cwd: decl.dir,
      onWarning: (m) => owner.warn(`${name}: ${m}`),
      onAlert: (d) => owner.warn(`${name}: alert: ${d.toString('utf8').replace(/\n$/, '')}`),
      // the copy never pushes back: a slow stdout drops copies, never logdir lines
      onStdout: copy ? (d) => (copy.write(d), true) : undefined,
      onDrain: () => this.feeder.resume(),
    });
    try {
      this.feeder = new PipeFeeder(r, this.engine, {
        onError: (errno) => owner.warn(`${name}: unable to read the service's output: errno ${-errno}`),
      });
    } catch (e) {
      this.engine.abandon();
      throw e;
    }
    this.feeder.resume();
  }

  /**
   * take what the pipe holds now (the feeder's way: through the spool), write it all, close the logdir
   * cleanly, close the pipe
   */
  drain(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.feeder.drain().then(() => this.engine.close()).then(() => {
      closeQuiet(this.r);
      closeQuiet(this.w);
    });
    return this.closing;
  }
}

export class InLog {
  readonly copy: Sink | null = null;
  readonly maxBuffered: number;
  private readonly byKey = new Map<string, Logged>();
  private readonly closing = new Set<Promise<void>>();
  private readonly logLine: (line: string) => void;

  constructor(opts: InLogOptions) {
    this.logLine = opts.log;
    this.maxBuffered = opts.maxBuffered ?? SERVICE_MAX_BUFFERED;
    if (opts.copyFd !== undefined) {
      let fd = -1;
      let shared = false;
      try {
        const [d, fresh] = reopenFdEx(opts.copyFd, true, true);
        fd = d;
        shared = !fresh;
      } catch {
        fd = -1;
      }
      if (fd >= 0) this.copy = copySink(fd, opts.copyMax ?? COPY_MAX_DEFAULT, (m) => this.warn(m), shared);
      else this.warn(`unable to open fd ${opts.copyFd} for the log copy - no copy`);
    }
  }

  warn(msg: string): void {
    this.logLine(`vigil: warning: ${msg}`);
  }

  /** the Scanner options that wire this in (spread them into the ScannerOptions) */
  scannerHooks(): {
    onDiscover: (name: string, dir: string, key: string, hasLogSubdir: boolean) => void;
    stdoutFor: (name: string, dir: string, key: string) => number | undefined;
    onForget: (name: string, dir: string, key: string) => void;
  } {
    return {
      onDiscover: (name, dir, key, hasLog) => this.discover(name, dir, key, hasLog),
      stdoutFor: (_name, _dir, key) => this.byKey.get(key)?.w,
      onForget: (_name, _dir, key) => this.forget(key),
    };
  }

  /** first discovery: read the declaration, make the pipe, open and lock the logdir, start reading */
  discover(name: string, dir: string, key: string, hasLogSubdir: boolean): void {
    if (this.byKey.has(key)) return; // rediscovered while active: same pipe, same logger
    let decl: LogDeclaration | null;
    try {
      decl = readLogDeclaration(dir);
    } catch (e) {
      if (hasLogSubdir) return this.warn(`${name}: has both log/ and log-dir: log/ is used, log-dir is ignored`);
      const msg = e instanceof LogDeclarationError ? e.message : (e as Error).message;
      return this.warn(`${name}: ${msg} - running it unlogged`);
    }
    if (!decl) return;
    if (hasLogSubdir) return this.warn(`${name}: has both log/ and log-dir: log/ is used, log-dir is ignored`);
    let fds: [number, number];
    try {
      fds = native().pipe(false);
    } catch (e) {
      return this.warn(`${name}: unable to create the log pipe: ${(e as NodeJS.ErrnoException).code} - running it unlogged`);
    }
    try {
      this.byKey.set(key, new Logged(name, decl, fds[0], fds[1], this));
    } catch (e) {
      closeQuiet(fds[0]);
      closeQuiet(fds[1]);
      const msg = ((e as Error).message || String(e)).split('\n')[0];
      this.warn(`${name}: log-dir ${decl.logdir}: ${msg} - running it unlogged`);
    }
  }

  /** an inactive service was dropped: drain and close its logger */
  forget(key: string): void {
    const l = this.byKey.get(key);
    if (!l) return;
    this.byKey.delete(key);
    const p = l.drain().catch((e) => this.warn(`${l.name}: closing the logdir: ${(e as Error).message}`));
    this.closing.add(p);
    void p.then(() => this.closing.delete(p));
  }

  /**
   * What a re-exec carries over (the scanner's handover()): per logged service its declaration and the two
   * pipe fds (kept open across execve), so the next image reads on from the same pipe. Bytes fed but not yet
   * consumed are settled first where they can be (written bytes leave the pipe); what stays unwritten stays
   * in the pipe and is read again by the next image. Each idle logdir's current is marked cleanly closed, so
   * the next image appends to it. Loggers still draining (services forgotten) are not
   * carried: their services are gone.
   */
  handover(): { state: InLogState; fds: number[] } {
    const state: InLogState = [];
    const fds: number[] = [];
    for (const [key, l] of this.byKey) {
      try {
        l.feeder.settle();
        // current closed as cleanly as at a stop: the next image appends to it (no archive per re-exec)
        l.engine.markClean();
      } catch {
        /* what is unsettled is read again from the pipe; an unclean current is archived as s6-log does */
      }
      state.push({ key, name: l.name, decl: l.decl, r: l.r, w: l.w });
      fds.push(l.r, l.w);
    }
    return { state, fds };
  }

  /** After a re-exec: take the logged services back (before the scanner's start(), which asks stdoutFor). */
  resume(state: InLogState): void {
    for (const s of state) {
      try {
        this.byKey.set(s.key, new Logged(s.name, s.decl, s.r, s.w, this));
      } catch (e) {
        // the logdir cannot be taken again: as at discovery, the service runs unlogged (its next start gets
        // the default stdout; the running one sees EPIPE rather than a pipe nobody reads)
        closeQuiet(s.r);
        closeQuiet(s.w);
        const msg = ((e as Error).message || String(e)).split('\n')[0];
        this.warn(`${s.name}: log-dir ${s.decl.logdir}: ${msg} - running it unlogged after the re-exec`);
      }
    }
  }

  /** s6-log's SIGALRM for every in-supervisor logdir (or only NAME's); returns how many engines */
  rotate(name?: string): number {
    let k = 0;
    for (const l of this.byKey.values()) {
      if (name !== undefined && l.name !== name) continue;
      try {
        l.engine.rotate();
        k++;
      } catch (e) {
        this.warn(`${l.name}: rotation: ${(e as Error).message}`);
      }
    }
    return k;
  }

  /**
   * Drain every logger (call it once the services are down: the scanner's onStopped), then let the copy
   * settle (at most copySettleMs). Resolves when every logdir is closed cleanly.
   */
  async closeAll(copySettleMs = 2000): Promise<void> {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.all([
      ...all.map((l) => l.drain().catch((e) => this.warn(`${l.name}: closing the logdir: ${(e as Error).message}`))),
      ...this.closing,
    ]);
    if (this.copy) {
      await this.copy.settle(copySettleMs);
      this.copy.close();
    }
  }

  get size(): number {
    return this.byKey.size;
  }
}

/** The bounded, non-blocking copy to stdout: a slow stdout drops copies (counted, then reported there). */
export function copySink(fd: number, max: number, warn: (m: string) => void, sharedSocket = false): Sink {
  const sink: Sink = new Sink(fd, {
    max,
    // a socket's description is shared (it cannot be re-opened): never made non-blocking, send(MSG_DONTWAIT)
    dontWait: sharedSocket,
    onError: (errno) => warn(`unable to copy log lines to fd ${fd}: errno ${-errno} - copy disabled`),
    onDropped: (k) => {
      warn(`${k} log lines were not copied to stdout (stdout too slow); they are in the logdirs`);
      sink.write(`[vigil] ${k} lines were not copied here (stdout too slow); they are in the logdirs\n`);
    },
  });
  return sink;
}


