/**
 * `vigil logs SERVICE|LOGDIR [-f] [-n N] [--since TIME] [--grep RE]`
 *
 * Prints a logdir's lines: archives (@….s / @….u, oldest first) then current. A leading TAI64N label
 * (`@` + 24 hex + space, as written by the `t` directive) is shown as local time. Lines are handled as
 * bytes (latin1 in, latin1 out), so nothing is re-encoded; --grep patterns are matched on the same bytes.
 *
 *   -n N          only the last N lines (after filtering)
 *   --since TIME  lines stamped (t or T) at or after TIME (YYYY-MM-DD[ HH:MM[:SS]] local, 10m, 2h, 1d,
 *                 @tai64n); archives rotated before TIME are skipped; unstamped lines of the files read are kept
 *   --grep RE     lines matching the JavaScript RegExp RE
 *   -f            then follow current: inotify on the directory (fs.watch), and across a rotation read the
 *                 old file to its end before switching to the new current
 * Exit: 0; 100 bad usage; 111 a logdir that cannot be read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { displayLine, LogsError, logFiles, archiveTimeMs, parseSince, resolveLogdir } from '../logger/reader';

const USAGE = 'vigil logs SERVICE|LOGDIR [-f] [-n N] [--since TIME] [--grep RE]';

interface Opts {
  target: string;
  follow: boolean;
  n: number;
  sinceMs: number | null;
  grep: RegExp | null;
}

function parse(argv: string[]): Opts | string {
  let target: string | null = null;
  let follow = false;
  let n = -1;
  let sinceMs: number | null = null;
  let grep: RegExp | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) throw new LogsError(`option ${a} needs a value`);
      return argv[++i];
    };
    if (a === '-f' || a === '--follow') follow = true;
    else if (a === '-n' || a.startsWith('--lines')) {
      const v = val();
      if (!/^[0-9]+$/.test(v)) return `invalid line count: ${v}`;
      n = Number(v);
    } else if (/^-n[0-9]+$/.test(a)) n = Number(a.slice(2));
    else if (a.startsWith('--since')) sinceMs = parseSince(val());
    else if (a.startsWith('--grep')) {
      const v = val();
      try {
        grep = new RegExp(Buffer.from(v, 'utf8').toString('latin1'));
      } catch (e) {
        return `invalid --grep pattern: ${(e as Error).message}`;
      }
    } else if (a === '--') {
      if (i + 1 < argv.length && target === null) target = argv[++i];
    } else if (a.startsWith('-') && a.length > 1) return `unknown option: ${a}`;
    else if (target === null) target = a;
    else return `unexpected argument: ${a}`;
  }
  if (target === null) return 'missing SERVICE or LOGDIR';
  return { target, follow, n, sinceMs, grep };
}

class Out {
  private chunks: string[] = [];
  private size = 0;
  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    if (this.size > 1 << 16) this.flush();
  }
  flush(): void {
    if (!this.chunks.length) return;
    const b = Buffer.from(this.chunks.join(''), 'latin1');
    this.chunks = [];
    this.size = 0;
    let off = 0;
    while (off < b.length) {
      try {
        off += fs.writeSync(1, b, off, b.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        if (code === 'EPIPE') process.exit(0);
        throw e;
      }
    }
  }
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`usage: ${USAGE}\n`);
    return 0;
  }
  let o: Opts | string;
  try {
    o = parse(argv);
  } catch (e) {
    o = (e as Error).message;
  }
  if (typeof o === 'string') {
    process.stderr.write(`vigil logs: fatal: ${o}\nusage: ${USAGE}\n`);
    return 100;
  }
  let dir: string;
  try {
    dir = resolveLogdir(o.target);
  } catch (e) {
    process.stderr.write(`vigil logs: fatal: ${(e as Error).message}\n`);
    return 111;
  }
  const opts = o;
  const sinceNs = opts.sinceMs === null ? null : BigInt(Math.floor(opts.sinceMs)) * 1000000n;
  const keep = (line: string): string | null => {
    const [text, ns] = displayLine(line);
    if (sinceNs !== null && ns !== null && ns < sinceNs) return null;
    if (opts.grep && !opts.grep.test(text)) return null;
    return text;
  };
  let files: string[];
  try {
    files = logFiles(dir);
  } catch (e) {
    process.stderr.write(`vigil logs: fatal: unable to read logdir ${dir}: ${(e as Error).message}\n`);
    return 111;
  }
  if (opts.sinceMs !== null) {
    files = files.filter((f) => {
      const t = archiveTimeMs(f);
      return t === null || t >= opts.sinceMs!;
    });
  }
  const out = new Out();
  // current is read through an fd we keep for -f, so no line is shown twice or missed
  const curPath = path.join(dir, 'current');
  let curFd = -1;
  let curIno = -1;
  let curPos = 0;
  let rest = '';
  const readFileText = (f: string): string => {
    if (f === curPath) {
      try {
        curFd = fs.openSync(curPath, 'r');
      } catch {
        return '';
      }
      curIno = fs.fstatSync(curFd).ino;
      const chunks: Buffer[] = [];
      const b = Buffer.allocUnsafe(1 << 16);
      for (;;) {
        const r = fs.readSync(curFd, b, 0, b.length, curPos);
        if (r <= 0) break;
        chunks.push(Buffer.from(b.subarray(0, r)));
        curPos += r;
      }
      return Buffer.concat(chunks).toString('latin1');
    }
    try {
      return fs.readFileSync(f).toString('latin1');
    } catch {
      return '';
    }
  };
  const linesOf = (text: string, isCurrent: boolean): string[] => {
    const parts = text.split('\n');
    const tail = parts.pop() ?? '';
    if (isCurrent) rest = tail;
    else if (tail) parts.push(tail);
    return parts;
  };
  if (opts.n >= 0) {
    // newest first until N lines are kept
    const picked: string[][] = [];
    let count = 0;
    for (let i = files.length - 1; i >= 0 && count < opts.n; i--) {
      const lines = linesOf(readFileText(files[i]), files[i] === curPath);
      const kept: string[] = [];
      for (let j = lines.length - 1; j >= 0 && count < opts.n; j--) {
        const k = keep(lines[j]);
        if (k !== null) { kept.push(k); count++; }
      }
      picked.push(kept.reverse());
    }
    for (let i = picked.length - 1; i >= 0; i--) for (const l of picked[i]) out.push(l + '\n');
    if (opts.follow && curFd < 0 && files[files.length - 1] === curPath) {
      // current was not needed for -n: start following at its end
      try {
        curFd = fs.openSync(curPath, 'r');
        const st = fs.fstatSync(curFd);
        curIno = st.ino;
        curPos = st.size;
      } catch { /* no current yet */ }
    }
  } else {
    for (const f of files) {
      for (const l of linesOf(readFileText(f), f === curPath)) {
        const k = keep(l);
        if (k !== null) out.push(k + '\n');
      }
    }
  }
  out.flush();
  if (!opts.follow) {
    if (curFd >= 0) fs.closeSync(curFd);
    return 0;
  }
  return follow(dir, curPath, { fd: curFd, ino: curIno, pos: curPos, rest }, keep, out);
}

interface FollowState { fd: number; ino: number; pos: number; rest: string }

function follow(dir: string, curPath: string, st: FollowState, keep: (l: string) => string | null, out: Out): Promise<number> {
  const buf = Buffer.allocUnsafe(1 << 16);
  const drainFd = (): void => {
    if (st.fd < 0) return;
    for (;;) {
      const r = fs.readSync(st.fd, buf, 0, buf.length, st.pos);
      if (r <= 0) break;
      st.pos += r;
      const text = st.rest + buf.toString('latin1', 0, r);
      const parts = text.split('\n');
      st.rest = parts.pop() ?? '';
      for (const l of parts) {
        const k = keep(l);
        if (k !== null) out.push(k + '\n');
      }
    }
  };
  const check = (): void => {
    drainFd();
    let ino = -1;
    try {
      ino = fs.statSync(curPath).ino;
    } catch { /* between rename and create */ }
    if (ino !== -1 && ino !== st.ino) {
      // rotated: the old file is complete (s6-log/vigil write before renaming); switch to the new one
      drainFd();
      if (st.fd >= 0) fs.closeSync(st.fd);
      st.rest = '';
      try {
        st.fd = fs.openSync(curPath, 'r');
        st.ino = fs.fstatSync(st.fd).ino;
        st.pos = 0;
      } catch {
        st.fd = -1;
        st.ino = -1;
      }
      drainFd();
    }
    out.flush();
  };
  return new Promise<number>((resolve) => {
    const w = fs.watch(dir, { persistent: true }, () => check());
    w.on('error', (e) => {
      process.stderr.write(`vigil logs: fatal: watching ${dir}: ${e.message}\n`);
      w.close();
      resolve(111);
    });
    const stop = (): void => {
      w.close();
      out.flush();
      resolve(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    check();
  });
}
