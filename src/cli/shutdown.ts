/**
 * `vigil shutdown [-h|-p|-r|-k] [-t SEC] [--rundir DIR] TIME [MSG...]` and `vigil shutdown -c [MSG...]`.
 *
 * Plans a shutdown with vigil init's shutdown daemon (s6-linux-init-shutdownd's protocol, s6-protocol.md
 * §10.3): TIME is `now`, `[+]MINS` or `HH:MM` (local time, the next time the clock shows it). -h halt,
 * -p power off, -r reboot; with none of them only stage 3 (rc.shutdown) runs and the system keeps going.
 * -t SEC: grace time between TERM and KILL (capped at 300 s, sent in ms). -c cancels a planned shutdown.
 * -k sends nothing (s6 only sends a wall message; vigil has no wall: MSG is printed on stdout).
 * MSG is printed on stdout (there is no utmp wall here).
 *
 * Exit codes: 0 sent; 100 usage; 111 unable to talk to shutdownd.
 */
import * as path from 'node:path';
import {
  clientRundir, encodeCancel, encodeShutdown, MAX_GRACE_MS, parseShutdownTime, sendRecord, shutdowndFifo,
  ShutdowndUnreachable, ShutdownWhat,
} from '../init/protocol';

const USAGE = 'usage: vigil shutdown [-h|-p|-r|-k] [-t SEC] [--rundir DIR] TIME [MSG...]\n' +
  '       vigil shutdown -c [--rundir DIR] [MSG...]\n' +
  '  TIME: now | [+]MINUTES | HH:MM    -h halt  -p power off  -r reboot  (none: run rc.shutdown only)\n' +
  '  -k only print MSG   -t SEC grace between TERM and KILL (max 300)   -c cancel a planned shutdown\n';

export function run(argv: string[]): number {
  let what: ShutdownWhat = 'S';
  let cancel = false;
  let warnOnly = false;
  let graceMs = 0;
  let rundir: string | undefined;
  let i = 0;
  const bad = (m: string): number => {
    process.stderr.write(`vigil shutdown: ${m}\n${USAGE}`);
    return 100;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (a === '--rundir') {
      if (i + 1 >= argv.length) return bad('--rundir needs a directory');
      rundir = argv[++i];
      continue;
    }
    if (a.startsWith('--rundir=')) {
      rundir = a.slice(9);
      continue;
    }
    if (!a.startsWith('-') || a === '-') break;
    // clustered short options: -rt 5 or -t5
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (c === 'h') what = 'h';
      else if (c === 'p') what = 'p';
      else if (c === 'r') what = 'r';
      else if (c === 'k') warnOnly = true;
      else if (c === 'c') cancel = true;
      else if (c === 'a' || c === 'f' || c === 'F' || c === 'i' || c === 'H' || c === 'P') {
        /* accepted for compatibility with s6-linux-init-shutdown; no effect here */
      } else if (c === 't') {
        let v = a.slice(j + 1);
        if (v === '') {
          if (i + 1 >= argv.length) return bad('-t needs a number of seconds');
          v = argv[++i];
        }
        if (!/^[0-9]+$/.test(v)) return bad(`-t: not a number of seconds: ${v}`);
        graceMs = Math.min(Number(v) * 1000, MAX_GRACE_MS);
        break;
      } else return bad(`unknown option -${c}`);
    }
  }
  const rest = argv.slice(i);
  let record: Buffer;
  let msg: string[];
  if (cancel) {
    record = encodeCancel();
    msg = rest;
  } else {
    if (rest.length === 0) return bad('missing TIME');
    const delay = parseShutdownTime(rest[0]);
    if (delay === null) return bad(`bad TIME: ${rest[0]} (now, [+]MINUTES or HH:MM)`);
    record = encodeShutdown(what, delay, graceMs);
    msg = rest.slice(1);
  }
  if (msg.length) process.stdout.write(`${msg.join(' ')}\n`);
  if (warnOnly) return 0;
  const fifo = shutdowndFifo(path.join(clientRundir(rundir), 'service'));
  try {
    sendRecord(fifo, record);
  } catch (e) {
    const m = e instanceof ShutdowndUnreachable ? e.message : `unable to write to ${fifo}: ${(e as Error).message}`;
    process.stderr.write(`vigil shutdown: fatal: ${m}\n`);
    return 111;
  }
  return 0;
}
