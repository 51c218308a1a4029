/**
 * `vigil svok DIR`: exit 0 if a supervisor holds DIR/supervise/lock (fcntl F_GETLK, as s6-svok), 1 if not
 * (or the lock file is missing), 111 on another error, 100 without an argument. Like s6-svok it parses no
 * options: the first argument is the directory, the others are ignored.
 */
import { Messages, supervisorRunning } from '../formats/svclient';
import { wantsHelp } from '../formats/clientopts';

const USAGE = 'vigil svok servicedir';

const HELP = `usage: ${USAGE}

Exit 0 if a supervisor (vigil or s6-supervise) is running on servicedir, 1 if none is.
Exit codes: 0 supervised, 1 not supervised, 100 bad usage, 111 system error.
`;

export function run(argv: string[]): number {
  const msg = new Messages('vigil svok', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    if (argv.length < 1) throw msg.usage();
    const dir = argv[0];
    try {
      return supervisorRunning(dir) ? 0 : 1;
    } catch (e) {
      throw msg.fatalSys(111, `unable to check ${dir}`, e);
    }
  } catch (e) {
    return msg.report(e);
  }
}
