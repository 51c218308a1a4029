/**
 * `vigil svstat [-uwNrpest | -o FIELDS] [-n] DIR`: s6-svstat's output, byte for byte (s6-protocol.md §7).
 * Exit codes: 0 ok, 1 no supervisor holds DIR/supervise/lock, 100 usage, 111 system error.
 * Messages are s6-svstat's with `vigil svstat` as the program name.
 */
import * as fs from 'node:fs';
import { readStatus } from '../formats/status';
import { tainNow } from '../formats/tai64n';
import { Messages, joinS6, supervisorRunning, writeAllSync } from '../formats/svclient';
import { wantsHelp } from '../formats/clientopts';
import { FieldError, MAX_FIELDS, SHORT_FIELDS, parseFields, renderFields, renderHuman } from '../formats/svstat';

const USAGE =
  'vigil svstat [ -uwNrpest | -o up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] servicedir';

const HELP = `usage: ${USAGE}

Print the state of the service supervised at servicedir, as s6-svstat does.
Without options (or with only -n): one human-readable line, e.g.
  up (pid 1234) 5 seconds, ready 4 seconds
  down (signal SIGTERM) 2 seconds, normally up
  -n        print signal numbers instead of names
With fields: their values separated by spaces, in the order given.
  -o LIST   comma-separated field names (a name may be shortened to a prefix):
            up wantedup normallyup ready paused pid exitcode signal signum
            updownsince readysince updownfor readyfor
  -u -w -N -r -p -e -s -t   the same as -o up, wantedup, normallyup, ready, pid, exitcode, signal, updownfor
Exit codes: 0 ok, 1 no supervisor running on servicedir, 100 bad usage, 111 system error.
`;

export function run(argv: string[]): number {
  const msg = new Messages('vigil svstat', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    let numeric = false;
    const fields: string[] = [];
    const parsed = msg.getopt(argv, 'no:uwNrpest');
    for (const o of parsed.opts) {
      if (o.letter === 'n') numeric = true;
      else if (o.letter === 'o') {
        try {
          parseFields(o.arg as string, fields);
        } catch (e) {
          if (e instanceof FieldError) throw msg.fatal(100, e.message);
          throw e;
        }
      } else {
        if (fields.length >= MAX_FIELDS) throw msg.fatal(100, 'too many option fields');
        fields.push(SHORT_FIELDS[o.letter]);
      }
    }
    if (parsed.rest.length === 0) throw msg.usage();
    const dir = parsed.rest[0];

    let running: boolean;
    try {
      running = supervisorRunning(dir);
    } catch (e) {
      throw msg.fatalSys(111, `unable to check ${dir}`, e);
    }
    if (!running) throw msg.fatal(1, `: unable to read status for ${dir}: s6-supervise not running`);
    let status;
    try {
      status = readStatus(dir);
    } catch (e) {
      throw msg.fatalSys(111, `unable to read status for ${dir}`, e);
    }
    const now = tainNow();
    let normallyUp: boolean;
    const downFile = joinS6(dir, 'down');
    try {
      fs.accessSync(downFile, fs.constants.F_OK);
      normallyUp = false;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw msg.fatalSys(111, `unable to access ${downFile}`, e);
      normallyUp = true;
    }
    const inp = { status, normallyUp, now };
    const line = fields.length === 0 ? renderHuman(inp, numeric) : renderFields(inp, fields);
    try {
      writeAllSync(1, line + '\n');
    } catch (e) {
      throw msg.fatalSys(111, 'unable to write to stdout', e);
    }
    return 0;
  } catch (e) {
    return msg.report(e);
  }
}
