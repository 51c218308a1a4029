/**
 * `vigil halt|poweroff|reboot [-f] [--rundir DIR]` (argv[0] is the command name).
 *
 * Without -f: ask vigil init's shutdown daemon (s6-linux-init-shutdownd protocol, s6-protocol.md §10.3) for
 * an immediate halt/poweroff/reboot: one 17-byte record, zero delay, zero grace (the daemon's default).
 * With -f: sync(), then the reboot(2) system call at once (no services stopped, no processes killed), as
 * s6-linux-init-hpr -f. In a PID namespace the kernel turns that into the namespace's end.
 *
 * Exit codes: 0 sent; 100 usage; 111 unable to talk to shutdownd / system call failed.
 */
import { native } from '../sys/native';
import {
  clientRundir, encodeShutdown, sendRecord, shutdowndFifo, ShutdowndUnreachable, ShutdownWhat,
} from '../init/protocol';
import * as path from 'node:path';

const WHAT: Record<string, ShutdownWhat> = { halt: 'h', poweroff: 'p', reboot: 'r' };

function usage(name: string): string {
  return `usage: vigil ${name} [-f] [--rundir DIR]\n` +
    `  ${name} the system through vigil init's shutdown daemon (services stopped, processes killed, filesystems unmounted).\n` +
    `  -f           do not ask the daemon: sync and call reboot(2) at once\n` +
    `  --rundir DIR vigil init's run directory (default $VIGIL_RUNDIR, else /run)\n`;
}

export function run(argv: string[]): number {
  const name = argv[0] ?? 'halt';
  const what = WHAT[name];
  if (!what) {
    process.stderr.write(`vigil: hpr: unknown command name ${name}\n`);
    return 100;
  }
  let force = false;
  let rundir: string | undefined;
  const args = argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-f') force = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(usage(name));
      return 0;
    } else if (a === '--rundir') {
      if (i + 1 >= args.length) {
        process.stderr.write(`vigil ${name}: --rundir needs a directory\n${usage(name)}`);
        return 100;
      }
      rundir = args[++i];
    } else if (a.startsWith('--rundir=')) rundir = a.slice(9);
    else {
      process.stderr.write(`vigil ${name}: unknown option ${a}\n${usage(name)}`);
      return 100;
    }
  }
  if (force) {
    const sh = native();
    const c = sh.constants;
    sh.sync();
    try {
      sh.reboot(what === 'h' ? c.RB_HALT_SYSTEM : what === 'p' ? c.RB_POWER_OFF : c.RB_AUTOBOOT);
    } catch (e) {
      process.stderr.write(`vigil ${name}: fatal: unable to ${name}: ${(e as Error).message}\n`);
      return 111;
    }
    return 0;
  }
  const fifo = shutdowndFifo(path.join(clientRundir(rundir), 'service'));
  try {
    sendRecord(fifo, encodeShutdown(what, 0, 0));
  } catch (e) {
    const msg = e instanceof ShutdowndUnreachable ? e.message : `unable to write to ${fifo}: ${(e as Error).message}`;
    process.stderr.write(`vigil ${name}: fatal: ${msg}\n`);
    return 111;
  }
  return 0;
}
