/**
 * Reading s6-rc 0.5 source directories into plain definitions, with s6-rc-compile's refusals, messages and
 * exit codes (s6-rc-and-s6-overlay.md §A1-A2), through an injected Reader so the logic is tested on fake trees
 * and the real one is a few lines over node:fs. No compile step, no database: `vigil rc check`, start-up and
 * `vigil rc reload` all call readSources() and then buildGraph() (graph.ts).
 *
 * A source tree may be hostile (a fuzzed tree, a half-written edit): every read is capped, a file that is not
 * a regular file (a fifo, a device) is refused before it is read (opened non-blocking, so a fifo cannot hang
 * the supervisor), symlinks inside data/, env/ and template/ are recorded, never followed, and a problem is one
 * line naming the file. Every problem in one pass is reported (s6-rc-compile stops at the first); the exit
 * code is the first problem's, which is the one s6-rc-compile would have stopped on.
 *
 * Deliberate differences, all for the better and listed in src/rc/README.md: reserved-prefix names in a
 * dependency list name the list file; a file past its size cap is refused (s6-rc reads anything); a
 * non-regular `type`/`up`/`run` is refused (s6-rc would block on a fifo).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { strerror } from '../sys/errors';
import { lexExecline } from './lexer';

export type ServiceType = 'oneshot' | 'longrun' | 'bundle';

/** A longrun's s6 service directory files, as the live service directory gets them. */
export interface LongrunFiles {
  finish: boolean;
  notificationFd?: number;
  lockFd?: number;
  timeoutKill?: number;
  timeoutFinish?: number;
  maxDeathTally?: number;
  /** copied verbatim (the supervisor parses it) */
  downSignal?: Buffer;
  /** which of data/, env/, template/ are there (copied recursively) */
  trees: string[];
  /** vigil's in-supervisor logging files, copied when present */
  extras: string[];
  producerFor?: string;
  consumerFor: string[];
  pipelineName?: string;
}

export interface Definition {
  name: string;
  type: ServiceType;
  /** the source directory it was found in (as given) and its own directory */
  srcdir: string;
  dir: string;
  /** dependencies (atomic services); contents (bundles) */
  deps: string[];
  contents: string[];
  /** ms, 0 = none */
  timeoutUp: number;
  timeoutDown: number;
  essential: boolean;
  recommended: boolean;
  /** oneshots: the lexed argv of up and down (empty: always succeeds) */
  up: string[];
  down: string[];
  longrun?: LongrunFiles;
  /**
   * A hash of what makes the service run the way it does: the argvs of a oneshot; run, finish, the s6 files,
   * data/, env/ and template/ of a longrun. Not dependencies or timeouts (reload applies those without a
   * restart). Equal digests = nothing to restart on reload.
   */
  digest: string;
}

/** One refusal: an exit code (1: error in the sources, 111: a required file cannot be read) and a line. */
export interface Problem {
  code: 1 | 111;
  text: string;
  /**
   * s6-rc-compile checks the longrun files (notification-fd, data/...) only after the whole graph: such a
   * problem is reported after the graph's, so the first problem (and so the exit code) is s6-rc-compile's.
   */
  late?: boolean;
}

export interface SourceSet {
  /** in definition order: source directories in the order given, names in strcmp order within one */
  defs: Definition[];
  problems: Problem[];
  /** s6-rc-compile's warnings (verbosity 1) */
  warnings: string[];
  /** verbosity-2 warnings (a name listed twice) */
  notes: string[];
}

export type FileKind = 'dir' | 'file' | 'symlink' | 'other';

/** What readSources needs from a filesystem. Errors are thrown with an errno-style `code`. */
export interface Reader {
  readdir(p: string): string[];
  /** follows symlinks */
  stat(p: string): FileKind;
  lstat(p: string): FileKind;
  readlink(p: string): string;
  /**
   * At most `max` bytes of a regular file, and whether there was more. A directory throws EISDIR; any other
   * non-regular file throws ENOTREG (never read: a fifo would block).
   */
  read(p: string, max: number): { data: Buffer; more: boolean };
}

/** Caps on what one definition may make vigil read. */
export const LIMITS = {
  /** dependencies, contents, producer-for, consumer-for, pipeline-name, up, down */
  listBytes: 1 << 20,
  /** run, finish: copied and hashed */
  scriptBytes: 64 << 20,
  /** data/, env/, template/ together */
  treeBytes: 64 << 20,
  treeEntries: 10000,
  treeDepth: 32,
};

export const RESERVED_PREFIXES = ['s6rc-', 's6-rc-'];

const UINT_FMT = 11;

function kindOf(st: fs.Stats): FileKind {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function errCode(code: string, msg: string): NodeJS.ErrnoException {
  const e = new Error(msg) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** The real filesystem. */
export const fsReader: Reader = {
  readdir: (p) => fs.readdirSync(p),
  stat: (p) => kindOf(fs.statSync(p)),
  lstat: (p) => kindOf(fs.lstatSync(p)),
  readlink: (p) => fs.readlinkSync(p),
  read(p, max) {
    // O_NONBLOCK: opening a fifo must not wait for a writer; it is refused below without a read
    const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const st = fs.fstatSync(fd);
      if (st.isDirectory()) throw errCode('EISDIR', `EISDIR: ${p}`);
      if (!st.isFile()) throw errCode('ENOTREG', `not a regular file: ${p}`);
      const buf = Buffer.allocUnsafe(Math.min(max + 1, Math.max(st.size + 1, 64 * 1024), max + 1));
      let got = 0;
      let data = buf;
      for (;;) {
        if (got === data.length) {
          if (data.length > max) break;
          const bigger = Buffer.allocUnsafe(Math.min(max + 1, data.length * 2));
          data.copy(bigger, 0, 0, got);
          data = bigger;
        }
        const r = fs.readSync(fd, data, got, data.length - got, null);
        if (r === 0) break;
        got += r;
      }
      return got > max ? { data: data.subarray(0, max), more: true } : { data: data.subarray(0, got), more: false };
    } finally {
      fs.closeSync(fd);
    }
  },
};

function why(e: unknown): string {
  if ((e as NodeJS.ErrnoException)?.code === 'ENOTREG') return 'not a regular file';
  return strerror(e);
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** s6's uint0_scan: digits only (no sign, no blank), fitting 32 bits */
function scanUint(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

interface Ctx {
  r: Reader;
  problems: Problem[];
  warnings: string[];
  notes: string[];
  /** names that are bundles when their `type` is missing (s6-overlay's user, user2) */
  untypedBundles: ReadonlySet<string>;
}

class Stop extends Error {}

/** Record a problem; the caller's service stops being read (s6-rc-compile would have died). */
function fail(ctx: Ctx, code: 1 | 111, text: string, late = false): never {
  ctx.problems.push({ code, text, late });
  throw new Stop(text);
}

function reservedName(s: string): boolean {
  return RESERVED_PREFIXES.some((p) => s.startsWith(p));
}

/**
 * Read every source directory. Never throws for a problem in the tree: each goes into `problems` (one line,
 * naming the file) and the services that are fine are still returned (they are not used if there is any
 * problem: a bad tree changes nothing).
 */
export function readSources(srcdirs: readonly string[], r: Reader = fsReader, opts: { untypedBundles?: readonly string[] } = {}): SourceSet {
  const ctx: Ctx = { r, problems: [], warnings: [], notes: [], untypedBundles: new Set(opts.untypedBundles ?? []) };
  const defs: Definition[] = [];
  const seen = new Map<string, Definition>();
  for (const src of srcdirs) {
    let names: string[];
    try {
      names = r.readdir(src);
    } catch (e) {
      ctx.problems.push({ code: 111, text: `unable to opendir ${src}: ${why(e)}` });
      continue;
    }
    const dirs: string[] = [];
    const before = ctx.problems.length;
    for (const name of names) {
      if (name.startsWith('.')) continue;
      if (name.includes('\n')) {
        ctx.problems.push({ code: 1, text: `subdirectory of ${src} contains a newline character` });
        continue;
      }
      if (reservedName(name)) {
        ctx.problems.push({ code: 1, text: `in ${src}: identifier ${name} starts with reserved prefix` });
        continue;
      }
      let kind: FileKind;
      try {
        kind = r.stat(path.join(src, name));
      } catch (e) {
        const loop = code(e) === 'ELOOP' ? ' (a symlink loop)' : '';
        ctx.problems.push({ code: 111, text: `unable to stat ${src}/${name}: ${why(e)}${loop}` });
        continue;
      }
      if (kind === 'dir') dirs.push(name);
    }
    if (dirs.length === 0) {
      if (ctx.problems.length === before) ctx.warnings.push(`source ${src} is empty`);
      continue;
    }
    // strcmp order (bytes), as s6-rc-compile's qsort
    dirs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of dirs) {
      const prev = seen.get(name);
      if (prev) {
        ctx.problems.push({ code: 1, text: `duplicate service definition: ${name} defined in ${src} is already defined and has type ${prev.type}` });
        continue;
      }
      try {
        const def = readOne(ctx, src, name);
        seen.set(name, def);
        defs.push(def);
      } catch (e) {
        if (!(e instanceof Stop)) {
          ctx.problems.push({ code: 111, text: `unable to read ${src}/${name}: ${(e as Error).message}` });
        }
      }
    }
  }
  return { defs, problems: ctx.problems, warnings: ctx.warnings, notes: ctx.notes };
}

function readOne(ctx: Ctx, src: string, name: string): Definition {
  const dir = path.join(src, name);
  const at = (f: string) => `${src}/${name}/${f}`;
  // type: at most 8 bytes, one trailing newline removed (so "oneshot\n" fits exactly)
  let typeBytes: Buffer;
  try {
    typeBytes = ctx.r.read(path.join(dir, 'type'), 8).data;
  } catch (e) {
    // s6-overlay's rc.init writes `bundle` into user/type and user2/type when an image ships only contents.d
    if (code(e) === 'ENOENT' && ctx.untypedBundles.has(name)) typeBytes = Buffer.from('bundle');
    else {
      if (code(e) === 'ENOTREG') fail(ctx, 1, `invalid ${at('type')}: not a regular file`);
      fail(ctx, 111, `unable to read ${at('type')}: ${why(e)}`);
    }
  }
  const t = typeBytes.length && typeBytes[typeBytes.length - 1] === 10 ? typeBytes.subarray(0, typeBytes.length - 1) : typeBytes;
  const type = t.toString('latin1');
  if (type !== 'oneshot' && type !== 'longrun' && type !== 'bundle') {
    fail(ctx, 1, `invalid ${at('type')}: must be oneshot, longrun, or bundle`);
  }
  const def: Definition = {
    name, type, srcdir: src, dir, deps: [], contents: [], timeoutUp: 0, timeoutDown: 0, essential: false,
    recommended: false, up: [], down: [], digest: '',
  };
  const hash = crypto.createHash('sha256');
  hash.update(`type ${type}\n`);
  if (type === 'bundle') {
    const c = nameList(ctx, src, name, 'contents');
    if (c === null) fail(ctx, 111, `unable to open ${at('contents')}: No such file or directory`);
    def.contents = c;
    def.essential = flag(ctx, src, name, 'flag-essential');
    def.recommended = flag(ctx, src, name, 'flag-recommended');
    def.digest = hash.digest('hex');
    return def;
  }
  def.deps = nameList(ctx, src, name, 'dependencies') ?? [];
  def.timeoutDown = timeout(ctx, src, name, 'timeout-down');
  def.timeoutUp = timeout(ctx, src, name, 'timeout-up');
  def.essential = flag(ctx, src, name, 'flag-essential');
  def.recommended = flag(ctx, src, name, 'flag-recommended');
  if (type === 'oneshot') {
    def.up = script(ctx, src, name, 'up', true);
    def.down = script(ctx, src, name, 'down', false);
    hash.update(JSON.stringify([def.up, def.down]));
  } else {
    def.longrun = longrun(ctx, src, name, hash);
  }
  def.digest = hash.digest('hex');
  return def;
}

/** flag files: only their presence counts (symlinks followed, as access(F_OK)) */
function flag(ctx: Ctx, src: string, name: string, f: string): boolean {
  try {
    ctx.r.stat(path.join(src, name, f));
    return true;
  } catch (e) {
    if (code(e) === 'ENOENT') return false;
    return fail(ctx, 111, `unable to read ${src}/${name}/${f}: ${why(e)}`);
  }
}

/** timeout-up / timeout-down: a uint once trailing newlines are gone (63 bytes read, as s6-rc); 0/missing: none */
function timeout(ctx: Ctx, src: string, name: string, f: string): number {
  let data: Buffer;
  try {
    data = ctx.r.read(path.join(src, name, f), 63).data;
  } catch (e) {
    if (code(e) === 'ENOENT') return 0;
    if (code(e) === 'ENOTREG') fail(ctx, 1, `invalid ${src}/${name}/${f}: not a regular file`);
    return fail(ctx, 111, `unable to read ${src}/${name}/${f}: ${why(e)}`);
  }
  let s = data.toString('latin1');
  while (s.endsWith('\n')) s = s.slice(0, -1);
  const v = scanUint(s);
  if (v === undefined) fail(ctx, 1, `invalid ${src}/${name}/${f}`);
  return v;
}

function capped(ctx: Ctx, file: string, max: number): Buffer | null {
  let got: { data: Buffer; more: boolean };
  try {
    got = ctx.r.read(file, max);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    if (code(e) === 'ENOTREG') fail(ctx, 1, `${file}: not a regular file`);
    return fail(ctx, 111, `unable to read ${file}: ${why(e)}`);
  }
  if (got.more) fail(ctx, 1, `${file}: too large (more than ${max} bytes)`);
  return got.data;
}

/**
 * A list of names: `LIST.d/` (every non-dot entry, of any type) if that directory exists, else the
 * deprecated file `LIST` (one name a line; leading blanks stripped, trailing ones kept; blank and # lines
 * skipped). null if neither exists.
 */
function nameList(ctx: Ctx, src: string, name: string, list: string): string[] | null {
  const dirPath = path.join(src, name, `${list}.d`);
  let entries: string[] | null = null;
  try {
    entries = ctx.r.readdir(dirPath);
  } catch (e) {
    if (code(e) !== 'ENOENT') fail(ctx, 111, `unable to opendir ${src}/${name}/${list}.d: ${why(e)}`);
  }
  if (entries !== null) {
    const out: string[] = [];
    for (const ent of entries.sort()) {
      if (ent.startsWith('.')) continue;
      if (reservedName(ent)) fail(ctx, 1, `in ${src}/${name}/${list}.d: identifier ${ent} starts with reserved prefix`);
      out.push(ent);
    }
    return out;
  }
  return namesFromFile(ctx, src, name, list);
}

function namesFromFile(ctx: Ctx, src: string, name: string, list: string): string[] | null {
  const file = `${src}/${name}/${list}`;
  const data = capped(ctx, file, LIMITS.listBytes);
  if (data === null) return null;
  const out: string[] = [];
  for (const raw of data.toString('utf8').split('\n')) {
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (reservedName(line)) fail(ctx, 1, `in ${file}: identifier ${line} starts with reserved prefix`);
    if (out.includes(line)) {
      ctx.notes.push(`in ${file}: name listed more than once: ${line}`);
      continue;
    }
    out.push(line);
  }
  return out;
}

function script(ctx: Ctx, src: string, name: string, f: 'up' | 'down', mandatory: boolean): string[] {
  const file = `${src}/${name}/${f}`;
  const data = capped(ctx, file, LIMITS.listBytes);
  if (data === null) {
    if (mandatory) fail(ctx, 111, `unable to open ${file}: No such file or directory`);
    return [];
  }
  const lexed = lexExecline(data);
  if (!lexed.ok) fail(ctx, 1, `syntax error in ${file}${lexed.error ? `: ${lexed.error}` : ''}`);
  return lexed.argv;
}

/** notification-fd and friends: the text before the first newline must be a uint (else exit 111, as s6-rc) */
function uintFile(ctx: Ctx, src: string, name: string, f: string): number | undefined {
  let data: Buffer;
  try {
    data = ctx.r.read(path.join(src, name, f), UINT_FMT).data;
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    return fail(ctx, 111, `unable to read ${src}/${name}/${f}: ${why(e)}`, true);
  }
  let s = data.toString('latin1');
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  const v = scanUint(s);
  if (v === undefined) fail(ctx, 111, `unable to read ${src}/${name}/${f}: Invalid argument`, true);
  return v;
}

function longrun(ctx: Ctx, src: string, name: string, hash: crypto.Hash): LongrunFiles {
  const d = path.join(src, name);
  const at = (f: string) => `${src}/${name}/${f}`;
  let run: { data: Buffer; more: boolean };
  try {
    run = ctx.r.read(path.join(d, 'run'), LIMITS.scriptBytes);
  } catch (e) {
    if (code(e) === 'ENOENT') fail(ctx, 1, `unable to find a run script in ${at('run')}`);
    if (code(e) === 'ENOTREG' || code(e) === 'EISDIR') fail(ctx, 1, `${at('run')} is not a regular file`);
    return fail(ctx, 111, `unable to open ${at('run')}: ${why(e)}`);
  }
  if (run.more) fail(ctx, 1, `${at('run')}: too large (more than ${LIMITS.scriptBytes} bytes)`);
  hash.update(`run ${run.data.length}\n`).update(run.data);
  const lr: LongrunFiles = { finish: false, trees: [], extras: [], consumerFor: [] };

  const producer = namesFromFile(ctx, src, name, 'producer-for');
  if (producer !== null) {
    if (producer.length !== 1) fail(ctx, 1, `${at('producer-for')} should only contain one service name`);
    lr.producerFor = producer[0];
  }
  lr.consumerFor = namesFromFile(ctx, src, name, 'consumer-for') ?? [];
  if (lr.consumerFor.length && lr.producerFor === undefined) {
    const pn = namesFromFile(ctx, src, name, 'pipeline-name');
    if (pn !== null) {
      if (pn.length !== 1) fail(ctx, 1, `${at('pipeline-name')} should only contain one name`);
      lr.pipelineName = pn[0];
    }
  } else if (flag(ctx, src, name, 'pipeline-name')) {
    ctx.warnings.push(`${src}/${name} contains a pipeline-name file despite not being a last consumer; this file will be ignored`);
  }

  // what s6-rc-compile checks while writing the service directory, after the graph
  let finish: Buffer | null = null;
  try {
    const f = ctx.r.read(path.join(d, 'finish'), LIMITS.scriptBytes);
    if (f.more) fail(ctx, 1, `${at('finish')}: too large (more than ${LIMITS.scriptBytes} bytes)`, true);
    finish = f.data;
  } catch (e) {
    if (e instanceof Stop) throw e;
    if (code(e) !== 'ENOENT') fail(ctx, 111, `unable to copy ${at('finish')}: ${why(e)}`, true);
  }
  if (finish) {
    lr.finish = true;
    hash.update(`finish ${finish.length}\n`).update(finish);
  }
  lr.notificationFd = uintFile(ctx, src, name, 'notification-fd');
  if (lr.notificationFd !== undefined && lr.notificationFd < 3) {
    ctx.warnings.push(`longrun ${name} has a notification-fd of ${lr.notificationFd}`);
  }
  lr.lockFd = uintFile(ctx, src, name, 'lock-fd');
  if (lr.lockFd !== undefined) {
    if (lr.lockFd < 3) ctx.warnings.push(`longrun ${name} has a lock-fd of ${lr.lockFd}`);
    else if (lr.lockFd === lr.notificationFd) fail(ctx, 1, `longrun ${name} has the same value for notification-fd and lock-fd`, true);
  }
  lr.timeoutKill = uintFile(ctx, src, name, 'timeout-kill');
  lr.timeoutFinish = uintFile(ctx, src, name, 'timeout-finish');
  lr.maxDeathTally = uintFile(ctx, src, name, 'max-death-tally');
  hash.update(JSON.stringify([lr.notificationFd, lr.lockFd, lr.timeoutKill, lr.timeoutFinish, lr.maxDeathTally]));
  const ds = capped(ctx, at('down-signal'), 64);
  if (ds !== null) {
    lr.downSignal = ds;
    hash.update('down-signal\n').update(ds);
  }
  for (const extra of ['log-dir', 'log-script']) {
    const x = capped(ctx, at(extra), LIMITS.listBytes);
    if (x !== null) {
      lr.extras.push(extra);
      hash.update(`${extra}\n`).update(x);
    }
  }
  const budget = { bytes: LIMITS.treeBytes, entries: LIMITS.treeEntries };
  for (const tree of ['data', 'env', 'template']) {
    const p = path.join(d, tree);
    let kind: FileKind;
    try {
      kind = ctx.r.stat(p);
    } catch (e) {
      if (code(e) === 'ENOENT') continue;
      return fail(ctx, 111, `unable to stat ${at(tree)}: ${why(e)}`, true);
    }
    if (kind !== 'dir') fail(ctx, 1, `${at(tree)} is not a directory`, true);
    lr.trees.push(tree);
    hash.update(`tree ${tree}\n`);
    hashTree(ctx, p, at(tree), hash, budget, 0);
  }
  return lr;
}

/** names, kinds, symlink targets and contents of a tree, in name order; symlinks are not followed */
function hashTree(ctx: Ctx, p: string, shown: string, hash: crypto.Hash, budget: { bytes: number; entries: number }, depth: number): void {
  if (depth > LIMITS.treeDepth) fail(ctx, 1, `${shown}: nested too deep (more than ${LIMITS.treeDepth} levels)`, true);
  let names: string[];
  try {
    names = ctx.r.readdir(p).sort();
  } catch (e) {
    return fail(ctx, 111, `unable to read ${shown}: ${why(e)}`, true);
  }
  for (const n of names) {
    if (--budget.entries < 0) fail(ctx, 1, `${shown}: too many entries (more than ${LIMITS.treeEntries} in data/, env/ and template/)`, true);
    const q = path.join(p, n);
    let kind: FileKind;
    try {
      kind = ctx.r.lstat(q);
    } catch (e) {
      return fail(ctx, 111, `unable to stat ${shown}/${n}: ${why(e)}`, true);
    }
    hash.update(`${kind} ${n}\n`);
    if (kind === 'dir') hashTree(ctx, q, `${shown}/${n}`, hash, budget, depth + 1);
    else if (kind === 'symlink') hash.update(ctx.r.readlink(q));
    else if (kind === 'file') {
      let got: { data: Buffer; more: boolean };
      try {
        got = ctx.r.read(q, budget.bytes);
      } catch (e) {
        return fail(ctx, 111, `unable to read ${shown}/${n}: ${why(e)}`, true);
      }
      if (got.more) fail(ctx, 1, `${shown}: too large (more than ${LIMITS.treeBytes} bytes in data/, env/ and template/)`, true);
      budget.bytes -= got.data.length;
      hash.update(`${got.data.length}\n`).update(got.data);
    }
  }
}
