/**
 * `vigil svscanctl [-zabhitqnN] DIR` (s6-protocol.md §8.3): write the letters, in order, in one write to
 * DIR/.s6-svscan/control. Works against `vigil svscan` and s6-svscan alike.
 * Exit codes: 0 sent, 100 bad usage / nobody listening / broken .s6-svscan, 111 system error.
 */
import { Messages, writeScannerControl } from '../formats/svclient';
import { wantsHelp } from '../formats/clientopts';
import { SVSCANCTL_LETTERS, SVSCANCTL_MAX_COMMANDS } from '../formats/control';

const USAGE = 'vigil svscanctl [ -zabhitqnN ] svscandir';

const HELP = `usage: ${USAGE}

Send commands to the scanner (vigil svscan or s6-svscan) running on svscandir.
  -a  scan now              -h  scan, then stop the supervisors of removed services
  -n  stop the supervisors of removed services (loggers get SIGHUP)   -N  the same, SIGTERM for all
  -t  (or -i) stop everything cleanly, loggers last, and exit          -q  stop everything now
  -b  exit at once without stopping the services                      -z  reap zombies
Exit codes: 0 sent, 100 bad usage or no scanner listening, 111 system error.
`;

export function run(argv: string[]): number {
  const msg = new Messages('vigil svscanctl', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const parsed = msg.getopt(argv, SVSCANCTL_LETTERS);
    let letters = '';
    for (const o of parsed.opts) {
      if (letters.length >= SVSCANCTL_MAX_COMMANDS) throw msg.fatal(100, 'too many commands');
      letters += o.letter;
    }
    if (parsed.rest.length === 0) throw msg.usage();
    const dir = parsed.rest[0];
    writeScannerControl(msg, dir, Buffer.from(letters, 'latin1'));
    return 0;
  } catch (e) {
    return msg.report(e);
  }
}
