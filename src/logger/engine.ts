/**
 * The logging engine: s6-log's behaviour as a library, used by `vigil log` (one process reading stdin) and
 * by the supervisor (logging inside the supervisor process, one engine per logged service).
 *
 * The engine owns no process-wide state: no signal handlers, no stdin, no process.exit. The caller feeds
 * bytes and turns signals into method calls:
 *
 *   const eng = new LogEngine({ script: ['t', 's1000000', 'n20', '/var/log/foo'], onWarning, onAlert, ... });
 *                                  // parses the script (ScriptError → exit 100) and opens/locks every logdir
 *                                  // (LogdirFatal → exit 111); then the logdirs are ready (-d readiness)
 *   eng.feed(chunk)                // bytes read from the service; returns how many were taken (all of them,
 *                                  // except after stop() while finishing the last line)
 *   eng.wantsInput()               // false: stop reading (back-pressure); opts.onDrain() fires when it is true again
 *   eng.rotate()                   // SIGALRM
 *   eng.stop()                     // SIGTERM (without -p) / SIGHUP: finish the current line, then no more input
 *   eng.end()                      // EOF: a partial last line is dropped (or, after stop(), logged)
 *   await eng.close()              // wait until every byte is written and rotations/processors are done,
 *                                  // then fsync + chmod 0744 each current, unlock; resolves once finished
 *   eng.abandon()                  // drop everything now (no finalize): a supervisor that gives up a logdir
 *
 * Lines: a line ends at '\n' or NUL (s6-log 2.11 treats both as separators), the separator is removed and
 * each action adds '\n'. A line longer than lineLimit bytes is cut after lineLimit bytes and the rest is a
 * new line; a line of exactly lineLimit bytes followed by its separator is not cut (needs lineLimit+1 bytes
 * to decide, as s6-log).
 *
 * Reads are modelled on s6-log, which reads stdin in 8191-byte pieces and writes each piece's output before
 * handling the next: the engine cuts every feed() into READ_QUANTUM slices and marks each logdir's queue at
 * slice ends; a logdir writes all it can in one write() but rotates at the first mark where s6-log would,
 * so for the same input (read from a file) the files match s6-log's byte for byte (stamps aside). Stamps
 * (t, T) are taken once per slice: every line of a slice was received at the same time.
 *
 * Memory bound ("never lose, never balloon"):
 * - Logdirs: wantsInput() is false while any logdir holds unwritten output (with or without -b), so what
 *   was taken from the input and not yet written is at most one feed() (≤ READ_QUANTUM bytes from a
 *   feeder) plus the partial line (≤ lineLimit) — the pipe, held by the supervisor, is the buffer. A stuck
 *   logdir (full disk) stops the reading at once: the pipe fills and the writer blocks. s6-log keeps reading
 *   into memory then; vigil deliberately does not (what a killed logger holds is what it loses).
 * - stdout (action 1): with -b nothing is read while stdout holds unwritten output; without -b up to
 *   maxBuffered bytes (default 16 MiB per engine, option) may wait for a slow stdout, then the same
 *   back-pressure. s6-log would grow without limit.
 * - lineLimit 0 (no limit): the partial line is also capped at maxBuffered; beyond that the line is cut
 *   (the only case where vigil splits a line s6-log would not).
 * A stuck logdir (ENOSPC, EIO, rotation step failing, processor failing) has ONE retry timer (r ms); a
 * healthy or idle engine has no timer and no buffer (see outqueue.ts).
 */
import * as fs from 'node:fs';
import { realtimeNs, tainFromUnixNs, tainPack } from '../formats/tai64n';
import { ActType, Action, parseScript, Script, SelType, STAMP_ISO, STAMP_TAI } from './script';
import { Logdir, LogdirFatal, RotState } from './logdir';
import { OutQueue } from './outqueue';
import { Spool, SpoolMark, SPOOL_MAX_LOGDIRS } from './spool';
import { EAGAIN, EINVAL, strerror, strerrorNum } from '../sys/errors';

export { ScriptError } from './script';
export { LogdirFatal } from './logdir';

/** s6-log reads stdin into a 8192-byte circular buffer: at most 8191 bytes per read. */
export const READ_QUANTUM = 8191;
/** a read when no rotation is near (see readSize()) */
export const BIG_READ = 65536;
export const DEFAULT_LINE_LIMIT = 8192;
export const MIN_LINE_LIMIT = 48;
export const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;

export interface LogEngineOptions {
  /** the script, as argv directives (parsed here), or an already parsed one */
  script: string[] | Script;
  /** -l: 0 = none; values below 48 become 48; default 8192 */
  lineLimit?: number;
  /** -b */
  blocking?: boolean;
  /** 0: alerts only; 1 (default): warnings too */
  verbosity?: number;
  /** the cap on buffered output without -b (see the header) */
  maxBuffered?: number;
  /** directory relative logdirs and =FILE paths are resolved against (default process.cwd()) */
  cwd?: string;
  /** warnings, without the program prefix (e.g. "unable to write to ./d/current: No space left on device") */
  onWarning?: (msg: string) => void;
  /** action 2: the alert body (stamps, prefix, first E bytes of the line, '\n' or '...\n') without "PROG: alert: " */
  onAlert?: (data: Buffer) => void;
  /**
   * action 1: the bytes for stdout, one call per feed(). Return false if the sink now holds unwritten data;
   * call engine.poke() when it drained. Absent: `1` actions write nothing.
   */
  onStdout?: (data: Buffer) => boolean;
  /** bytes the stdout sink still holds (counts for -b and the cap) */
  stdoutPending?: () => number;
  /** wantsInput() went from false to true */
  onDrain?: () => void;
}

const NL = 10;
/** stamp scratch, shared by every engine (copied into each action's head at once) */
const taiText = Buffer.alloc(26, 0x20);
const isoText = Buffer.alloc(31, 0x20);
const NO_BYTES = Buffer.alloc(0);

export class LogEngine {
  readonly script: Script;
  readonly logdirs: Logdir[];
  private readonly lineLimit: number;
  private readonly blocking: boolean;
  private readonly verbosity: number;
  private readonly maxBuffered: number;
  private readonly cwd: string;
  private readonly opts: LogEngineOptions;

  /** the partial line waiting for its separator */
  private part: Buffer = NO_BYTES;
  private partLen = 0;
  /** stdout bytes of the current feed */
  private readonly out1 = new OutQueue();
  /** per action: [tai stamp + ' '][iso stamp + '  '][prefix] */
  private readonly heads: Buffer[];
  private readonly headStampLen: number[];
  private readonly acts: Action[];
  private stampsValid = false;
  /** no NUL byte in the chunk being fed: only '\n' ends lines */
  private noNul = true;

  /** the spool (spool.ts): input taken from a pipe lives there until its output is in every logdir */
  private spool: Spool | null = null;
  /** taking from a pipe through the spool (useSpool() said yes) */
  private spooling = false;
  /** spooled input is being written: the spool's header is not yet settled */
  private held = false;
  /** bytes at the end of the spool that the engine did not take (a stopped line's last feed) */
  private spoolLeft = 0;
  /** the spool's region is still to be fed again (refeed()) */
  private refeedDue = false;
  /** feed() is called by feedSpooled() */
  private fromSpool = false;
  /** the spool could not be written to: the retry timer */
  private spoolRetry: NodeJS.Timeout | null = null;

  private finishing = false;
  private inputDone = false;
  private closing = false;
  private closed = false;
  private closeWaiters: Array<() => void> = [];
  private wasBlocked = false;

  constructor(opts: LogEngineOptions) {
    this.opts = opts;
    this.script = Array.isArray(opts.script) ? parseScript(opts.script) : opts.script;
    const ll = opts.lineLimit ?? DEFAULT_LINE_LIMIT;
    this.lineLimit = ll === 0 ? 0 : Math.max(ll, MIN_LINE_LIMIT);
    this.blocking = opts.blocking ?? false;
    this.verbosity = opts.verbosity ?? 1;
    this.maxBuffered = opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.cwd = opts.cwd ?? process.cwd();
    this.acts = [];
    for (const g of this.script.groups) for (const a of g.acts) this.acts.push(a);
    this.heads = [];
    this.headStampLen = [];
    for (const a of this.acts) {
      const sl = (a.stamps & STAMP_TAI ? 26 : 0) + (a.stamps & STAMP_ISO ? 31 : 0);
      const h = Buffer.alloc(sl + (a.prefix ? a.prefix.length : 0));
      if (a.prefix) a.prefix.copy(h, sl);
      this.heads.push(h);
      this.headStampLen.push(sl);
    }
    const host = {
      warn: (m: string) => this.warn(m),
      changed: () => this.poke(),
    };
    this.logdirs = [];
    let refeed = 0;
    try {
      for (const spec of this.script.logdirs) {
        const ld = new Logdir(spec, host, this.cwd);
        ld.lock();
        this.logdirs.push(ld);
      }
      refeed = this.repairFromSpool();
      for (const ld of this.logdirs) ld.recoverOrDie();
    } catch (e) {
      for (const ld of this.logdirs) ld.close();
      this.spool?.close();
      this.spool = null;
      throw e;
    }
    // fed on first use (useSpool, wantsInput, feed, end, close): the owner's callbacks (onStdout...) may
    // not be ready while it constructs the engine
    this.refeedDue = refeed > 0;
  }

  // ---- the spool (spool.ts; README.md: "A killed logger loses nothing and doubles nothing") -------------

  /**
   * Start-up, logdirs locked, before their recovery: a spool left with input whose output may be partly
   * written (a SIGKILL between taking and settling) has every `current` its header names cut back to where that
   * output began. Returns the bytes to feed again (refeed(), once the logdirs are open).
   */
  private repairFromSpool(): number {
    if (this.logdirs.length === 0 || this.logdirs.length > SPOOL_MAX_LOGDIRS) return 0;
    const first = this.logdirs[0];
    let sp: Spool | null;
    try {
      sp = Spool.open(first.dir, false);
    } catch (e) {
      throw new LogdirFatal(`unable to open ${first.name}/spool: ${strerror(e)}`);
    }
    if (!sp) return 0;
    this.spool = sp;
    if (sp.damaged) this.warn(`${first.name}/spool: no valid header, its ${sp.size} bytes are ignored`);
    if (sp.pending === 0) return 0;
    const marks = sp.header.marks;
    for (let i = 0; i < marks.length && i < this.logdirs.length; i++) this.logdirs[i].cutBack(marks[i]);
    return sp.pending;
  }

  /** feed the spool's region again (start-up after a crash): its output goes to the fresh currents */
  private refeed(): void {
    this.refeedDue = false;
    const sp = this.spool;
    if (!sp || this.closed) return;
    // the header names the fresh currents before anything is written to them (the one it named was cut back
    // and archived: it holds none of the region's output), so a kill during this refeed is repaired as well
    try {
      sp.mark(sp.header.start, this.marks());
    } catch (e) {
      if (!this.spoolRetry) this.spoolStuck(strerror(e));
      this.refeedDue = true;
      return;
    }
    const buf = Buffer.allocUnsafe(BIG_READ);
    this.holdAll(true);
    let pos = sp.header.start;
    while (pos < sp.size) {
      let n = 0;
      try {
        n = sp.read(buf, 0, Math.min(BIG_READ, sp.size - pos), pos);
      } catch (e) {
        this.warn(`unable to read ${this.logdirs[0].name}/spool: ${strerror(e)} - ${sp.size - pos} bytes of it are not logged`);
      }
      if (n <= 0) {
        sp.size = pos; // what could not be read is given up (the settle below says so)
        break;
      }
      this.feedSpooled(buf, n);
      pos += n;
    }
    this.settle();
  }

  private holdAll(on: boolean): void {
    this.held = on;
    for (const ld of this.logdirs) ld.held = on;
  }

  private marks(): SpoolMark[] {
    return this.logdirs.map((ld) => ({ dev: ld.dev, ino: ld.ino, s0: ld.b }));
  }

  private marksCurrent(): boolean {
    const m = this.spool!.header.marks;
    if (m.length !== this.logdirs.length) return false;
    for (let i = 0; i < m.length; i++) {
      const ld = this.logdirs[i];
      if (m[i].s0 !== ld.b || m[i].ino !== ld.ino || m[i].dev !== ld.dev) return false;
    }
    return true;
  }

  /**
   * Take input from a pipe through the spool (feedFromPipe). false: not possible here (no logdir, too many,
   * or the spool cannot be created: a warning) — the caller reads the pipe another way.
   */
  useSpool(): boolean {
    if (this.refeedDue) this.refeed();
    if (this.spooling) return true;
    if (this.logdirs.length === 0 || this.logdirs.length > SPOOL_MAX_LOGDIRS || this.closed) return false;
    try {
      if (!this.spool) this.spool = Spool.open(this.logdirs[0].dir, true)!;
    } catch (e) {
      this.warn(`unable to create ${this.logdirs[0].name}/spool: ${strerror(e)}`);
      return false;
    }
    this.spooling = true;
    // the header is written before the first take (feedFromPipe): a full disk now is retried there
    return true;
  }

  /** the spool could not take input here (EINVAL: this file system cannot splice) — stop using it */
  dropSpool(): void {
    this.spooling = false;
  }

  get spoolOn(): boolean {
    return this.spooling;
  }

  /**
   * Move up to len bytes from pipe fd into the spool (one splice(2)), then feed them (buf: scratch of at least
   * len bytes). Call only when wantsInput(). Returns the bytes taken, 0 at EOF, or a negative errno: -EAGAIN
   * (empty, or the spool is stuck: a warning and a retry after r ms), -EINVAL (not a pipe, or no splice on this
   * file system: the caller reads another way).
   */
  feedFromPipe(fd: number, len: number, buf: Buffer): number {
    const sp = this.spool!;
    try {
      if (sp.stale || !this.marksCurrent()) sp.mark(sp.size - sp.pending, this.marks());
    } catch (e) {
      this.spoolStuck(strerror(e));
      return -EAGAIN;
    }
    const r = sp.take(fd, len);
    if (r <= 0) {
      if (r < 0 && r !== -EAGAIN && r !== -EINVAL) {
        this.spoolStuck(strerrorNum(-r));
        return -EAGAIN;
      }
      return r;
    }
    this.holdAll(true);
    const got = sp.read(buf, 0, r, sp.size - r);
    if (got !== r) throw new Error(`vigil: internal error: spooled ${r} bytes, read back ${got}`);
    this.feedSpooled(buf, r);
    this.settle();
    return r;
  }

  private feedSpooled(buf: Buffer, n: number): void {
    this.fromSpool = true;
    try {
      const took = this.feed(buf, 0, n);
      this.spoolLeft += n - took;
    } finally {
      this.fromSpool = false;
    }
  }

  /**
   * Input that does not come through the spool (a file, a socket, the peek fallback) while the spool still
   * holds a partial line (fed again at start-up): from now on that line lives in memory only, as it would
   * have without a spool — the spool lets it go, so that a later start cannot feed it a second time.
   */
  private releaseSpool(): void {
    const sp = this.spool!;
    try {
      sp.mark(sp.size, this.marks());
    } catch (e) {
      this.warn(`unable to write to ${this.logdirs[0].name}/spool: ${strerror(e)}`);
    }
  }

  private spoolStuck(why: string): void {
    this.warn(`unable to write to ${this.logdirs[0].name}/spool: ${why}`);
    if (this.spoolRetry) return;
    this.spoolRetry = setTimeout(() => {
      this.spoolRetry = null;
      this.poke();
    }, this.logdirs[0].spec.retryMs);
  }

  /**
   * Every logdir has written the spooled input's output: the header says so (the region now starts at the
   * partial line, or past what a stopped engine did not take), then the rotations that waited run, then the
   * header names the currents they opened.
   */
  private settle(): void {
    if (!this.held || !this.logdirsWritten()) return;
    const sp = this.spool!;
    const start = sp.size - this.partLen - this.spoolLeft;
    try {
      sp.mark(start, this.marks());
    } catch (e) {
      this.spoolStuck(strerror(e));
      return;
    }
    this.holdAll(false);
    this.rotateDue();
    try {
      sp.compactIfBig(this.marks());
      if (!this.marksCurrent()) sp.mark(sp.header.start, this.marks());
    } catch (e) {
      this.warn(`unable to write to ${this.logdirs[0].name}/spool: ${strerror(e)}`);
    }
  }

  /** the input ended (or the engine closes): a partial line the spool still holds is dropped, as s6-log drops it */
  private dropTail(): void {
    const sp = this.spool;
    if (!sp || this.held || this.partLen !== 0 || this.spoolLeft !== 0 || sp.pending === 0 || this.closed) return;
    try {
      sp.mark(sp.size, this.marks());
    } catch (e) {
      this.warn(`unable to write to ${this.logdirs[0].name}/spool: ${strerror(e)}`);
    }
  }

  private warn(msg: string): void {
    if (this.verbosity >= 1 && this.opts.onWarning) this.opts.onWarning(msg);
  }

  // ---- stamps ---------------------------------------------------------------------------------------

  private refreshStamps(): void {
    const ns = realtimeNs();
    if (this.script.wantTai) {
      const t = tainFromUnixNs(ns);
      const p = tainPack(t);
      taiText[0] = 0x40;
      taiText.write(p.toString('hex'), 1, 'latin1');
      taiText[25] = 0x20;
    }
    if (this.script.wantIso) {
      const ms = Number(ns / 1000000n);
      const d = new Date(ms);
      const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));
      const s = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(ns % 1000000000n).padStart(9, '0')}  `;
      isoText.write(s, 0, 'latin1');
    }
    for (let i = 0; i < this.acts.length; i++) {
      const st = this.acts[i].stamps;
      if (!st) continue;
      const h = this.heads[i];
      let o = 0;
      if (st & STAMP_TAI) { taiText.copy(h, 0); o = 26; }
      if (st & STAMP_ISO) isoText.copy(h, o);
    }
    this.stampsValid = true;
  }

  // ---- input ----------------------------------------------------------------------------------------

  /** stop() came while a line was half read: the caller should now read one byte at a time */
  get finishingLine(): boolean {
    return this.finishing;
  }

  /** true once no more input will be taken (after end(), or stop() and the last line). */
  get inputClosed(): boolean {
    return this.inputDone;
  }

  /**
   * How many bytes the next read should take. s6-log reads 8191 bytes at a time; reading more per read()
   * is faster, and equivalent as long as no rotation falls inside the read (feed() cuts it into 8191-byte
   * slices and rotates at slice ends anyway). So: BIG_READ while every logdir is far from rotating, else
   * READ_QUANTUM — which also keeps what a SIGKILL can lose (read but not yet written) small when
   * rotations (and their fsyncs) sit between read and write.
   */
  readSize(): number {
    if (this.finishing) return 1;
    for (const ld of this.logdirs) {
      const sp = ld.spec;
      if (ld.b + sp.tolerance + BIG_READ * 4 >= sp.s || !ld.idle()) return READ_QUANTUM;
    }
    return BIG_READ;
  }

  /** Bytes waiting to be written (all logdirs + stdout). */
  buffered(): number {
    let n = this.out1.length + (this.opts.stdoutPending ? this.opts.stdoutPending() : 0);
    for (const ld of this.logdirs) n += ld.q.length;
    return n;
  }

  /** Every logdir has written all it was given (stdout and alerts aside): the input fed so far is on disk. */
  logdirsWritten(): boolean {
    for (const ld of this.logdirs) if (ld.q.length) return false;
    return true;
  }

  /**
   * The bytes fed so far are now consumed from the input (a peeking feeder took them out of the pipe): run the
   * rotations that fell due after their write. With deferRotations set, a logdir that reaches its size after a
   * write waits for this call (or its next write) before it rotates, so the rotation's fsync never sits between
   * a write and the consumption of its input.
   */
  commit(): void {
    this.rotateDue();
    this.poke();
  }

  private rotateDue(): void {
    for (const ld of this.logdirs) {
      if (!ld.rotationDue) continue;
      try {
        ld.flush();
      } catch (e) {
        this.warn(`unexpected error in logdir ${ld.name}: ${strerror(e)}`);
      }
    }
  }

  /** See commit(). Set by a peeking feeder. */
  set deferRotations(on: boolean) {
    for (const ld of this.logdirs) ld.deferRotation = on;
  }

  /** Should the caller read more input now? */
  wantsInput(): boolean {
    if (this.refeedDue) this.refeed();
    if (this.inputDone || this.closed) return false;
    const ok = this.canTake();
    if (!ok) this.wasBlocked = true;
    return ok;
  }

  /** nothing unwritten in any logdir, and stdout within its bound (empty with -b, under the cap without) */
  private canTake(): boolean {
    if (!this.logdirsWritten()) return false;
    if (this.held || this.spoolRetry) return false;
    if (this.spooling) for (const ld of this.logdirs) if (!ld.currentFixed()) return false;
    const n = this.buffered();
    return this.blocking ? n === 0 : n < this.maxBuffered;
  }

  /**
   * Take input bytes. Returns how many were consumed: all of them, except while finishing the last line
   * after stop() (then the bytes after that line are left for the next reader). The engine keeps no
   * reference to `chunk`.
   */
  feed(chunk: Uint8Array, start = 0, end = chunk.length): number {
    if (this.refeedDue && !this.fromSpool) this.refeed();
    if (this.inputDone || this.closed) return 0;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.spool && !this.fromSpool && !this.held && this.spool.pending > 0) this.releaseSpool();
    if (this.finishing) return this.feedLast(buf, start, end);
    let off = start;
    const z = buf.indexOf(0, start);
    this.noNul = z === -1 || z >= end;
    this.stampsValid = false;
    while (off < end) {
      const sliceEnd = Math.min(end, off + READ_QUANTUM);
      if (!this.stampsValid && (this.script.wantTai || this.script.wantIso)) this.refreshStamps();
      this.split(buf, off, sliceEnd);
      off = sliceEnd;
      this.endSlice();
    }
    this.flushAll();
    return end - start;
  }

  private endSlice(): void {
    for (const ld of this.logdirs) ld.q.mark();
    this.stampsValid = false;
  }

  /** Cut buf[s, e) into lines; the tail goes to `part`. */
  private split(buf: Buffer, s: number, e: number): void {
    const L = this.lineLimit;
    let pos = s;
    if (this.partLen > 0) {
      // complete the pending line first
      const room = L ? L - this.partLen : Infinity; // bytes the line may still take
      const look = Math.min(e, room === Infinity ? e : pos + room + 1);
      const sep = findSep(buf, pos, look, this.noNul);
      if (sep >= 0) {
        this.appendPart(buf, pos, sep);
        this.line(this.part, 0, this.partLen);
        this.partLen = 0;
        pos = sep + 1;
      } else if (L && this.partLen + (e - pos) > L) {
        this.appendPart(buf, pos, pos + room);
        this.line(this.part, 0, this.partLen);
        this.partLen = 0;
        pos += room;
      } else {
        this.appendPart(buf, pos, e);
        this.capPart();
        return;
      }
    }
    let nl = -2; // cached next '\n' (-1 = none left)
    let nul = this.noNul ? -1 : -2; // cached next NUL
    while (pos < e) {
      if (nl !== -1 && nl < pos) { nl = buf.indexOf(NL, pos); if (nl >= e) nl = -1; }
      if (nul !== -1 && nul < pos) { nul = buf.indexOf(0, pos); if (nul >= e) nul = -1; }
      const sep = nl === -1 ? nul : nul === -1 ? nl : nl < nul ? nl : nul;
      if (L) {
        if (sep === -1) {
          if (e - pos > L) { this.line(buf, pos, pos + L); pos += L; continue; }
          break;
        }
        if (sep - pos > L) { this.line(buf, pos, pos + L); pos += L; continue; }
      } else if (sep === -1) break;
      this.line(buf, pos, sep);
      pos = sep + 1;
    }
    if (pos < e) {
      this.appendPart(buf, pos, e);
      this.capPart();
    }
  }

  private appendPart(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (n <= 0) return;
    if (this.partLen + n > this.part.length) {
      let cap = Math.max(256, this.part.length * 2);
      while (cap < this.partLen + n) cap *= 2;
      const nb = Buffer.allocUnsafe(cap);
      this.part.copy(nb, 0, 0, this.partLen);
      this.part = nb;
    }
    buf.copy(this.part, this.partLen, s, e);
    this.partLen += n;
  }

  /** lineLimit 0: never let the partial line grow past maxBuffered (documented divergence). */
  private capPart(): void {
    if (this.lineLimit === 0 && this.partLen >= this.maxBuffered) {
      this.line(this.part, 0, this.partLen);
      this.partLen = 0;
    }
    // keep an idle engine small: a partial line never holds more than it needs for long
    if (this.partLen === 0 && this.part.length > 65536) this.part = NO_BYTES;
  }

  /** After stop() with a partial line: take bytes up to the separator (or lineLimit+1 bytes), log, done. */
  private feedLast(buf: Buffer, s: number, e: number): number {
    if (!this.stampsValid && (this.script.wantTai || this.script.wantIso)) this.refreshStamps();
    const L = this.lineLimit;
    let i = s;
    for (; i < e; i++) {
      const c = buf[i];
      if (c === NL || c === 0) {
        this.lastLine();
        this.flushAll();
        return i + 1 - s;
      }
      this.appendPart(buf, i, i + 1);
      if (L && this.partLen > L) {
        this.warn('input line too long, stopping before the end');
        this.lastLine();
        this.flushAll();
        return i + 1 - s;
      }
    }
    return e - s;
  }

  private lastLine(): void {
    this.line(this.part, 0, this.partLen);
    this.partLen = 0;
    this.finishing = false;
    this.inputDone = true;
    this.endSlice();
  }

  /** SIGTERM (unless -p) or SIGHUP: finish the line being read, then take no more input. */
  stop(): void {
    if (this.refeedDue) this.refeed();
    if (this.inputDone) return;
    if (this.partLen === 0) this.inputDone = true;
    else this.finishing = true;
    this.poke();
  }

  /** EOF on the input. A partial line is dropped, unless stop() asked to finish it (then it is logged). */
  end(): void {
    if (this.refeedDue) this.refeed();
    if (this.inputDone) return;
    if (this.finishing) {
      this.lastLine();
      this.flushAll();
    }
    this.partLen = 0;
    this.inputDone = true;
    this.poke();
    this.dropTail();
  }

  /** SIGALRM: rotate every writable logdir whose current is not empty. */
  rotate(): void {
    for (const ld of this.logdirs) {
      try {
        ld.forceRotate();
      } catch (e) {
        this.warn(`unable to rotate ${ld.name}: ${strerror(e)}`);
      }
    }
    this.flushAll();
  }

  // ---- one line -------------------------------------------------------------------------------------

  private line(buf: Buffer, s: number, e: number): void {
    const sc = this.script;
    if (sc.noSelections) {
      const acts = this.acts;
      for (let i = 0; i < acts.length; i++) this.act(i, buf, s, e);
      return;
    }
    let selected = true;
    let acted = false;
    let str: string | null = null;
    let ai = 0;
    for (const g of sc.groups) {
      for (const sel of g.sels) {
        if (sel.type === SelType.Default) selected = !acted;
        else if (sel.type === SelType.Plus) {
          if (!selected) {
            if (str === null) str = buf.toString("latin1", s, e);
            if (sel.re!.test(str as string)) selected = true;
          }
        } else if (selected) {
          if (str === null) str = buf.toString("latin1", s, e);
          if (sel.re!.test(str as string)) selected = false;
        }
      }
      if (selected) {
        acted = true;
        for (let j = 0; j < g.acts.length; j++) this.act(ai + j, buf, s, e);
      }
      ai += g.acts.length;
    }
  }

  private act(i: number, buf: Buffer, s: number, e: number): void {
    const a = this.acts[i];
    switch (a.type) {
      case ActType.Dir: {
        const q = this.logdirs[a.logdir].q;
        const h = this.heads[i];
        const n = h.length + (e - s) + 1;
        const ob = q.reserve(n);
        let o = q.end;
        if (h.length) { h.copy(ob, o); o += h.length; }
        buf.copy(ob, o, s, e);
        o += e - s;
        ob[o++] = NL;
        q.end = o;
        return;
      }
      case ActType.Stdout: {
        if (!this.opts.onStdout) return;
        const q = this.out1;
        const h = this.heads[i];
        const ob = q.reserve(h.length + (e - s) + 1);
        let o = q.end;
        if (h.length) { h.copy(ob, o); o += h.length; }
        buf.copy(ob, o, s, e);
        o += e - s;
        ob[o++] = NL;
        q.end = o;
        return;
      }
      case ActType.Alert: {
        if (!this.opts.onAlert) return;
        const h = this.heads[i];
        const len = e - s;
        const cut = a.size > 0 && a.size + 3 < len;
        const body = cut ? a.size : len;
        const out = Buffer.allocUnsafe(h.length + body + (cut ? 4 : 1));
        h.copy(out, 0);
        buf.copy(out, h.length, s, s + body);
        if (cut) out.write('...\n', h.length + body, 'latin1');
        else out[out.length - 1] = NL;
        this.opts.onAlert(out);
        return;
      }
      case ActType.Status: {
        const h = this.heads[i];
        const len = h.length + (e - s);
        let out: Buffer;
        if (a.size === 0) {
          out = Buffer.allocUnsafe(len + 1);
          h.copy(out, 0);
          buf.copy(out, h.length, s, e);
          out[len] = NL;
        } else if (len + 1 > a.size) {
          // cut to exactly size bytes
          out = Buffer.allocUnsafe(a.size);
          const hh = Math.min(h.length, a.size);
          h.copy(out, 0, 0, hh);
          if (hh < a.size) buf.copy(out, hh, s, s + (a.size - hh));
        } else {
          out = Buffer.alloc(a.size, NL);
          h.copy(out, 0);
          buf.copy(out, h.length, s, e);
        }
        this.writeStatus(a.file, out);
        return;
      }
    }
  }

  private writeStatus(file: string, data: Buffer): void {
    const p = file.startsWith('/') ? file : `${this.cwd}/${file}`;
    try {
      fs.writeFileSync(p + '.new', data);
      fs.renameSync(p + '.new', p);
    } catch (e) {
      this.warn(`unable to write status file ${file}: ${strerror(e)}`);
    }
  }

  // ---- output ---------------------------------------------------------------------------------------

  private flushAll(): void {
    if (this.out1.length && this.opts.onStdout) {
      const q = this.out1;
      const data = Buffer.from(q.buf.subarray(q.start, q.end));
      q.clear();
      this.opts.onStdout(data);
    }
    for (const ld of this.logdirs) {
      if (ld.q.length || !ld.idle()) {
        try {
          ld.flush();
        } catch (e) {
          this.warn(`unexpected error in logdir ${ld.name}: ${strerror(e)}`);
        }
      }
    }
  }

  /** Re-try what can be retried now (the stdout sink drained, a timer fired...), then report drain/finish. */
  poke(): void {
    if (this.closed) return;
    if (this.held) this.settle();
    if (this.wasBlocked && !this.inputDone) {
      if (this.canTake()) {
        this.wasBlocked = false;
        if (this.opts.onDrain) this.opts.onDrain();
      }
    }
    if (this.closing) this.tryFinish();
  }

  /**
   * Finish: stop taking input, wait until all data is written and no rotation or processor is running,
   * then fsync and chmod 0744 each current and release the locks. Resolves when done.
   */
  close(): Promise<void> {
    if (this.refeedDue) this.refeed();
    if (!this.inputDone) {
      this.partLen = 0;
      this.inputDone = true;
      this.finishing = false;
    }
    this.closing = true;
    const p = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    this.flushAll();
    if (this.held) this.settle();
    this.dropTail();
    this.tryFinish();
    return p;
  }

  private tryFinish(): void {
    if (this.closed) return;
    if (this.opts.stdoutPending && this.opts.stdoutPending() > 0) return;
    if (this.held) {
      this.settle();
      if (this.held) return;
    }
    for (const ld of this.logdirs) {
      if (ld.state < RotState.SyncEnd && !ld.idle()) {
        if (!ld.waiting) ld.flush();
        if (!ld.idle()) return;
      }
    }
    let all = true;
    for (const ld of this.logdirs) if (!ld.finalize()) all = false;
    if (!all) return;
    for (const ld of this.logdirs) ld.close();
    this.closeSpool();
    this.closed = true;
    const w = this.closeWaiters;
    this.closeWaiters = [];
    for (const f of w) f();
  }

  private closeSpool(): void {
    if (this.spoolRetry) { clearTimeout(this.spoolRetry); this.spoolRetry = null; }
    this.spool?.close();
    this.spool = null;
    this.spooling = false;
  }

  /** Before a re-exec hands this engine's logdirs over: each idle one marked cleanly closed (Logdir.markClean). */
  markClean(): boolean {
    let all = true;
    for (const ld of this.logdirs) if (!ld.markClean()) all = false;
    return all;
  }

  /** Give up now: no finalize, queued data dropped, locks released. */
  abandon(): void {
    for (const ld of this.logdirs) ld.close();
    this.closeSpool();
    this.closed = true;
    this.inputDone = true;
    const w = this.closeWaiters;
    this.closeWaiters = [];
    for (const f of w) f();
  }
}

function findSep(buf: Buffer, s: number, e: number, noNul: boolean): number {
  let a = buf.indexOf(NL, s);
  if (a >= e) a = -1;
  if (noNul) return a;
  let b = buf.indexOf(0, s);
  if (b >= e) b = -1;
  if (a === -1) return b;
  if (b === -1) return a;
  return a < b ? a : b;
}

export { Logdir };
export const isFatal = (e: unknown): e is LogdirFatal => e instanceof LogdirFatal;
