/**
 * `vigil svdt [-S|-s] [-n N] DIR`: print the death tally (s6-protocol.md §3.3), one line per death, oldest
 * first: `@<TAI64N label> exitcode N` or `@<label> signal SIGNAME` (-s: the number; -S: names, the default).
 * -n N: only the newest N (at most 4096, as s6). Like s6-svdt it does not ask the supervisor; a missing
 * death_tally is created empty and one whose size is not a multiple of 14 is truncated (s6_dtally_read).
 * Exit codes: 0 ok, 100 bad usage, 111 system error.
 */
import * as fs from 'node:fs';
import { Messages, joinS6, writeAllSync } from '../formats/svclient';
import { scanUint, wantsHelp } from '../formats/clientopts';
import { DTALLY_RECORD, MAX_DEATH_TALLY_CAP, decodeDtally } from '../formats/dtally';
import { DEATH_TALLY } from '../formats/paths';
import { tainLabel } from '../formats/tai64n';
import { s6SigName } from '../sys/signals';

const USAGE = 'vigil svdt [ -S | -s ] [ -n maxentries ] servicedir';

const HELP = `usage: ${USAGE}

Print the recorded deaths of the service at servicedir, oldest first, as s6-svdt does:
  @400000006b0578a01c2d3e4f exitcode 3
  @400000006b0578a11c2d3e4f signal SIGKILL
  -S  signal names (default)   -s  signal numbers   -n N  only the newest N
Exit codes: 0 ok, 100 bad usage, 111 system error.
`;

/** s6_dtally_read: the newest `max` records; creates a missing file, truncates a malformed one. */
function readTally(dir: string, max: number): Buffer {
  const fn = joinS6(dir, DEATH_TALLY);
  const truncit = (): Buffer => {
    fs.closeSync(fs.openSync(fn, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o666));
    return Buffer.alloc(0);
  };
  let fd: number;
  try {
    fd = fs.openSync(fn, fs.constants.O_RDONLY);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return truncit();
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size % DTALLY_RECORD !== 0) {
      fs.closeSync(fd);
      fd = -1;
      return truncit();
    }
    const n = Math.min(size / DTALLY_RECORD, max);
    const buf = Buffer.alloc(n * DTALLY_RECORD);
    let off = 0;
    while (off < buf.length) {
      const r = fs.readSync(fd, buf, off, buf.length - off, size - buf.length + off);
      if (r === 0) throw Object.assign(new Error('short read'), { code: 'EPIPE' });
      off += r;
    }
    return buf;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

export function run(argv: string[]): number {
  const msg = new Messages('vigil svdt', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const parsed = msg.getopt(argv, 'Ssn:');
    let numeric = false;
    let n = MAX_DEATH_TALLY_CAP;
    for (const o of parsed.opts) {
      if (o.letter === 'S') numeric = false;
      else if (o.letter === 's') numeric = true;
      else {
        const v = scanUint(o.arg);
        if (v === undefined) throw msg.usage();
        n = v;
      }
    }
    if (parsed.rest.length === 0) throw msg.usage();
    if (n > MAX_DEATH_TALLY_CAP) n = MAX_DEATH_TALLY_CAP;
    if (n === 0) return 0;
    const dir = parsed.rest[0];
    let buf: Buffer;
    try {
      buf = readTally(dir, n);
    } catch (e) {
      throw msg.fatalSys(111, `unable to read death tally for service ${dir}`, e);
    }
    let out = '';
    for (const r of decodeDtally(buf)) {
      out += tainLabel(r.stamp) + ' ';
      if (r.sig) out += 'signal ' + (numeric ? String(r.sig) : 'SIG' + s6SigName(r.sig));
      else out += 'exitcode ' + String(r.exitcode);
      out += '\n';
    }
    try {
      writeAllSync(1, out);
    } catch (e) {
      throw msg.fatalSys(111, 'unable to write to stdout', e);
    }
    return 0;
  } catch (e) {
    return msg.report(e);
  }
}
